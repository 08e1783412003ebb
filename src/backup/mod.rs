//! Backup and restore: a consistent snapshot of everything that cannot be rebuilt (the
//! events, the seals over them, and the security and payment state no event records),
//! written as NDJSON files plus a manifest, and restored into an empty database. Read
//! models are not backed up: a restore rebuilds them from the events. The manifest is
//! signed with the operator's backup key, and a restore takes only a backup it
//! authenticates ([`key`]).

pub mod key;
pub mod manifest;
mod reseal;
pub mod restore;
pub mod take;

/// Tables a backup keeps besides `events` and `audit_seals`, row for row. Each holds state
/// no event records: logins and revocations (security), the payment notices received
/// (money), the answers replayed to retries, and the restores this store came through.
pub const KEPT_TABLES: &[&str] = &[
    "sessions",
    "revoked_tokens",
    "payment_notices",
    // The payments opened at WeChat Pay: what ordo still has to ask about.
    "payment_prepays",
    "idempotency_keys",
    "audit_restores",
    // The daily reconciliations with WeChat Pay's bills (its bills are gone after 3 months).
    "reconciliations",
    "reconciliation_differences",
    // Dev mode's simulated WeChat Pay: its side of the payments (empty elsewhere).
    "dev_wechat_pay_trades",
    "dev_wechat_pay_refunds",
    // The calls made to WeChat (a restore must not make them again) and the shoppers'
    // acceptances of subscribe messages.
    "platform_calls",
    "message_acceptances",
    // Dev mode's simulated WeChat platform: the calls it received (empty elsewhere).
    "dev_wechat_calls",
];

/// Tables a backup leaves out because they are rebuilt or re-made: the migrations' own
/// bookkeeping, aggregate snapshots (a cache of the events), and the projections'
/// checkpoints, parked events and read models (see [`projections::Projection::tables`]).
pub const NOT_KEPT_TABLES: &[&str] = &[
    "_sqlx_migrations",
    "snapshots",
    "projection_checkpoints",
    "projection_parked_events",
    // WeChat's access token (fetched again) and its delivery companies (bundled, and
    // fetched again).
    "wechat_access_tokens",
    "delivery_companies",
];

/// The file a kept table is written to.
pub fn table_file(table: &str) -> String {
    format!("{table}.ndjson")
}

/// The events' file: one line per event in feed order, as `ordo audit export` writes it.
pub const EVENTS_FILE: &str = "events.ndjson";
/// The seals' file, in feed order.
pub const SEALS_FILE: &str = "audit_seals.ndjson";
