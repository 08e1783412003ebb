//! The event store adapter against a real PostgreSQL: optimistic concurrency, atomic
//! multi-stream appends, the gap-free feed, append-only events, postgres-es compatibility.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, DomainEvent, EventStore as _};
use ordo::event_store::{
    AppendError, EventMetadata, EventStore, FeedPosition, StreamAppend, StreamId, append_in,
};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;

use crate::support::{fresh_database, read_feed_until};

/// A minimal aggregate: a number that events add to.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    value: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum CounterEvent {
    Added { by: i64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> String {
        "CounterAdded".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("counters never refuse")]
struct CounterError;

impl Aggregate for Counter {
    const TYPE: &'static str = "Counter";
    type Command = i64;
    type Event = CounterEvent;
    type Error = CounterError;
    type Services = ();

    async fn handle(
        &mut self,
        by: i64,
        _: &(),
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), CounterError> {
        sink.write(CounterEvent::Added { by }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CounterEvent) {
        let CounterEvent::Added { by } = event;
        self.value += by;
    }
}

fn add(id: &str, expected_sequence: i64, by: i64) -> StreamAppend {
    StreamAppend::for_aggregate::<Counter>(id, expected_sequence, &[CounterEvent::Added { by }])
        .expect("serialize")
}

async fn stream_sequences(store: &EventStore, id: &str) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT sequence, (payload->'Added'->>'by')::bigint FROM events
          WHERE aggregate_type = 'Counter' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await
    .expect("read the stream")
}

#[tokio::test]
async fn thirty_two_concurrent_appends_to_one_stream_each_take_a_sequence_exactly_once() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool);
    let barrier = Arc::new(Barrier::new(32));

    // Every task first tries sequence 1; a loser reloads and tries after the new head.
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut expected = 0;
                let mut conflicts = 0;
                loop {
                    match store
                        .append(&[add("c", expected, task)], &EventMetadata::default())
                        .await
                    {
                        Ok(_) => return conflicts,
                        Err(AppendError::Conflict { streams }) => {
                            assert_eq!(streams, vec![StreamId::new("Counter", "c")]);
                            conflicts += 1;
                            expected = store.load::<Counter>("c").await.expect("reload").sequence;
                        }
                        Err(other) => panic!("append failed: {other}"),
                    }
                }
            })
        })
        .collect();
    let mut conflicts = Vec::new();
    for task in tasks {
        conflicts.push(task.await.expect("task"));
    }

    assert_eq!(
        conflicts.iter().filter(|&&c| c == 0).count(),
        1,
        "one task won sequence 1"
    );
    assert!(conflicts.iter().all(|&c| c <= 31));
    let stream = stream_sequences(&store, "c").await;
    let sequences: Vec<i64> = stream.iter().map(|(sequence, _)| *sequence).collect();
    assert_eq!(
        sequences,
        (1..=32).collect::<Vec<_>>(),
        "each sequence taken once"
    );
    let mut writers: Vec<i64> = stream.iter().map(|(_, by)| *by).collect();
    writers.sort_unstable();
    assert_eq!(
        writers,
        (0..32).collect::<Vec<_>>(),
        "every task's event, none twice"
    );
    let loaded = store.load::<Counter>("c").await.expect("load");
    assert_eq!(
        (loaded.aggregate.value, loaded.sequence),
        ((0..32).sum(), 32)
    );
}

#[tokio::test]
async fn a_multi_stream_append_whose_second_stream_conflicts_writes_nothing() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool);
    store
        .append(&[add("b", 0, 1)], &EventMetadata::default())
        .await
        .expect("b's first event");

    // Written as if "b" were still empty: its sequence 1 is taken.
    let result = store
        .append(
            &[add("a", 0, 10), add("b", 0, 20)],
            &EventMetadata::default(),
        )
        .await;

    match result {
        Err(AppendError::Conflict { streams }) => {
            assert_eq!(streams, vec![StreamId::new("Counter", "b")]);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        stream_sequences(&store, "a").await,
        vec![],
        "nothing of a was written"
    );
    assert_eq!(
        stream_sequences(&store, "b").await,
        vec![(1, 1)],
        "b is unchanged"
    );
}

