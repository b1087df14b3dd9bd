-- Operations conditions: what keeps the job from doing its job (Keepa refusing the key, a
-- gap between passes, ...). One row per occurrence, open until a pass finds it cleared.
-- `passes` counts the passes that found it; the Slack message (the outbox row with
-- ops_event 'raised') is updated in place while it lasts: `shown_text` is what it says now.

CREATE TABLE ops_conditions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,
    subject       text NOT NULL DEFAULT '',  -- tells apart several of a kind (a channel)
    headline      text NOT NULL,
    effect        text NOT NULL,
    fix           text NOT NULL,
    opened_at     timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    closed_at     timestamptz,
    passes        integer NOT NULL DEFAULT 1 CHECK (passes > 0),
    opened_run_id bigint REFERENCES check_runs (id) ON DELETE SET NULL,
    shown_text    text
);
CREATE UNIQUE INDEX ops_conditions_open_idx ON ops_conditions (kind, subject)
    WHERE closed_at IS NULL;
CREATE INDEX ops_conditions_time_idx ON ops_conditions (opened_at);

-- Operations posts go through the outbox like alerts, so each is delivered exactly once.
ALTER TABLE notification_log
    ADD COLUMN ops_condition_id bigint REFERENCES ops_conditions (id) ON DELETE CASCADE,
    ADD COLUMN ops_event text CHECK (ops_event IN ('raised', 'resolved')),
    ADD CONSTRAINT notification_log_ops_check
        CHECK ((ops_condition_id IS NULL) = (ops_event IS NULL)),
    ADD CONSTRAINT notification_log_ops_event_key UNIQUE (ops_condition_id, ops_event);
-- An alert is unique per change and channel; operations rows have no change.
ALTER TABLE notification_log DROP CONSTRAINT notification_log_change_id_channel_key;
CREATE UNIQUE INDEX notification_log_change_channel_idx
    ON notification_log (change_id, channel) NULLS NOT DISTINCT WHERE change_id IS NOT NULL;

-- A pass resumed again and again is a condition of its own.
ALTER TABLE check_runs ADD COLUMN attempts integer NOT NULL DEFAULT 1;
