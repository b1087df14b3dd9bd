-- Keepa as it really answers: what kind of product Keepa says an ASIN is, how old its data is,
-- and when Keepa saw the product behind each change.
--
-- product_type: Keepa's productType (0 standard, 1 downloadable, 2 ebook, 3 unaccessible,
--   4 invalid or deprecated ASIN, 5 variation parent without rank data).
-- variation_asins: a variation parent's children (Keepa's variationCSV): the ASINs to track.
-- ranks_changed_at: the newest point of any rank series. Keepa keeps a point until the rank
--   changes, so this can be months older than keepa_updated_at (when Keepa last looked).
ALTER TABLE asin_current_state
    ADD COLUMN product_type smallint,
    ADD COLUMN variation_asins text[] NOT NULL DEFAULT '{}',
    ADD COLUMN ranks_changed_at timestamptz;

-- When Keepa last looked at the product (its lastUpdate) as of the change: an alert says so
-- when that is more than an hour older than the pass that detected it.
ALTER TABLE bestseller_changes
    ADD COLUMN keepa_seen_at timestamptz;

-- A /category answer that leaves an id out means Keepa has no name for it: kept as a row
-- with name NULL, so the next pass does not ask again until the monthly refresh.
ALTER TABLE category_names ALTER COLUMN name DROP NOT NULL;
