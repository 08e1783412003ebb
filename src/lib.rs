//! ordo: an event-sourced CQRS order system for mini-program shops.
//!
//! The write model lives in the `aggregates` crate, the read models in `projections`;
//! this crate is the server around them: configuration, the event store adapter, the
//! embedded PostgreSQL, HTTP and the CLI.

pub mod audit;
pub mod auth;
pub mod backup;
pub mod beijing;
pub mod bench;
pub mod cli;
pub mod client_deadlines;
pub mod commands;
pub mod config;
pub mod console;
pub mod database;
pub mod embedded_postgres;
pub mod event_store;
pub mod feed_horizon;
pub mod http;
pub mod idempotency;
pub mod media;
pub mod metrics;
pub mod order_export;
pub mod payments;
pub mod platform;
pub mod rate_limit;
pub mod reads;
pub mod retention;
pub mod secret;
pub mod server;
pub mod state;
pub mod tls;
pub mod wechat;
pub mod wechat_pay;
pub mod wechat_pay_simulator;
pub mod wechat_simulator;
pub mod write;

#[cfg(test)]
mod layering;
