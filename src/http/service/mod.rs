//! For load balancers and monitoring: `/healthz`, `/readyz` and `/metrics`.

mod health;
pub mod metrics;

pub use health::router;
