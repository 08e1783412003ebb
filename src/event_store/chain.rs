//! Linking appended events into their streams' hash chains (`event_log::chain`).
//!
//! The writer computes each hash, not the database: a trigger doing it per row (look up
//! the previous hash, build the text, SHA-256 in SQL) cost a third of a bare-SQL order's
//! throughput. A stream's previous hash is the one this process appended last (kept in
//! [`StreamHeads`]) or is looked up, for every stream of a commit at once, together with
//! the database's clock, so `recorded_at` stays the database's time as it always was.
//! The database still fills in the hash for any writer that gives none, and checks a
//! given one when `ordo.check_hashes` is on (the test suite runs with it).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use event_log::chain::{Chained, ZERO};
use sqlx::PgConnection;

use super::StreamId;
use super::append::EventRow;

/// Streams whose last hash is kept at most. Past it the map is emptied: each stream
/// costs one lookup again, in its next commit's one statement.
const MAX_HEADS: usize = 50_000;

/// The hash of one stream's event at a sequence.
pub(super) type Head = (i64, [u8; 32]);

/// The last event this process appended to each stream, with its hash. An event never
/// changes once written, so a head is right for as long as its sequence is the one a
/// writer expects; one that is not is simply not used.
#[derive(Debug, Default)]
pub(super) struct StreamHeads {
    heads: Mutex<HashMap<StreamId, Head>>,
}

