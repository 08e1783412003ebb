//! Reconciling a day with WeChat Pay's bill: the bill (all payments and refunds of the
//! day, Beijing time) compared line by line with the log's payments read model.
//!
//! - `compare`: the line-by-line comparison;
//! - `run`: one run (download, compare, record what the log lacks, keep the report);
//! - `reports`: the kept reports, one per day;
//! - `daily`: the runs that happen by themselves (asked-for days, yesterday's).

pub mod compare;
mod daily;
pub mod reports;
mod run;

pub use compare::{Comparison, Difference, LedgerEntry, Side, compare};
pub use reports::{Reconciliation, ReconciliationDay, ReconciliationDifference, Reports};
pub use run::ReconcileError;
