-- "Closing in on #1": a rule may ask to hear when a tracked product enters or leaves ranks
-- 2..N of a category (0: not asked); in the product's main category only with top_n_main.
ALTER TABLE notification_rules
    ADD COLUMN top_n integer NOT NULL DEFAULT 0 CHECK (top_n = 0 OR top_n BETWEEN 2 AND 100),
    ADD COLUMN top_n_main boolean NOT NULL DEFAULT false;
