-- Alerts go out as each batch is written. One posted before the other side of its story
-- was known (a loss's new holder, a gain's displaced holder) is updated in place once a
-- later batch or pass finds it: once per message, recorded before Slack is called.
-- story_update: 'awaiting' (posted without it), 'updating' (chat.update claimed; if the
-- process died the next run does it again), 'updated' (done). NULL: nothing to update.
ALTER TABLE notification_log
    ADD COLUMN story_update text CHECK (story_update IN ('awaiting', 'updating', 'updated')),
    ADD COLUMN story_updated_at timestamptz;

-- The open updates are few (messages of the last two hours), however long the log grows.
CREATE INDEX notification_log_story_update_idx ON notification_log (story_update)
    WHERE story_update IN ('awaiting', 'updating');

-- An alert's story asks, per change, for the badge's last gain and last loss before it, and
-- for the category's nearest loss: with `kind` in the key each is the first entry of one
-- index range, however many changes the badge or the category has had.
CREATE INDEX bestseller_changes_badge_kind_idx
    ON bestseller_changes (asin, marketplace, category_id, kind, detected_at);
CREATE INDEX bestseller_changes_category_kind_idx
    ON bestseller_changes (marketplace, category_id, kind, detected_at);
