//! The reconciliations that run by themselves: the days operators asked for, at once,
//! and every morning yesterday's, once WeChat Pay has made its bill (after
//! `ORDO_RECONCILE_AT`, Beijing time) — one server at a time, under an advisory lock
//! held by the session that runs them (a server that dies releases it).

use crate::beijing::BEIJING;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use tokio::sync::watch;

use super::ReconcileError;
use crate::database::DatabaseError;
use crate::payments::Payments;

/// The advisory lock of the server that reconciles.
const LOCK: i64 = 0x006f_7264_6f72_6563; // "ordorec"
/// How often a server looks for days to reconcile.
const EVERY: Duration = Duration::from_secs(2);
/// A server that just started waits this long before reconciling yesterday by itself
/// (a restart loop does not call WeChat Pay each time); asked-for days run at once.
const DAILY_AFTER_START: Duration = Duration::from_secs(60);
/// A day whose run failed is tried again after this long.
const RETRY_FAILED: chrono::Duration = chrono::Duration::hours(1);

impl Payments {
    /// Runs due reconciliations until `stop` turns true.
    pub async fn run_reconciliations(self, mut stop: watch::Receiver<bool>) {
        let started = std::time::Instant::now();
        loop {
            // Waits first: a starting server has its projections to catch up.
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            let daily = started.elapsed() >= DAILY_AFTER_START;
            if let Err(err) = self.reconcile_due(daily).await {
                tracing::warn!(%err, "a reconciliation failed; its report says why");
            }
        }
    }

    /// Runs the days due now (and, when `daily`, yesterday's if it is time), unless
    /// another server is reconciling: how many ran.
    pub async fn reconcile_due(&self, daily: bool) -> Result<usize, ReconcileError> {
        let mut days = self.reports.queued().await?;
        if daily && let Some(yesterday) = self.yesterday_due().await? {
            days.push(yesterday);
        }
        if days.is_empty() {
            return Ok(0);
        }
        let mut session = self.pool.acquire().await.map_err(DatabaseError::from)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK)
            .fetch_one(&mut *session)
            .await
            .map_err(DatabaseError::from)?;
        if !locked {
            return Ok(0);
        }
        let mut ran = 0;
        let mut result = Ok(());
        for day in days {
            match self.reconcile(day).await {
                Ok(report) => {
                    ran += 1;
                    tracing::info!(%day, state = report.state, differences = report.differences.len(),
                        "reconciled with WeChat Pay's bill");
                }
                Err(err) => {
                    ran += 1;
                    result = Err(err);
                }
            }
        }
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK)
            .execute(&mut *session)
            .await
            .map_err(DatabaseError::from)?;
        result.map(|()| ran)
    }

    /// Yesterday (Beijing time), when it is past the hour and its report is missing or
    /// failed more than an hour ago.
    async fn yesterday_due(&self) -> Result<Option<NaiveDate>, ReconcileError> {
        let now = Utc::now().with_timezone(&BEIJING);
        if now.time() < self.checks.reconcile_at {
            return Ok(None);
        }
        let Some(yesterday) = now.date_naive().pred_opt() else {
            return Ok(None);
        };
        let due = match self.reports.of(yesterday).await? {
            None => true,
            Some(report) => {
                report.state == "failed"
                    && report
                        .ran_at
                        .is_none_or(|at| Utc::now() - at >= RETRY_FAILED)
            }
        };
        Ok(due.then_some(yesterday))
    }
}