#[tokio::test]
async fn concurrent_appends_share_commits_and_a_stale_one_fails_alone() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool);
    store
        .append(&[add("taken", 0, 1)], &EventMetadata::default())
        .await
        .expect("the first event of taken");
    let barrier = Arc::new(Barrier::new(51));

    // Fifty appends to streams of their own, and one written as if "taken" were empty.
    let tasks: Vec<_> = (0..51)
        .map(|task| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                let appends = if task == 50 {
                    vec![add("stale-partner", 0, 10), add("taken", 0, 20)]
                } else {
                    vec![add(&format!("own-{task}"), 0, task)]
                };
                barrier.wait().await;
                store.append(&appends, &EventMetadata::default()).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }

    match &results[50] {
        Err(AppendError::Conflict { streams }) => {
            assert_eq!(streams, &vec![StreamId::new("Counter", "taken")]);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(stream_sequences(&store, "stale-partner").await, vec![]);
    assert_eq!(stream_sequences(&store, "taken").await, vec![(1, 1)]);
    let mut transactions = std::collections::HashSet::new();
    for (task, result) in results[..50].iter().enumerate() {
        let appended = result
            .as_ref()
            .expect("an append of its own stream commits");
        assert_eq!(
            stream_sequences(&store, &format!("own-{task}")).await,
            vec![(1, i64::try_from(task).expect("small"))]
        );
        transactions.insert(appended.last.transaction_id);
    }
    assert!(
        transactions.len() < 50,
        "appends waiting together share a commit: {} commits",
        transactions.len()
    );
}

#[tokio::test]
async fn the_feed_waits_for_a_transaction_that_commits_after_a_later_position() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool.clone());
    let metadata = EventMetadata::default();

    // A takes a position and stays open; B takes a later one and commits first.
    let mut late = pool.begin().await.expect("begin A");
    let a = append_in(&mut late, &[add("a", 0, 1)], &metadata)
        .await
        .expect("A");
    let b = store.append(&[add("b", 0, 2)], &metadata).await.expect("B");
    assert!(b.positions[0] > a.positions[0]);

    let while_a_is_open = store
        .read_feed(FeedPosition::START, 100)
        .await
        .expect("read");
    assert!(
        while_a_is_open.is_empty(),
        "must not pass A's position: {while_a_is_open:?}"
    );

    late.commit().await.expect("commit A");
    let batch = read_feed_until(&store, FeedPosition::START, 100, 2).await;
    let ids: Vec<&str> = batch
        .iter()
        .map(|event| event.aggregate_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b"], "A then B");
    assert_eq!(batch[0].position, a.last);
    assert_eq!(batch[1].position, b.last);

    let after = store.read_feed(batch[1].position, 100).await.expect("read");
    assert!(after.is_empty(), "nothing repeated: {after:?}");
}

#[tokio::test]
async fn the_feed_reads_in_batches_without_skips_or_repeats() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool);
    for i in 0..25 {
        store
            .append(
                &[add(&format!("s{}", i % 4), i64::from(i / 4), i64::from(i))],
                &EventMetadata::default(),
            )
            .await
            .expect("append");
    }

    let seen: Vec<Option<i64>> = read_feed_until(&store, FeedPosition::START, 7, 25)
        .await
        .iter()
        .map(|event| {
            let payload: serde_json::Value =
                serde_json::from_str(&event.payload).expect("the payload is JSON");
            payload["Added"]["by"].as_i64()
        })
        .collect();

    assert_eq!(seen, (0..25).map(Some).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_feed_carries_each_events_metadata_and_time() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool);
    let metadata = EventMetadata {
        actor_id: Some("user-7".into()),
        actor_role: Some("user".into()),
        client_address: Some("198.51.100.23".into()),
        request_id: Some("req-1".into()),
        idempotency_key: Some("key-1".into()),
        correlation_id: Some("order-1".into()),
        causation_id: Some("cmd-1".into()),
    };
    let before = chrono::Utc::now();

    store
        .append(&[add("m", 0, 5)], &metadata)
        .await
        .expect("append");

    let events = read_feed_until(&store, FeedPosition::START, 10, 1).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.metadata, metadata);
    assert_eq!(
        (event.event_type.as_str(), event.event_version.as_str()),
        ("CounterAdded", "1")
    );
    assert_eq!(
        (
            event.aggregate_type.as_str(),
            event.aggregate_id.as_str(),
            event.sequence
        ),
        ("Counter", "m", 1)
    );
    assert!(event.recorded_at >= before - chrono::Duration::seconds(5));
}

