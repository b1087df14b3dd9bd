-- Check what is due, most urgent first (issue 25): each check says when the ASIN is due
-- next and why (rules/schedule.py); a run reads the ASINs due by then. NULL (never checked
-- since this schedule): due at the next run. No index: the column changes at every check,
-- and an index on it would take the row's updates off the heap-only path (0005); the work
-- list reads the table whole, once per run.
ALTER TABLE asin_current_state
    ADD COLUMN next_check_at timestamptz,
    ADD COLUMN check_reason text;
