//! A shop's worth of order views written in SQL, for benchmarks of the merchant's list:
//! `orders` orders over the year before now, in every status, two lines each, with
//! receivers and products to search for; and the counts per status beside them.

use sqlx::PgPool;

/// Writes `orders` order views (order `k`'s id ends in `k` in hex) and the shop's counts
/// per status.
pub async fn write(pool: &PgPool, orders: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_views (order_id, user_id, status, lines, total_cents, address, remark,
                                  created_at, expires_at, paid_at, version)
         SELECT ('0191b4a0-0000-7000-8000-' || lpad(to_hex(k), 12, '0'))::uuid,
                'shopper-' || (k % 20000),
                (ARRAY['completed', 'completed', 'completed', 'completed', 'shipped', 'shipped',
                       'paid', 'paid', 'cancelled', 'awaiting_payment', 'refunded',
                       'refunding'])[1 + k % 12],
                jsonb_build_array(
                    jsonb_build_object('product_id', '0191b4a0-0000-7000-8000-000000000001',
                                       'sku_id', '0191b4a0-0000-7000-8000-000000000001',
                                       'name', 'Oolong ' || (k % 200), 'unit_price_cents', 4800,
                                       'quantity', 1),
                    jsonb_build_object('product_id', '0191b4a0-0000-7000-8000-000000000002',
                                       'sku_id', '0191b4a0-0000-7000-8000-000000000002',
                                       'name', '茶杯 ' || (k % 50), 'unit_price_cents', 900,
                                       'quantity', 2)),
                6600,
                jsonb_build_object('name', 'Receiver ' || k, 'phone', '139' || lpad((k % 100000000)::text, 8, '0'),
                                   'province', '浙江', 'city', '杭州', 'district', '西湖',
                                   'detail', k || ' Lake Road'),
                '',
                now() - ((k * 31) % (365 * 86400)) * interval '1 second',
                now(),
                now(),
                3
           FROM generate_series(1, $1) AS k",
    )
    .bind(orders)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO order_status_counts (status, orders)
         SELECT status, count(*) FROM order_views GROUP BY status
         ON CONFLICT (status) DO UPDATE SET orders = excluded.orders",
    )
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE order_views").execute(pool).await?;
    Ok(())
}
