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
-- losses) filters asin_current_state by `badges ? category`: without this index a scan of
-- every tracked ASIN per alert (12 ms at 100k ASINs; 0.07 ms with it).
CREATE INDEX asin_current_state_badges_idx ON asin_current_state USING gin (badges);
