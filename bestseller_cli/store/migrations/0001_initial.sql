-- bestseller-cli schema, version 1.
-- One ASIN may be tracked in several marketplaces and by several clients; its observed
-- state (ranks, badges, history) belongs to the (asin, marketplace) pair, not the client.

CREATE TABLE clients (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(btrim(name)) > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Exactly one row: the defaults for ASINs no client rule covers.
CREATE TABLE global_notification_settings (
    id                       boolean PRIMARY KEY DEFAULT true CHECK (id),
    slack_channel_id         text,
    notify_gained            boolean NOT NULL DEFAULT true,
    notify_lost              boolean NOT NULL DEFAULT true,
    renotify_window_minutes  integer NOT NULL DEFAULT 120 CHECK (renotify_window_minutes >= 0),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
INSERT INTO global_notification_settings (id) VALUES (true);

CREATE TABLE notification_rules (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id                bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    slack_channel_id         text,
    notify_gained            boolean NOT NULL DEFAULT true,
    notify_lost              boolean NOT NULL DEFAULT true,
    max_main_rank            integer CHECK (max_main_rank > 0),
    ignored_category_ids     bigint[] NOT NULL DEFAULT '{}',
    delivery_mode            text NOT NULL DEFAULT 'instant'
                             CHECK (delivery_mode IN ('instant', 'hourly', 'daily')),
    daily_hour               smallint CHECK (daily_hour BETWEEN 0 AND 23),
    quiet_start              time,
    quiet_end                time,
    timezone                 text NOT NULL DEFAULT 'UTC',
    renotify_window_minutes  integer NOT NULL DEFAULT 120 CHECK (renotify_window_minutes >= 0),
    active                   boolean NOT NULL DEFAULT true,
    created_at               timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    CHECK (delivery_mode <> 'daily' OR daily_hour IS NOT NULL),
    UNIQUE NULLS NOT DISTINCT (client_id, slack_channel_id)
);

CREATE TABLE tracked_asins (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asin         text NOT NULL CHECK (asin ~ '^[A-Z0-9]{10}$'),
    marketplace  text NOT NULL CHECK (marketplace IN
                 ('com', 'co.uk', 'de', 'fr', 'co.jp', 'ca', 'it', 'es', 'in', 'com.mx', 'com.br')),
    client_id    bigint REFERENCES clients (id) ON DELETE CASCADE,
    active       boolean NOT NULL DEFAULT true,
    added_at     timestamptz NOT NULL DEFAULT now(),
    removed_at   timestamptz,
    CHECK (active OR removed_at IS NOT NULL),
    UNIQUE NULLS NOT DISTINCT (asin, marketplace, client_id)
);
CREATE INDEX tracked_asins_active_idx ON tracked_asins (marketplace, asin) WHERE active;
CREATE INDEX tracked_asins_client_idx ON tracked_asins (client_id);

-- One row per pass: lets a pass that died be resumed without spending Keepa tokens twice.
CREATE TABLE check_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'completed', 'partial', 'failed')),
    summary      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX check_runs_started_idx ON check_runs (started_at DESC);

CREATE TABLE asin_current_state (
    asin                text NOT NULL CHECK (asin ~ '^[A-Z0-9]{10}$'),
    marketplace         text NOT NULL,
    available           boolean NOT NULL,
    title               text,
    brand               text,
    image_url           text,
    main_category_id    bigint,
    main_rank           integer CHECK (main_rank > 0),
    -- {"<category id>": {"name": text, "rank": int|null}}; a category Keepa stops reporting
    -- keeps its last known rank (unknown is never "lost").
    category_ranks      jsonb NOT NULL DEFAULT '{}',
    -- {"<category id>": "<ISO time the badge was first seen>"}
    badges              jsonb NOT NULL DEFAULT '{}',
    price_cents         integer,
    rating              numeric(2, 1),
    review_count        integer,
    keepa_updated_at    timestamptz,
    first_seen_at       timestamptz NOT NULL,
    -- When ranks were first known (NULL while Keepa has had no data): before it, every
    -- rank seen is a baseline, not a change.
    baseline_at         timestamptz,
    last_checked_at     timestamptz NOT NULL,
    last_run_id         bigint REFERENCES check_runs (id) ON DELETE SET NULL,
    PRIMARY KEY (asin, marketplace)
);
CREATE INDEX asin_current_state_run_idx ON asin_current_state (last_run_id);