impl StreamHeads {
    /// The known heads of `streams`.
    pub fn known<'a>(
        &self,
        streams: impl Iterator<Item = &'a StreamId>,
    ) -> HashMap<StreamId, Head> {
        let heads = self.lock();
        streams
            .filter_map(|stream| heads.get(stream).map(|head| (stream.clone(), *head)))
            .collect()
    }

    /// Records what a commit appended.
    pub fn record(&self, appended: HashMap<StreamId, Head>) {
        let mut heads = self.lock();
        if heads.len() + appended.len() > MAX_HEADS {
            heads.clear();
        }
        for (stream, head) in appended {
            // Just written, so the stream's truth now, unless a later append to it was
            // recorded first (at an equal sequence the new one wins: it is what the
            // database holds now).
            let stale = heads.get(&stream).is_some_and(|(seen, _)| *seen > head.0);
            if !stale {
                heads.insert(stream, head);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Head>> {
        self.heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The rows' hashes, chained, and the time they are recorded at.
#[derive(Debug)]
pub(super) struct Links {
    pub recorded_at: DateTime<Utc>,
    /// One per row, in the rows' order.
    pub hashes: Vec<[u8; 32]>,
    /// Each stream's last row: its sequence and hash.
    pub heads: HashMap<StreamId, Head>,
}

/// Why rows could not be linked.
#[derive(Debug)]
pub(super) enum LinkError {
    /// These streams do not hold the event their writer loaded last (a stale state):
    /// the writer reloads and retries, as after any conflict.
    Missing(Vec<StreamId>),
    Database(sqlx::Error),
}

/// Links `rows` (each stream's rows in sequence order) to their streams' previous
/// events: the `known` heads, the rest looked up in one statement on `conn`, which also
/// reads the database's clock.
pub(super) async fn link(
    conn: &mut PgConnection,
    rows: &[&EventRow],
    known: &HashMap<StreamId, Head>,
) -> Result<Links, LinkError> {
    // Each stream's first row here follows the event at `first - 1`.
    let mut follows: HashMap<&StreamId, i64> = HashMap::new();
    for row in rows {
        let before = follows.entry(&row.stream).or_insert(row.sequence - 1);
        *before = (*before).min(row.sequence - 1);
    }
    let mut prev: HashMap<&StreamId, [u8; 32]> = HashMap::with_capacity(follows.len());
    let mut wanted = Vec::new();
    for (&stream, &sequence) in &follows {
        match known.get(stream) {
            _ if sequence == 0 => {
                prev.insert(stream, ZERO);
            }
            Some((at, hash)) if *at == sequence => {
                prev.insert(stream, *hash);
            }
            _ => wanted.push((stream, sequence)),
        }
    }
    let (recorded_at, found) = look_up(conn, &wanted).await.map_err(LinkError::Database)?;
    let mut missing = Vec::new();
    for ((stream, _), hash) in wanted.iter().zip(found) {
        match hash {
            Some(hash) => {
                prev.insert(stream, hash);
            }
            None => missing.push((*stream).clone()),
        }
    }
    if !missing.is_empty() {
        return Err(LinkError::Missing(missing));
    }

    let mut hashes = Vec::with_capacity(rows.len());
    let mut heads = HashMap::with_capacity(prev.len());
    for row in rows {
        let before = prev.get(&row.stream).copied().unwrap_or(ZERO);
        let hash = row.chained(recorded_at).hash_after(&before);
        prev.insert(&row.stream, hash);
        heads.insert(row.stream.clone(), (row.sequence, hash));
        hashes.push(hash);
    }
    Ok(Links {
        recorded_at,
        hashes,
        heads,
    })
}

/// The database's clock, and the hash of each `(stream, sequence)` event (none where
/// the stream holds no such event), in one statement.
async fn look_up(
    conn: &mut PgConnection,
    wanted: &[(&StreamId, i64)],
) -> Result<(DateTime<Utc>, Vec<Option<[u8; 32]>>), sqlx::Error> {
    if wanted.is_empty() {
        let now = sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(&mut *conn)
            .await?;
        return Ok((now, Vec::new()));
    }
    let types: Vec<&str> = wanted
        .iter()
        .map(|(s, _)| s.aggregate_type.as_str())
        .collect();
    let ids: Vec<&str> = wanted
        .iter()
        .map(|(s, _)| s.aggregate_id.as_str())
        .collect();
    let sequences: Vec<i64> = wanted.iter().map(|(_, sequence)| *sequence).collect();
    let rows: Vec<(i32, Option<Vec<u8>>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT w.n::int4, e.hash, clock_timestamp()
           FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS w(t, i, s, n)
           LEFT JOIN events e
             ON e.aggregate_type = w.t AND e.aggregate_id = w.i AND e.sequence = w.s",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&sequences)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = vec![None; wanted.len()];
    let mut now = None;
    for (n, hash, at) in rows {
        now.get_or_insert(at);
        let slot = usize::try_from(n - 1)
            .ok()
            .and_then(|index| found.get_mut(index));
        if let (Some(slot), Some(hash)) = (slot, hash) {
            *slot = <[u8; 32]>::try_from(hash.as_slice()).ok();
        }
    }
    let now = now.ok_or_else(|| sqlx::Error::RowNotFound)?;
    Ok((now, found))
}

impl EventRow {
    /// The fields this row's hash covers, recorded at `recorded_at`.
    fn chained(&self, recorded_at: DateTime<Utc>) -> Chained<'_> {
        Chained {
            aggregate_type: &self.stream.aggregate_type,
            aggregate_id: &self.stream.aggregate_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            payload: &self.payload,
            metadata: &self.metadata,
            recorded_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(id: &str) -> StreamId {
        StreamId::new("Stock", id)
    }

    #[test]
    fn a_head_is_kept_until_a_later_append_replaces_it() {
        let heads = StreamHeads::default();
        heads.record(HashMap::from([
            (stream("a"), (2, [2; 32])),
            (stream("b"), (1, [1; 32])),
        ]));
        heads.record(HashMap::from([(stream("a"), (3, [3; 32]))]));
        // An older append recorded late does not go back.
        heads.record(HashMap::from([(stream("a"), (1, [9; 32]))]));

        let known = heads.known([stream("a"), stream("b"), stream("c")].iter());
        assert_eq!(known.get(&stream("a")), Some(&(3, [3; 32])));
        assert_eq!(known.get(&stream("b")), Some(&(1, [1; 32])));
        assert_eq!(known.get(&stream("c")), None);
    }
}
