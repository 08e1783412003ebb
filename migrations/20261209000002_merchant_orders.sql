-- The merchant's orders (issue 33): every order of the shop by status and time, searched
-- by order id prefix, receiver name or phone, or product name.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Keyset pages, newest first, of the whole shop and of one status.
CREATE INDEX order_views_by_created ON order_views (created_at DESC, order_id DESC);
CREATE INDEX order_views_by_status ON order_views (status, created_at DESC, order_id DESC);

-- What `q` matches besides an id prefix: the receiver's name and phone and every line's
-- product name, lower-cased, in one column a trigram index serves.
ALTER TABLE order_views ADD COLUMN search text GENERATED ALWAYS AS (
    lower(coalesce(address ->> 'name', '') || ' ' || coalesce(address ->> 'phone', '') || ' '
          || jsonb_path_query_array(lines, '$[*].name')::text)
) STORED;
CREATE INDEX order_views_search ON order_views USING gin (search gin_trgm_ops);

-- How many orders the whole shop has in each status (the merchant's tabs: "to ship: 37"),
-- kept by the orders projection beside `order_counts`; a count that reaches zero goes.
CREATE TABLE order_status_counts
(
    status text   NOT NULL PRIMARY KEY,
    orders bigint NOT NULL
);

INSERT INTO order_status_counts (status, orders)
SELECT status, count(*) FROM order_views GROUP BY status;