#[tokio::test]
async fn events_cannot_be_updated_deleted_or_truncated() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool.clone());
    store
        .append(&[add("x", 0, 1)], &EventMetadata::default())
        .await
        .expect("append");

    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(statement)
            .execute(&pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    assert_eq!(
        stream_sequences(&store, "x").await,
        vec![(1, 1)],
        "the event is intact"
    );
}

#[tokio::test]
async fn postgres_es_and_the_adapter_read_each_others_events_and_snapshots() {
    let (pool, _) = fresh_database().await;
    let store = EventStore::new(pool.clone());
    store
        .append(&[add("p", 0, 1)], &EventMetadata::default())
        .await
        .expect("append 1");
    store
        .append(&[add("p", 1, 2)], &EventMetadata::default())
        .await
        .expect("append 2");

    // postgres-es's own write path, snapshotting every 2 events.
    let cqrs_store = PersistedEventStore::<_, Counter>::new_snapshot_store(
        PostgresEventRepository::new(pool.clone()),
        2,
    );
    let context = cqrs_store
        .load_aggregate("p")
        .await
        .expect("postgres-es loads our events");
    assert_eq!((context.aggregate.value, context.current_sequence), (3, 2));
    cqrs_store
        .commit(
            vec![CounterEvent::Added { by: 4 }, CounterEvent::Added { by: 8 }],
            context,
            HashMap::new(),
        )
        .await
        .expect("postgres-es commits");
    let snapshots: i64 =
        sqlx::query_scalar("SELECT count(*) FROM snapshots WHERE aggregate_id = 'p'")
            .fetch_one(&pool)
            .await
            .expect("count snapshots");
    assert_eq!(snapshots, 1, "postgres-es took a snapshot");

    store
        .append(&[add("p", 4, 16)], &EventMetadata::default())
        .await
        .expect("append after");
    let loaded = store
        .load::<Counter>("p")
        .await
        .expect("load from snapshot + events");
    assert_eq!((loaded.aggregate.value, loaded.sequence), (31, 5));
    let feed = read_feed_until(&store, FeedPosition::START, 10, 5).await;
    assert_eq!(feed.len(), 5, "postgres-es's events are in the feed too");
}

#[tokio::test]
async fn an_append_on_a_connection_left_inside_a_transaction_is_still_committed() {
    let (_, options) = fresh_database().await;
    // One connection, so the append gets the one left inside a transaction.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .expect("pool");
    {
        let mut conn = pool.acquire().await.expect("acquire");
        // What a projector task aborted mid-batch can leave behind, unknown to sqlx: an
        // open transaction that has written.
        for statement in [
            "BEGIN",
            "INSERT INTO projection_checkpoints (projection) VALUES ('leftover')",
        ] {
            sqlx::query(statement)
                .execute(&mut *conn)
                .await
                .expect(statement);
        }
    }
    let store = EventStore::new(pool.clone());

    store
        .append(&[add("kept", 0, 1)], &EventMetadata::default())
        .await
        .expect("append");

    let other = sqlx::PgPool::connect_with(options)
        .await
        .expect("second pool");
    let count = |sql: &'static str| {
        let other = other.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&other)
                .await
                .expect(sql)
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM events WHERE aggregate_id = 'kept'").await,
        1,
        "the event is committed, not stuck in the abandoned transaction"
    );
    assert_eq!(
        count("SELECT count(*) FROM projection_checkpoints WHERE projection = 'leftover'").await,
        0,
        "the abandoned transaction was rolled back, not committed"
    );
}
