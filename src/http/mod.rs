//! The HTTP interface, grouped by who calls it: `shop/` (the mini program), `admin/`
//! (operators and auditors), `webhooks/` (WeChat Pay's notices), `dev/` (dev mode's
//! simulators) and `service/` (probes and metrics). Around them: `middleware/`, request
//! parsing (`extract/`), answers shared by several routes (`views/`), and the error and
//! envelope types. A route file never imports another route file, and nothing here
//! touches the database but through a service or query (see `layering.rs`).

pub mod admin;
pub mod dev;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod middleware;
pub mod openapi;
mod router;
pub mod schemas;
pub mod service;
pub mod shop;
pub mod views;
pub mod webhooks;

pub use router::{MAX_BODY_BYTES, api, router};

/// Where operators' endpoints live: only an operator's token gets past their first
/// check (a 403 for any other).
pub const ADMIN_PREFIX: &str = "/api/v1/admin/";
