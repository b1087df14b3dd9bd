-- Category watch (issue 34): who holds #1 in a category, tracked or not, from Keepa's
-- best seller list by sub-category rank (`/bestsellers?sublist=1`, 50 tokens a list).

-- A watched category, checked every `every_hours` (at least 1 h: Keepa caches a list for up
-- to an hour). next_check_at NULL: due at the next run. top_asins: the head of the last list,
-- best first (as many as the top N asks, at least the #1); list_updated_at: that list's
-- lastUpdate. empty_answers: lists in a row Keepa answered without (an empty answer costs
-- nothing; the first one is a warning). tokens_per_list: the last list's tokensConsumed
-- (NULL: not measured yet, 50 assumed). A client's removal leaves the watch to the defaults.
CREATE TABLE watched_categories (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    marketplace      text NOT NULL CHECK (marketplace IN
                     ('com', 'co.uk', 'de', 'fr', 'co.jp', 'ca', 'it', 'es', 'in', 'com.mx', 'com.br')),
    category_id      bigint NOT NULL CHECK (category_id > 0),
    client_id        bigint REFERENCES clients (id) ON DELETE SET NULL,
    every_hours      real NOT NULL DEFAULT 4 CHECK (every_hours >= 1),
    top_n            integer CHECK (top_n BETWEEN 1 AND 10),
    name             text,
    added_at         timestamptz NOT NULL DEFAULT now(),
    last_checked_at  timestamptz,
    list_updated_at  timestamptz,
    next_check_at    timestamptz,
    empty_answers    integer NOT NULL DEFAULT 0 CHECK (empty_answers >= 0),
    top_asins        text[] NOT NULL DEFAULT '{}',
    tokens_per_list  integer CHECK (tokens_per_list >= 0),
    UNIQUE (marketplace, category_id)
);

-- Who held #1 of a watched category: one row per stretch, not per list. held_from is the
-- lastUpdate of the first list that showed the ASIN at #1; held_until that of the first
-- list that showed another (NULL while it holds it). Kept after an unwatch, for the report.
CREATE TABLE category_holders (
    marketplace  text NOT NULL,
    category_id  bigint NOT NULL,
    asin         text NOT NULL CHECK (asin ~ '^[A-Z0-9]{10}$'),
    held_from    timestamptz NOT NULL,
    held_until   timestamptz CHECK (held_until >= held_from),
    PRIMARY KEY (marketplace, category_id, held_from)
);
CREATE UNIQUE INDEX category_holders_current_idx
    ON category_holders (marketplace, category_id) WHERE held_until IS NULL;

-- Names of products seen in watched lists that nobody tracks (a /product answer, 1 token
-- each, asked once): an alert names a holder by title.
CREATE TABLE listed_products (
    marketplace  text NOT NULL,
    asin         text NOT NULL CHECK (asin ~ '^[A-Z0-9]{10}$'),
    title        text,
    named_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (marketplace, asin)
);

-- A category's change: "New #1 in <category>" names the holder before (previous_asin); the
-- top-N digest of one category and run lists the products that entered and left its top N
-- (list_moves: [{"asin", "rank_before", "rank_after"}], rank NULL: outside the top N).
ALTER TABLE bestseller_changes
    ADD COLUMN previous_asin text,
    ADD COLUMN list_moves jsonb;
