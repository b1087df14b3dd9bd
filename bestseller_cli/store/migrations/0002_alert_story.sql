-- Alerts that tell the whole story: own products vs tracked competitors, and per-row
-- delivery decisions (digest mode, re-notify window) taken when the alert is queued.

ALTER TABLE tracked_asins
    ADD COLUMN role text NOT NULL DEFAULT 'own' CHECK (role IN ('own', 'competitor'));

ALTER TABLE notification_log
    ADD COLUMN delivery_mode text NOT NULL DEFAULT 'instant'
        CHECK (delivery_mode IN ('instant', 'hourly', 'daily')),
    ADD COLUMN renotify_window_minutes integer NOT NULL DEFAULT 0
        CHECK (renotify_window_minutes >= 0);

-- Flap control looks up the last message sent for the same badge in the same channel.
CREATE INDEX notification_log_sent_idx ON notification_log (channel, sent_at DESC)
    WHERE status = 'sent';
CREATE INDEX bestseller_changes_category_idx
    ON bestseller_changes (marketplace, category_id, detected_at DESC);
