-- Optional holder lookup (KEEPA_BESTSELLERS_LOOKUP): for a loss no tracked product explains,
-- the first ASIN of Keepa's daily best seller list of that category, asked once per pass.
-- A row is written even when the list is empty, so a resumed pass does not pay twice.

CREATE TABLE keepa_best_seller_lists (
    run_id           bigint NOT NULL REFERENCES check_runs (id) ON DELETE CASCADE,
    marketplace      text NOT NULL,
    category_id      bigint NOT NULL,
    holder_asin      text CHECK (holder_asin ~ '^[A-Z0-9]{10}$'),
    list_updated_at  timestamptz,
    tokens_consumed  integer,
    fetched_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, marketplace, category_id)
);

-- "Who holds #1 in this category now?" (the alert's new holder, the lookup's unexplained
-- losses) needs an index: `badges ? category` could only use a GIN index on jsonb, which
-- the planner skips for want of statistics on jsonb keys, scanning every tracked ASIN per
-- alert (30 ms each at 100k ASINs). An array keeps per-element statistics. fastupdate off:
-- every pass rewrites these rows, and a pending list would be scanned by each lookup.
ALTER TABLE asin_current_state
    ADD COLUMN badge_category_ids bigint[] NOT NULL DEFAULT '{}';
UPDATE asin_current_state
SET badge_category_ids = ARRAY(SELECT key::bigint FROM jsonb_object_keys(badges) AS key)
WHERE badges <> '{}';
CREATE INDEX asin_current_state_badge_categories_idx
    ON asin_current_state USING gin (badge_category_ids) WITH (fastupdate = off);
