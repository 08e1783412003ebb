-- Tamper evidence: every event carries a SHA-256 hash chained to the previous event of its
-- stream, computed here, at append, for every writer (ordo, postgres-es, SQL). Chaining per
-- stream keeps unrelated streams' writes independent: the only read is the previous
-- event's hash, by primary key. `ordo audit verify` recomputes every hash in Rust.
--
-- hash(e) = sha256(hash(previous event of the stream, or 32 zero bytes) ||
--                  utf8(the fields below, each length-prefixed; recorded_at in epoch µs))
CREATE FUNCTION event_hash(prev bytea, aggregate_type text, aggregate_id text, sequence bigint,
                           event_type text, event_version text, payload text, metadata text,
                           recorded_at timestamptz) RETURNS bytea
    LANGUAGE sql STABLE AS
$$
SELECT sha256(prev || convert_to(
        octet_length(aggregate_type) || ':' || aggregate_type ||
        octet_length(aggregate_id) || ':' || aggregate_id ||
        sequence || ';' ||
        octet_length(event_type) || ':' || event_type ||
        octet_length(event_version) || ':' || event_version ||
        octet_length(payload) || ':' || payload ||
        octet_length(metadata) || ':' || metadata ||
        ((extract(epoch FROM recorded_at) * 1000000)::bigint), 'UTF8'))
$$;

ALTER TABLE events ADD COLUMN hash bytea;

CREATE FUNCTION events_chain() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    prev bytea;
BEGIN
    IF NEW.sequence <= 1 THEN
        prev := '\x0000000000000000000000000000000000000000000000000000000000000000';
    ELSE
        -- Rows inserted earlier by the same statement are visible here.
        SELECT hash INTO prev FROM events
         WHERE aggregate_type = NEW.aggregate_type AND aggregate_id = NEW.aggregate_id
           AND sequence = NEW.sequence - 1;
        IF prev IS NULL THEN
            RAISE EXCEPTION 'event % of % % follows no event', NEW.sequence,
                NEW.aggregate_type, NEW.aggregate_id USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    NEW.hash := event_hash(prev, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence,
                           NEW.event_type, NEW.event_version, NEW.payload::text,
                           NEW.metadata::text, NEW.recorded_at);
    RETURN NEW;
END;
$$;

-- Events written before this migration get their chains now, stream by stream.
ALTER TABLE events DISABLE TRIGGER events_append_only;
DO
$$
DECLARE
    e record;
    prev bytea;
    stream text := NULL;
BEGIN
    FOR e IN SELECT * FROM events ORDER BY aggregate_type, aggregate_id, sequence LOOP
        IF stream IS DISTINCT FROM e.aggregate_type || '/' || e.aggregate_id THEN
            stream := e.aggregate_type || '/' || e.aggregate_id;
            prev := '\x0000000000000000000000000000000000000000000000000000000000000000';
        END IF;
        prev := event_hash(prev, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type,
                           e.event_version, e.payload::text, e.metadata::text, e.recorded_at);
        UPDATE events SET hash = prev
         WHERE aggregate_type = e.aggregate_type AND aggregate_id = e.aggregate_id
           AND sequence = e.sequence;
    END LOOP;
END;
$$;
ALTER TABLE events ENABLE TRIGGER events_append_only;

ALTER TABLE events ALTER COLUMN hash SET NOT NULL;

CREATE TRIGGER events_hash_chain
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_chain();

-- Seals over the global feed: the cumulative hash of every event up to a feed position
-- (feed order: transaction_id, global_position),
-- c(n) = sha256(c(n-1) || transaction_id (8 bytes) || global_position (8 bytes) || hash(event n)),
-- c(0) = 32 zero bytes. A deleted, edited or reordered event below a seal changes it.
CREATE TABLE audit_seals
(
    seal_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    event_count     bigint      NOT NULL,
    cumulative_hash bytea       NOT NULL,
    sealed_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (transaction_id, global_position)
);

CREATE TRIGGER audit_seals_append_only
    BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

CREATE TRIGGER audit_seals_no_truncate
    BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- An order's history includes the stock moves it caused.
CREATE INDEX events_stock_by_order ON events ((coalesce(
        payload -> 'StockReserved' ->> 'order_id',
        payload -> 'StockReleased' ->> 'order_id',
        payload -> 'StockSold' ->> 'order_id')))
    WHERE aggregate_type = 'Stock';
