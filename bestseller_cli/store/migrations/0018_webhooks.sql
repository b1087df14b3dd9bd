-- A rule may send its alerts to a signed webhook (Standard Webhooks 1.0) as well as, or
-- instead of, a Slack channel. The URL is a secret (Zapier, Make and n8n put the key in
-- the path): it is read only to send, and never printed whole. https only, except http
-- to a loopback address (tests); the CLI checks it the same way as KEEPA_API_URL.
ALTER TABLE notification_rules ADD COLUMN webhook_url text
    CHECK (webhook_url ~ '^https?://');
