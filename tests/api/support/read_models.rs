//! Every read model, whole, as the live tables hold it and as a blue/green rebuild from
//! position zero makes it: equal after any run.

use projections::Projector;
use projections::rebuild::rebuild;
use serde_json::Value;
use sqlx::PgPool;

use super::TestApp;

/// Every read model table, whole, in a stable order.
pub async fn read_models(pool: &PgPool) -> Vec<Vec<Value>> {
    let mut tables = Vec::new();
    for (table, key) in [
        ("product_catalog", "product_id"),
        ("daily_sales", "day"),
        ("order_views", "order_id"),
        ("order_counts", "user_id, status"),
        ("payment_ledger", "kind, reference"),
        ("product_skus", "sku_id"),
        ("order_status_counts", "status"),
        ("after_sales", "after_sale_id"),
    ] {
        let rows: Vec<Value> =
            sqlx::query_scalar(&format!("SELECT to_jsonb(t) FROM {table} t ORDER BY {key}"))
                .fetch_all(pool)
                .await
                .expect("read table");
        tables.push(rows);
    }
    tables
}

/// Every read model as a blue/green rebuild from position zero makes it.
pub async fn rebuilt(app: &TestApp) -> Vec<Vec<Value>> {
    let projector = Projector::new(app.pool.clone(), projections::all());
    for name in [
        "after_sales",
        "catalog",
        "daily_sales",
        "orders",
        "payments",
    ] {
        rebuild(&projector, name, |_| {}).await.expect("rebuild");
    }
    read_models(&app.pool).await
}
