//! Test harness: one throwaway PostgreSQL for the whole run, a fresh database per test,
//! the app on port 0, and callers by role (`anon`, `shopper`, `admin`: client.rs).

pub mod audit;
pub mod backups;
pub mod browser;
mod client;
mod database;
mod feed;
pub mod held;
mod ordo_process;
pub mod paying;
pub mod read_models;
pub mod s3;
mod test_app;
pub mod wechat;
pub mod wechat_pay;

pub use client::{Answer, Client, form};
pub use database::{database_url, fresh_database};
pub use feed::{eventually, read_feed_until, settle};
pub use ordo_process::{free_port, serve_command, start_ordo, stop_ordo, wait_until_healthy};
pub use paying::beijing_today;
pub use test_app::{
    BACKUP_KEY, TestApp, address, spawn_app, spawn_app_on, spawn_app_with, start, timing_out_after,
};
pub use wechat_pay::{FakeWeChatPay, NoticeOptions, RefundAnswer, dev_mode_settings};
