//! Signing and verifying access tokens (HS256 JWTs).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secret::Secret;

/// What a token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A shopper of the mini program.
    User,
    /// An operator or auditor: the admin routes.
    Admin,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The subject: a user id, or an operator's name for admin tokens.
    pub sub: String,
    pub role: Role,
    /// Token id, so a token can be revoked on its own.
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The login session the token belongs to; none for operator tokens from the CLI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<uuid::Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the token is expired")]
    Expired,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("could not sign the token: {0}")]
    Signing(String),
}

/// The keys derived from the server's JWT secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(***)")
    }
}

impl JwtKeys {
    pub fn new(secret: &Secret) -> Self {
        super::jwt_crypto::install();
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
        }
    }

    /// A signed token for `sub` with `role`, valid for `ttl` from now, outside any
    /// session (operator tokens from the CLI).
    pub fn issue(&self, sub: &str, role: Role, ttl: Duration) -> Result<String, JwtError> {
        Ok(self.issue_with_id(sub, role, ttl)?.0)
    }

    /// Like [`JwtKeys::issue`], with the token's id (its `jti`, what revokes it).
    pub fn issue_with_id(
        &self,
        sub: &str,
        role: Role,
        ttl: Duration,
    ) -> Result<(String, String), JwtError> {
        let id = Uuid::new_v4().to_string();
        Ok((self.sign(sub, role, ttl, None, id.clone())?, id))
    }

    /// Like [`JwtKeys::issue`], with the id given (a token derived from another).
    pub fn issue_as(
        &self,
        sub: &str,
        role: Role,
        ttl: Duration,
        id: String,
    ) -> Result<String, JwtError> {
        self.sign(sub, role, ttl, None, id)
    }

    /// A signed token of the login session `session_id`: it stops working when the
    /// session is revoked.
    pub fn issue_for_session(
        &self,
        sub: &str,
        role: Role,
        ttl: Duration,
        session_id: Uuid,
    ) -> Result<String, JwtError> {
        self.sign(sub, role, ttl, Some(session_id), Uuid::new_v4().to_string())
    }

    fn sign(
        &self,
        sub: &str,
        role: Role,
        ttl: Duration,
        sid: Option<Uuid>,
        jti: String,
    ) -> Result<String, JwtError> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: sub.to_owned(),
            role,
            jti,
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            sid,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|err| JwtError::Signing(err.to_string()))
    }

    /// The claims of a token this server signed and that has not expired. Only HS256 is
    /// accepted, so `alg: none` or a public-key algorithm is refused.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid(err.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(&Secret::new(secret))
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let keys = keys("a-secret-of-at-least-thirty-two-bytes!!");
        let token = keys
            .issue("ops", Role::Admin, Duration::from_secs(60))
            .expect("sign");
        let claims = keys.verify(&token).expect("verify");
        assert_eq!((claims.sub.as_str(), claims.role), ("ops", Role::Admin));
        assert_eq!(claims.exp - claims.iat, 60);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let token = keys("one-secret-of-at-least-thirty-two-bytes")
            .issue("u", Role::User, Duration::from_secs(60))
            .expect("sign");
        let err = keys("another-secret-of-at-least-thirty-two-b")
            .verify(&token)
            .expect_err("wrong key");
        assert!(matches!(err, JwtError::Invalid(_)), "{err:?}");
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let keys = keys("a-secret-of-at-least-thirty-two-bytes!!");
        let token = keys.issue("u", Role::User, Duration::ZERO).expect("sign");
        std::thread::sleep(Duration::from_millis(1100));
        assert!(matches!(keys.verify(&token), Err(JwtError::Expired)));
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        // {"alg":"none","typ":"JWT"} . {"sub":"u","role":"admin","jti":"x","iat":0,"exp":9999999999} .
        let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1Iiwicm9sZSI6ImFkbWluIiwianRpIjoieCIsImlhdCI6MCwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(
            keys("a-secret-of-at-least-thirty-two-bytes!!")
                .verify(token)
                .is_err()
        );
    }
}
