-- Checks timed to Keepa's cache (issue 36): each product's chance of a #1 crossing within
-- the hour (rules/likelihood.py). `crossing_rate` is the history's part of it, carried from
-- check to check (crossings per hour, exponentially weighted); `chance_per_hour` what the
-- schedule spends tokens by; `chance_reason` why, as `asins list` shows it. The counts of
-- fresh and cached answers per pass are kept in check_runs.summary with the run's others.
ALTER TABLE asin_current_state
    ADD COLUMN crossing_rate double precision,
    ADD COLUMN chance_per_hour double precision,
    ADD COLUMN chance_reason text;
