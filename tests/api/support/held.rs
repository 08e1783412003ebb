//! Transactions held open beside the app, as operators and other programs leave them:
//! what the feed's horizon must pass (a bystander) or wait for (an append).

use sqlx::{Connection, PgConnection};

/// A transaction that holds a transaction id and does nothing else, as a forgotten
/// `BEGIN; SELECT pg_current_xact_id();` in psql does. Ends (rolled back) when dropped.
pub struct HeldTransaction {
    pub conn: PgConnection,
    pub pid: i32,
    pub since: tokio::time::Instant,
}

impl HeldTransaction {
    pub async fn on(url: &str) -> Self {
        let mut conn = PgConnection::connect(url).await.expect("connect");
        // Whatever limit the database sets, this one stays (as a careless client's may).
        sqlx::query("SET idle_in_transaction_session_timeout = 0")
            .execute(&mut conn)
            .await
            .expect("no idle limit");
        sqlx::query("BEGIN")
            .execute(&mut conn)
            .await
            .expect("begin");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .expect("pid");
        sqlx::query("SELECT pg_current_xact_id()")
            .execute(&mut conn)
            .await
            .expect("take a transaction id");
        Self {
            conn,
            pid,
            since: tokio::time::Instant::now(),
        }
    }
}

/// An append that does not end: a transaction on the database at `url` that has written
/// an event and stays open (the feed's horizon waits for it, as it must). Rolled back
/// when dropped, or by `ROLLBACK` on it.
pub async fn held_append(url: &str) -> PgConnection {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut conn)
        .await
        .expect("begin");
    insert_probe(&mut conn, "held").await;
    conn
}

/// Appends one `Probe` event to the stream `id` on `conn`, as any writer could.
pub async fn insert_probe(conn: &mut PgConnection, id: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata)
         VALUES ('Probe', $1, 1, 'Probed', '1.0', '{}', '{}')",
    )
    .bind(id)
    .execute(conn)
    .await
    .expect("insert an event");
}
