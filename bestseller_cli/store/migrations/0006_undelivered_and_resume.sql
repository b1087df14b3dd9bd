-- Alerts Slack refused are kept for another try, not failed for good:
--   refused  Slack refused the message (revoked token, unknown channel, bot not invited, ...);
--            every delivery retries it until it goes out or expires.
--   expired  not delivered within ALERT_EXPIRY_DAYS; `reason` says why, `error` the last error.
-- 'failed' (the old final state) is gone: such rows get another chance, or expire.
UPDATE notification_log SET status = 'refused' WHERE status = 'failed';
ALTER TABLE notification_log DROP CONSTRAINT notification_log_status_check;
ALTER TABLE notification_log ADD CONSTRAINT notification_log_status_check CHECK (status IN
    ('pending', 'sending', 'sent', 'printed', 'refused', 'expired', 'suppressed'));
DROP INDEX notification_log_open_idx;
CREATE INDEX notification_log_open_idx ON notification_log (deliver_after)
    WHERE status IN ('pending', 'sending', 'refused');

-- A pass limited by --asin or --client: never resumed by, and never completing, a full pass.
ALTER TABLE check_runs ADD COLUMN filtered boolean NOT NULL DEFAULT false;

-- Passes in a row whose Keepa answer left this ASIN out; at KEEPA_MISSING_PASSES_UNKNOWN
-- it becomes unknown (available = false). Reset by the next answer that includes it.
ALTER TABLE asin_current_state ADD COLUMN missing_passes integer NOT NULL DEFAULT 0;
