-- "Closing in on #1" for ASINs no client rule covers: `settings set top_n N` (0: not asked).
ALTER TABLE global_notification_settings
    ADD COLUMN top_n integer NOT NULL DEFAULT 0 CHECK (top_n = 0 OR top_n BETWEEN 2 AND 100),
    ADD COLUMN top_n_main boolean NOT NULL DEFAULT false;
