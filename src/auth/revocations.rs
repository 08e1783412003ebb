//! Operator tokens revoked before they expire (`ordo token revoke <id>`). They belong to
//! no session, so a list of their ids is what makes one unusable; it stays short, since
//! an id leaves it once any token carrying it has expired (see [`MAX_OPERATOR_TTL`]).

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

/// The longest an operator token may live: `ordo token --ttl` is capped to it, and a
/// session-less token claiming longer is refused.
pub const MAX_OPERATOR_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a token was revoked, in ordo's own words: a sign-out.
pub const SIGNED_OUT: &str = "signed out";

/// Why a sign-in link's token was revoked: it was traded for a console's.
pub const LINK_SPENT: &str =
    "a sign-in link works once, and this one was used; print a new one with `ordo console-url`";

/// Whether `reason` is one of ordo's own, fit to tell whoever holds the token. An
/// operator's own words (`ordo token revoke --reason "laptop lost"`) are not: the holder
/// may be the one who took the laptop.
pub fn is_ordos_own(reason: &str) -> bool {
    reason == SIGNED_OUT || reason == LINK_SPENT
}

/// The id of the console session a sign-in link's token was traded for: derived from
/// the link's, so `ordo token revoke <link id>` ends that session too.
pub fn console_session_id(link_id: &str) -> String {
    format!("{link_id}.console")
}

/// Lists `token_id` as revoked. True when it was not listed yet.
pub async fn revoke(pool: &PgPool, token_id: &str, reason: &str) -> Result<bool, sqlx::Error> {
    let expires_at =
        Utc::now() + chrono::Duration::from_std(MAX_OPERATOR_TTL).unwrap_or(chrono::Duration::MAX);
    let inserted = sqlx::query(
        "INSERT INTO revoked_tokens (token_id, reason, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (token_id) DO NOTHING",
    )
    .bind(token_id)
    .bind(reason)
    .bind(expires_at)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Why `token_id` was revoked, if it is on the list.
pub async fn revocation(pool: &PgPool, token_id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT reason FROM revoked_tokens WHERE token_id = $1")
        .bind(token_id)
        .fetch_optional(pool)
        .await
}
