-- Events a projection set aside because it could not apply them (text PostgreSQL cannot
-- hold, a payload it cannot read, a row its table refuses): the projection goes on, and
-- operators list them (`ordo projections parked`) and re-apply them after a fix
-- (`ordo projections retry-parked <name>`).
--   projection: the checkpoint's name (a live projection, or a rebuild's or a
--               verification's copy, whose parked events replace or leave with it);
--   the event is named by its feed position and stream; later events of the same stream
--   are parked behind it, so that a retry applies the stream in order.
CREATE TABLE projection_parked_events
(
    projection      text        NOT NULL,
    global_position bigint      NOT NULL,
    transaction_id  xid8        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL,
    event_type      text        NOT NULL,
    error           text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 1,
    parked_at       timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, global_position)
);

-- "Does this batch touch a stream with a parked event?", asked for every batch.
CREATE INDEX projection_parked_events_by_stream
    ON projection_parked_events (projection, aggregate_id);
