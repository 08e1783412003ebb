//! A large synthetic event log written straight in SQL (products, their stock, and
//! orders each reserving one unit, as the write path would have written them): what the
//! rebuild benchmark replays. Never used on a shop's database.

use sqlx::PgPool;

/// How many events the log holds.
pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
}

/// Writes `products` products with a million units each, and `orders` orders each
/// reserving one unit, in a few set-based statements; ids are deterministic.
pub async fn write_history(pool: &PgPool, products: i64, orders: i64) -> Result<(), sqlx::Error> {
    let product_id = "('00000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))";
    sqlx::query(&format!(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         SELECT 'Product', {product_id}, 1, 'ProductCreated', '1',
                json_build_object('ProductCreated', json_build_object('name', 'product ' || p,
                    'description', '', 'category', 'bench', 'price_cents', 100 + p)), '{{}}'::json
           FROM generate_series(1, {products}) p
         UNION ALL
         SELECT 'Stock', {product_id}, 1, 'StockAdded', '1',
                json_build_object('StockAdded', json_build_object('quantity', 1000000,
                    'reason', 'initial stock')), '{{}}'::json
           FROM generate_series(1, {products}) p"
    ))
    .execute(pool)
    .await?;
    // Orders in chunks, so that the log has many transactions, as real traffic would.
    let chunk = 50_000;
    let mut first = 0;
    while first < orders {
        let last = (first + chunk).min(orders);
        sqlx::query(&format!(
            "WITH o AS (
                SELECT k, 1 + k % {products} AS p,
                       ('00000000-0000-4000-9000-' || lpad(to_hex(k), 12, '0')) AS order_id,
                       timestamptz '2026-11-01' + k * interval '1 second' AS placed_at
                  FROM generate_series($1::bigint, $2::bigint - 1) k)
             INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata)
             SELECT * FROM (
                SELECT 'Order', order_id, 1::bigint, 'OrderPlaced', '1',
                       json_build_object('OrderPlaced', json_build_object(
                           'user_id', 'user-' || (k % 5000),
                           'lines', json_build_array(json_build_object(
                               'product_id', {product_id}, 'name', 'product ' || p,
                               'unit_price_cents', 100 + p, 'quantity', 1)),
                           'total_cents', 100 + p,
                           'address', json_build_object('name', 'n', 'phone', '1',
                               'province', 'p', 'city', 'c', 'district', 'd', 'detail', 'x'),
                           'remark', '', 'placed_at', placed_at,
                           'expires_at', placed_at + interval '15 minutes')), '{{}}'::json
                  FROM o
                UNION ALL
                SELECT 'Stock', {product_id}, 2 + k / {products}, 'StockReserved', '1',
                       json_build_object('StockReserved', json_build_object(
                           'order_id', order_id, 'quantity', 1)), '{{}}'::json
                  FROM o) rows"
        ))
        .bind(first)
        .bind(last)
        .execute(pool)
        .await?;
        first = last;
    }
    Ok(())
}
