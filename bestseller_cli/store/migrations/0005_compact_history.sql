-- History that costs kilobytes (issue 15). asin_history wrote one wide row per ASIN per pass,
-- category names repeated in jsonb: ~24 KB per ASIN per day. It is replaced by:
--   asin_checks   one row per written batch: the checked ASINs, their main rank and how many
--                 #1 badges each held, as parallel arrays (a few bytes per ASIN per check);
--   rank_points   a point per change of a category rank (Keepa's own convention), for every
--                 category but the product's main one (whose rank moves every pass and is in
--                 asin_checks.main_ranks);
--   asin_details  a point per change of availability, title, main category, price, rating or
--                 review count;
--   check_spans   what `bestseller prune` keeps of checks older than HISTORY_RETENTION_DAYS:
--                 runs of consecutive checks with the same badge status, cut at UTC midnight.
-- Names live in category_names. Nothing here rewrites a table: the old asin_history rows are
-- converted in short batches by `bestseller prune` (retention.py), and the views below read
-- them alongside the new tables until then, so every report stays whole meanwhile.

CREATE TABLE asin_checks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        bigint REFERENCES check_runs (id) ON DELETE SET NULL,
    marketplace   text NOT NULL,
    observed_at   timestamptz NOT NULL,
    asins         text[] NOT NULL,
    -- NULL once pruned: reports past the retention window do not need it.
    main_ranks    integer[],
    -- #1 badges held at the check; an element is NULL when Keepa had no data for the ASIN.
    badge_counts  smallint[] NOT NULL,
    CHECK (cardinality(asins) = cardinality(badge_counts))
);
CREATE INDEX asin_checks_time_idx ON asin_checks (observed_at);

CREATE TABLE rank_points (
    asin         text NOT NULL,
    marketplace  text NOT NULL,
    category_id  bigint NOT NULL,
    observed_at  timestamptz NOT NULL,
    rank         integer,  -- NULL: listed in the category but not ranked
    PRIMARY KEY (asin, marketplace, category_id, observed_at)
);

CREATE TABLE asin_details (
    asin              text NOT NULL,
    marketplace       text NOT NULL,
    observed_at       timestamptz NOT NULL,
    available         boolean NOT NULL,
    title             text,
    main_category_id  bigint,
    price_cents       integer,
    rating            numeric(2, 1),
    review_count      integer,
    PRIMARY KEY (asin, marketplace, observed_at)
);

CREATE TABLE check_spans (
    asin         text NOT NULL,
    marketplace  text NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,  -- the span's last check
    checks       integer NOT NULL CHECK (checks > 0),
    holding      boolean,  -- held a #1 badge; NULL: Keepa had no data
    PRIMARY KEY (asin, marketplace, started_at)
);

-- Every check, one row each: new batches, and old asin_history rows not converted yet.
CREATE VIEW history_checks AS
SELECT u.asin, c.marketplace, c.observed_at, c.run_id, u.main_rank, u.badges
FROM asin_checks c
CROSS JOIN LATERAL unnest(c.asins, c.main_ranks, c.badge_counts) AS u(asin, main_rank, badges)
UNION ALL
SELECT h.asin, h.marketplace, h.observed_at, h.run_id, h.main_rank,
       CASE WHEN h.available THEN cardinality(h.badge_category_ids)::smallint END
FROM asin_history h;

-- The pass rewrites every asin_current_state row. Without an index on a column that changes
-- each pass (last_run_id's was used by nothing), the update is HOT and the old row versions
-- are reclaimed within their page, with room left there for the new ones.
DROP INDEX asin_current_state_run_idx;
ALTER TABLE asin_current_state SET (fillfactor = 70);