CREATE TABLE asin_history (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asin                text NOT NULL,
    marketplace         text NOT NULL,
    observed_at         timestamptz NOT NULL,
    run_id              bigint REFERENCES check_runs (id) ON DELETE SET NULL,
    available           boolean NOT NULL,
    title               text,
    main_category_id    bigint,
    main_rank           integer,
    category_ranks      jsonb NOT NULL DEFAULT '{}',
    badge_category_ids  bigint[] NOT NULL DEFAULT '{}',
    price_cents         integer,
    rating              numeric(2, 1),
    review_count        integer,
    UNIQUE (asin, marketplace, run_id)
);
CREATE INDEX asin_history_asin_time_idx ON asin_history (asin, marketplace, observed_at DESC);
CREATE INDEX asin_history_time_idx ON asin_history (observed_at);

CREATE TABLE bestseller_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asin           text NOT NULL,
    marketplace    text NOT NULL,
    category_id    bigint NOT NULL,
    category_name  text,
    kind           text NOT NULL CHECK (kind IN ('gained', 'lost')),
    rank_before    integer,
    rank_after     integer,
    main_rank      integer,
    title          text,
    detected_at    timestamptz NOT NULL,
    run_id         bigint REFERENCES check_runs (id) ON DELETE SET NULL,
    UNIQUE (asin, marketplace, category_id, run_id)
);
CREATE INDEX bestseller_changes_time_idx ON bestseller_changes (detected_at);
CREATE INDEX bestseller_changes_asin_idx
    ON bestseller_changes (asin, marketplace, category_id, detected_at DESC);

-- The outbox. A row is written in the same transaction as the change it announces.
-- channel NULL means "the default channel at delivery time" (SLACK_CHANNEL_ID).
CREATE TABLE notification_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_id      bigint REFERENCES bestseller_changes (id) ON DELETE CASCADE,
    client_id      bigint REFERENCES clients (id) ON DELETE SET NULL,
    channel        text,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN
                   ('pending', 'sending', 'sent', 'printed', 'failed', 'suppressed')),
    deliver_after  timestamptz NOT NULL DEFAULT now(),
    attempts       integer NOT NULL DEFAULT 0,
    claimed_at     timestamptz,
    sent_at        timestamptz,
    slack_channel  text,
    slack_ts       text,
    error          text,
    reason         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (change_id, channel)
);
CREATE INDEX notification_log_open_idx ON notification_log (deliver_after)
    WHERE status IN ('pending', 'sending');
CREATE INDEX notification_log_created_idx ON notification_log (created_at);

CREATE TABLE api_usage_log (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    called_at           timestamptz NOT NULL DEFAULT now(),
    run_id              bigint REFERENCES check_runs (id) ON DELETE SET NULL,
    endpoint            text NOT NULL,
    marketplace         text,
    asin_count          integer NOT NULL DEFAULT 0,
    http_status         integer,
    tokens_consumed     integer,
    tokens_left         integer,
    refill_in_ms        integer,
    refill_rate         integer,
    duration_ms         integer NOT NULL,
    estimated_cost_usd  numeric(14, 6)
);
CREATE INDEX api_usage_log_time_idx ON api_usage_log (called_at);

CREATE TABLE error_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    run_id       bigint REFERENCES check_runs (id) ON DELETE SET NULL,
    source       text NOT NULL,
    kind         text NOT NULL,
    message      text NOT NULL,
    asin         text,
    marketplace  text,
    context      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX error_log_time_idx ON error_log (occurred_at);
