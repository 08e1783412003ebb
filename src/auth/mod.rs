//! Authentication: the JWTs that carry who is calling.

pub mod jwt;

pub use jwt::{AccessClaims, JwtError, JwtKeys, Role};
