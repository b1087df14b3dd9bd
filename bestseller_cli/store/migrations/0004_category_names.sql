-- Category names, one row per marketplace and category: Keepa's categoryTree names only the
-- product's main browse path, so names of other ranked categories come from /category lookups.
-- Names rarely change; fetched_at says when a name was last confirmed (refreshed monthly).
-- source: 'tree' (a product's categoryTree) or 'lookup' (Keepa's /category).

CREATE TABLE category_names (
    marketplace  text NOT NULL,
    category_id  bigint NOT NULL,
    name         text NOT NULL,
    source       text NOT NULL CHECK (source IN ('tree', 'lookup')),
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (marketplace, category_id)
);
