//! Authentication: the JWTs that carry who is calling, and the extractors that read them.

pub mod jwt;
mod jwt_crypto;
pub mod revocations;
pub mod sessions;

pub use jwt::{AccessClaims, JwtError, JwtKeys, Role};
pub use sessions::{SessionError, Sessions, Tokens};
