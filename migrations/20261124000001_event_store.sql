-- The event store: postgres-es's own tables, unchanged, so that
-- `postgres_es::PostgresEventRepository` loads aggregates and snapshots as it expects
-- (DDL from postgres-es 0.5, db/init.sql).
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- ordo's additions. They all have defaults, so postgres-es's explicit-column INSERT
-- (and ours) leaves them to the database:
--   global_position: a total order over all streams, handed out at INSERT time;
--   transaction_id:  the writing transaction's id. Positions become visible in commit
--                    order, not in the order they were taken, so the feed is read by
--                    (transaction_id, global_position) below the oldest running
--                    transaction (see src/event_store/feed.rs);
--   recorded_at:     when the event was written, for auditors and "as of" queries.
ALTER TABLE events
    ADD COLUMN global_position bigserial   NOT NULL UNIQUE,
    ADD COLUMN transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN recorded_at     timestamptz NOT NULL DEFAULT now();

CREATE INDEX events_feed_order ON events (transaction_id, global_position);

-- Events are the only source of truth and are append-only: history is corrected by
-- new events, never by editing old ones.
CREATE FUNCTION events_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Wakes feed readers (the projector) when new events commit. NOTIFY is delivered at
-- commit and folded per transaction, so one statement-level trigger is enough; readers
-- poll as well, so a missed notification only delays them.
CREATE FUNCTION events_notify_feed() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('ordo_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify_feed();

-- Where each projection has read the feed up to: the (transaction_id, global_position)
-- pair of the last event it applied, advanced in the same transaction as its read model.
CREATE TABLE projection_checkpoints
(
    projection      text        NOT NULL PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT '0',
    global_position bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
