-- How many orders each shopper has in each status: the `total` of `GET /orders`, so a
-- page costs the same for a shopper with 10 orders and one with 100,000 (counting the
-- shopper's order views on every page grew with their history). Kept by the orders
-- projection in the same transaction as the order views, and rebuilt with them.
CREATE TABLE order_counts
(
    user_id text   NOT NULL,
    status  text   NOT NULL,
    orders  bigint NOT NULL,
    PRIMARY KEY (user_id, status)
);

INSERT INTO order_counts (user_id, status, orders)
SELECT user_id, status, count(*) FROM order_views GROUP BY user_id, status;
