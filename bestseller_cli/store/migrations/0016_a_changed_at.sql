-- Every change Keepa recorded (issue 25): a check walks each rank series since the check
-- before, so one check can find several changes of one badge (gained at 09:12, lost at
-- 09:40), each at the time of Keepa's point. changed_at is that time; detected_at stays when
-- our check saw it. Changes recorded before this walk happened when they were seen.
ALTER TABLE bestseller_changes ADD COLUMN changed_at timestamptz;
UPDATE bestseller_changes SET changed_at = detected_at;
ALTER TABLE bestseller_changes ALTER COLUMN changed_at SET NOT NULL;

-- One row per change, as before, now several per category and run.
ALTER TABLE bestseller_changes
    DROP CONSTRAINT bestseller_changes_asin_marketplace_category_id_run_id_key;
CREATE UNIQUE INDEX bestseller_changes_once_idx
    ON bestseller_changes (asin, marketplace, category_id, run_id, changed_at, kind);

-- The story of an alert and the report read changes by when they happened.
CREATE INDEX bestseller_changes_changed_idx ON bestseller_changes (changed_at);
CREATE INDEX bestseller_changes_badge_changed_idx
    ON bestseller_changes (asin, marketplace, category_id, kind, changed_at);
CREATE INDEX bestseller_changes_category_changed_idx
    ON bestseller_changes (marketplace, category_id, kind, changed_at);
-- Their detected_at twins (0009) have no reader left.
DROP INDEX bestseller_changes_badge_kind_idx;
DROP INDEX bestseller_changes_category_kind_idx;
