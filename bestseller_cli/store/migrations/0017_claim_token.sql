-- Compare-and-set on claims (SUPABASE.md §4: River #1302, pg-boss's claim fencing): each
-- delivery claims outbox rows with a token of its own, and every write after the claim
-- changes a row only while it still carries that token. A delivery that lost its claim
-- (it hung, and the next run settled its rows) changes nothing any more.
ALTER TABLE notification_log ADD COLUMN claim_token text;
