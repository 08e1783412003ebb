//! Login sessions: a short-lived access JWT plus a long-lived, rotating refresh token.
//!
//! A refresh token reads `<session id>.<generation>.<secret>`. Refreshing swaps it for
//! the next generation; presenting an older generation again means a rotated token was
//! stolen or replayed, and the whole session is revoked. Access tokens carry the session
//! id, so logging out (or that revocation) ends them too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{JwtError, JwtKeys, Role, revocations};
use crate::database::DatabaseError;
use crate::secret::Secret;

/// How long an access token lives.
pub const ACCESS_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// How long a session lives without refreshing.
pub const REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long this process trusts that a session it saw active still is: bounds how long
/// a logout in another process takes to reach its access tokens here.
const ACTIVE_CACHE: Duration = Duration::from_secs(5);

/// The tokens a login or refresh hands out.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the refresh token is invalid")]
    Invalid,
    #[error("the session has ended; log in again")]
    Ended,
    #[error("a refresh token was reused; the session is revoked for safety")]
    Reused,
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The sessions of the server, with a short cache of the ones known to be active.
#[derive(Debug)]
pub struct Sessions {
    pool: PgPool,
    active: Mutex<HashMap<Uuid, Instant>>,
}

impl Sessions {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            active: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for `user_id`.
    pub async fn start(
        &self,
        keys: &JwtKeys,
        user_id: &str,
        role: Role,
    ) -> Result<Tokens, SessionError> {
        let session_id = Uuid::new_v4();
        let secret = Secret::generate();
        sqlx::query(
            "INSERT INTO sessions (session_id, user_id, role, generation, refresh_hash, expires_at)
             VALUES ($1, $2, $3, 1, $4, $5)",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(role_name(role))
        .bind(hash(&secret))
        .bind(Utc::now() + REFRESH_TTL)
        .execute(&self.pool)
        .await?;
        tokens(keys, user_id, role, session_id, 1, &secret)
    }

    /// Swaps a refresh token for new tokens (the next generation).
    pub async fn refresh(
        &self,
        keys: &JwtKeys,
        refresh_token: &str,
    ) -> Result<Tokens, SessionError> {
        let (session_id, generation, secret) = parse(refresh_token).ok_or(SessionError::Invalid)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT user_id, role, generation, refresh_hash, previous_refresh_hash,
                    revoked_at IS NOT NULL OR expires_at < now() AS ended
               FROM sessions WHERE session_id = $1 FOR UPDATE",
        )
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(SessionError::Invalid)?;
        if row.try_get::<bool, _>("ended")? {
            return Err(SessionError::Ended);
        }
        let current: i32 = row.try_get("generation")?;
        let previous: Option<Vec<u8>> = row.try_get("previous_refresh_hash")?;
        // Only the token the last rotation replaced proves reuse: a session id and a
        // generation are no secret, so anything else is merely invalid.
        if generation == current - 1 && previous.is_some_and(|previous| previous == hash(&secret)) {
            sqlx::query(
                "UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh token reused'
                  WHERE session_id = $1",
            )
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.forget(session_id);
            return Err(SessionError::Reused);
        }
        let stored: Vec<u8> = row.try_get("refresh_hash")?;
        if generation != current || stored != hash(&secret) {
            return Err(SessionError::Invalid);
        }
        let user_id: String = row.try_get("user_id")?;
        let role = if row.try_get::<String, _>("role")? == "admin" {
            Role::Admin
        } else {
            Role::User
        };
        let next = Secret::generate();
        sqlx::query(
            "UPDATE sessions SET generation = $2, refresh_hash = $3, refreshed_at = now(),
                    expires_at = $4, previous_refresh_hash = refresh_hash
              WHERE session_id = $1",
        )
        .bind(session_id)
        .bind(current + 1)
        .bind(hash(&next))
        .bind(Utc::now() + REFRESH_TTL)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tokens(keys, &user_id, role, session_id, current + 1, &next)
    }

    /// Ends a session: its refresh token and its access tokens stop working.
    pub async fn revoke(&self, session_id: Uuid, reason: &str) -> Result<(), SessionError> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = $2
              WHERE session_id = $1 AND revoked_at IS NULL",
        )
        .bind(session_id)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        self.forget(session_id);
        Ok(())
    }

    /// Lists the token `token_id` (an operator's, a console link's) as revoked for
    /// `reason`. True when it was not listed yet.
    pub async fn revoke_token(&self, token_id: &str, reason: &str) -> Result<bool, DatabaseError> {
        Ok(revocations::revoke(&self.pool, token_id, reason).await?)
    }

    /// Why the token `token_id` was revoked, if it was.
    pub async fn token_revocation(&self, token_id: &str) -> Result<Option<String>, DatabaseError> {
        Ok(revocations::revocation(&self.pool, token_id).await?)
    }

    /// Whether the session is neither revoked nor expired.
    pub async fn is_active(&self, session_id: Uuid) -> Result<bool, DatabaseError> {
        if self
            .active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&session_id)
            .is_some_and(|seen| seen.elapsed() < ACTIVE_CACHE)
        {
            return Ok(true);
        }
        let active: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE session_id = $1
                              AND revoked_at IS NULL AND expires_at > now())",
        )
        .bind(session_id)
        .fetch_one(&self.pool)
        .await?;
        let mut cache = self
            .active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if active {
            if cache.len() > 100_000 {
                cache.retain(|_, seen| seen.elapsed() < ACTIVE_CACHE);
            }
            cache.insert(session_id, Instant::now());
        }
        Ok(active)
    }

    fn forget(&self, session_id: Uuid) {
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&session_id);
    }
}

fn tokens(
    keys: &JwtKeys,
    user_id: &str,
    role: Role,
    session_id: Uuid,
    generation: i32,
    secret: &Secret,
) -> Result<Tokens, SessionError> {
    Ok(Tokens {
        access_token: keys.issue_for_session(user_id, role, ACCESS_TTL, session_id)?,
        refresh_token: format!("{session_id}.{generation}.{}", secret.expose()),
        token_type: "Bearer",
        expires_in: ACCESS_TTL.as_secs(),
    })
}

fn parse(token: &str) -> Option<(Uuid, i32, Secret)> {
    let mut parts = token.splitn(3, '.');
    let session_id = Uuid::parse_str(parts.next()?).ok()?;
    let generation = parts.next()?.parse().ok()?;
    let secret = parts.next().filter(|s| !s.is_empty())?;
    Some((session_id, generation, Secret::new(secret)))
}

fn hash(secret: &Secret) -> Vec<u8> {
    Sha256::digest(secret.expose().as_bytes()).to_vec()
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::User => "user",
    }
}
