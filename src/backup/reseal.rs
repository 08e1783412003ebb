//! Seals in a restore: each backup seal checked against the hash chain over the backup's
//! positions, and the same events sealed again over the positions they get here.

use std::io::BufRead;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;

use super::restore::{RestoreError, reset_identity};
use super::{EVENTS_FILE, SEALS_FILE};
use crate::audit::hash::{ZERO, hex};
use crate::audit::import::Imported;
use crate::audit::sealer::link;
use event_log::FeedPosition;

/// A seal as the backup holds it.
#[derive(Debug, Deserialize)]
struct SealLine {
    seal_id: i64,
    transaction_id: i64,
    global_position: i64,
    event_count: i64,
    cumulative_hash: String,
    sealed_at: DateTime<Utc>,
}

/// The seals: what the backup's last was and what it became.
#[derive(Debug, Default)]
pub(super) struct SealsRestored {
    pub(super) count: u64,
    pub(super) backup_last: Option<serde_json::Value>,
    pub(super) restored_last: Option<serde_json::Value>,
}

/// Follows the events as they are imported: checks each backup seal against the chain
/// over the backup's positions, and re-seals the same events over the restored ones.
pub(super) struct Resealer {
    seals: std::io::Lines<std::io::BufReader<std::fs::File>>,
    line: u64,
    next: Option<SealLine>,
    backup_chain: Vec<u8>,
    restored_chain: Vec<u8>,
    count: i64,
    pending: Vec<(SealLine, FeedPosition, Vec<u8>)>,
    done: SealsRestored,
}

impl Resealer {
    /// Seals followed but not yet written.
    pub(super) fn pending(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn open(dir: &Path) -> Result<Self, RestoreError> {
        let path = dir.join(SEALS_FILE);
        let file =
            std::fs::File::open(&path).map_err(|source| RestoreError::File { path, source })?;
        let mut resealer = Self {
            seals: std::io::BufReader::new(file).lines(),
            line: 0,
            next: None,
            backup_chain: ZERO.to_vec(),
            restored_chain: ZERO.to_vec(),
            count: 0,
            pending: Vec::new(),
            done: SealsRestored::default(),
        };
        resealer.next = resealer.read_seal()?;
        Ok(resealer)
    }

    fn read_seal(&mut self) -> Result<Option<SealLine>, RestoreError> {
        let malformed = |line, message: String| RestoreError::Malformed {
            file: SEALS_FILE.into(),
            line,
            message,
        };
        let Some(text) = self.seals.next() else {
            return Ok(None);
        };
        self.line += 1;
        let text = text.map_err(|err| malformed(self.line, err.to_string()))?;
        serde_json::from_str(&text).map_err(|err| malformed(self.line, err.to_string()))
    }

    pub(super) fn follow(&mut self, event: &Imported) -> Result<(), RestoreError> {
        let Some(exported) = event.exported else {
            return Err(RestoreError::Damaged {
                file: EVENTS_FILE.into(),
                detail: format!("event {} has no position", self.count + 1),
            });
        };
        let coordinates = |p: FeedPosition| (p.transaction_id, p.global_position);
        self.backup_chain = link(&self.backup_chain, coordinates(exported), &event.hash).to_vec();
        self.restored_chain = link(
            &self.restored_chain,
            coordinates(event.imported),
            &event.hash,
        )
        .to_vec();
        self.count += 1;
        if self
            .next
            .as_ref()
            .is_none_or(|s| s.event_count != self.count)
        {
            return Ok(());
        }
        let Some(seal) = self.next.take() else {
            return Ok(());
        };
        let sealed = (seal.transaction_id, seal.global_position);
        if sealed != coordinates(exported) || seal.cumulative_hash != hex(&self.backup_chain) {
            return Err(RestoreError::SealMismatch {
                seal_id: seal.seal_id,
                // Not the hash the backup's events give: it is what a forger needs.
                detail: format!(
                    "it seals {} events up to position {}; the backup's {} events end at \
                     position {} with another hash",
                    seal.event_count, seal.global_position, self.count, exported.global_position,
                ),
            });
        }
        self.pending
            .push((seal, event.imported, self.restored_chain.clone()));
        self.next = self.read_seal()?;
        Ok(())
    }

    /// Writes the seals re-made so far, with their ids and times.
    pub(super) async fn flush(&mut self, conn: &mut PgConnection) -> Result<(), RestoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let column = |f: fn(&(SealLine, FeedPosition, Vec<u8>)) -> i64| -> Vec<i64> {
            pending.iter().map(f).collect()
        };
        sqlx::query(
            "INSERT INTO audit_seals (seal_id, transaction_id, global_position, event_count,
                                      cumulative_hash, sealed_at)
             OVERRIDING SYSTEM VALUE
             SELECT s, x::text::xid8, p, c, h, t
               FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],
                           $5::bytea[], $6::timestamptz[]) AS u(s, x, p, c, h, t)",
        )
        .bind(column(|(seal, _, _)| seal.seal_id))
        .bind(column(|(_, at, _)| at.transaction_id))
        .bind(column(|(_, at, _)| at.global_position))
        .bind(column(|(seal, _, _)| seal.event_count))
        .bind(
            pending
                .iter()
                .map(|(_, _, hash)| hash.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            pending
                .iter()
                .map(|(seal, _, _)| seal.sealed_at)
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await?;
        if let Some((seal, at, hash)) = pending.last() {
            self.done.count += pending.len() as u64;
            self.done.backup_last = Some(json!({
                "seal_id": seal.seal_id,
                "transaction_id": seal.transaction_id,
                "global_position": seal.global_position,
                "event_count": seal.event_count,
                "cumulative_hash": seal.cumulative_hash,
            }));
            self.done.restored_last = Some(json!({
                "seal_id": seal.seal_id,
                "transaction_id": at.transaction_id,
                "global_position": at.global_position,
                "event_count": seal.event_count,
                "cumulative_hash": hex(hash),
            }));
        }
        Ok(())
    }

    /// After the last event: every seal met its event.
    pub(super) async fn finish(
        mut self,
        conn: &mut PgConnection,
    ) -> Result<SealsRestored, RestoreError> {
        if let Some(seal) = &self.next {
            return Err(RestoreError::SealMismatch {
                seal_id: seal.seal_id,
                detail: format!(
                    "it seals {} events; the backup has {}",
                    seal.event_count, self.count
                ),
            });
        }
        self.flush(conn).await?;
        reset_identity(conn, "audit_seals").await?;
        Ok(self.done)
    }
}
