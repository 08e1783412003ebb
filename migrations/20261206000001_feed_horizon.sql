-- The feed's horizon waits only for transactions that can append events.
--
-- The feed is read below the oldest transaction still running (see event_log/src/feed.rs):
-- nothing can later appear below it. PostgreSQL's own horizon, pg_snapshot_xmin, counts
-- every transaction of the cluster that holds an id: an operator's forgotten psql, a
-- slow migration, another database. One of those froze every read model. So:
--
-- 1. Every transaction announces itself before it appends (`feed_announce_append`, run
--    by a trigger before each INSERT on events): it takes the shared advisory lock
--    APPEND_LOCK until it ends. Running transactions that do not hold it are bystanders.
-- 2. A watcher (src/feed_horizon/) raises `feed_horizon_floor` above the ids of
--    bystanders that have run for a while. Below the floor, the horizon passes over a
--    bystander that is still running and still does not hold APPEND_LOCK.
-- 3. A bystander below the floor that tries to append after all is refused with a
--    serialization failure (retryable): its events would sort before what readers
--    already passed, and would be skipped.
--
-- Why nothing is skipped: a reader passes bystander x only when, after reading the floor
-- (> x), it saw x running without APPEND_LOCK. Should x announce later, it takes the lock
-- first and reads the floor after, so it sees the floor above itself and is refused.
-- Should x have announced earlier, it holds the lock until it ends and bounds the
-- horizon; should it have ended since the reader's snapshot, it is no longer running and
-- bounds the horizon too. Transactions given an id after the snapshot are above it.
--
-- Advisory locks belong to a database: a transaction of another database can never
-- append here, so only APPEND_LOCK held in this one makes an appender.
--
-- APPEND_LOCK is the bigint 0x006f72646f617070 ("ordoapp"): in pg_locks, classid
-- 7303780 and objid 1868656752 (objsubid 1). FLOOR_LOCK ("ordoflr") orders the
-- watchers' raises, so the floor never moves back.

-- Non-transactional on purpose: a raise is seen at once by every session, whatever its
-- snapshot or isolation level, and never rolled back. The value is an xid8 as bigint.
CREATE SEQUENCE feed_horizon_floor AS bigint MINVALUE 0 START 0;

CREATE FUNCTION feed_announce_append() RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    own xid8;
BEGIN
    IF current_setting('ordo.announced_append', true) = 'on' THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(x'006f72646f617070'::bigint);
    -- A transaction without an id yet gets one after taking the lock: above every
    -- floor already raised, and never passed while it holds the lock.
    own := pg_current_xact_id_if_assigned();
    IF own IS NOT NULL
        AND own::text::bigint < (SELECT last_value FROM feed_horizon_floor) THEN
        RAISE EXCEPTION 'this transaction ran too long before appending events: the feed''s horizon has passed it; retry it'
            USING ERRCODE = 'serialization_failure';
    END IF;
    PERFORM set_config('ordo.announced_append', 'on', true);
END;
$$;

CREATE FUNCTION events_announce_append() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM feed_announce_append();
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_announce_append
    BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_announce_append();

-- The feed's horizon for a reader whose statement runs on `snap` (pass
-- pg_current_snapshot() from that statement, so both see the same transactions): the
-- oldest transaction of `snap` that may still append, or its xmax when none may.
CREATE FUNCTION feed_horizon(snap pg_snapshot) RETURNS xid8
    LANGUAGE plpgsql STABLE AS
$$
DECLARE
    floor_ bigint;
    horizon xid8;
    this_database oid;
BEGIN
    -- Read before the locks below (see the proof above).
    SELECT last_value INTO floor_ FROM feed_horizon_floor;
    IF pg_snapshot_xmin(snap)::text::bigint >= floor_ THEN
        -- Nothing below the floor runs: PostgreSQL's horizon, and no lock table read.
        RETURN pg_snapshot_xmin(snap);
    END IF;
    SELECT oid INTO this_database FROM pg_database WHERE datname = current_database();
    WITH locks AS MATERIALIZED (
        -- One reading of the lock table, so that "running" and "holds the append lock"
        -- are seen at one instant.
        SELECT locktype, transactionid::text::bigint AS xid, virtualtransaction,
               database, classid, objid, objsubid, mode
          FROM pg_locks
         WHERE granted AND locktype IN ('transactionid', 'advisory')
    ),
    bystanders AS (
        SELECT t.xid
          FROM locks t
         WHERE t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock'
           AND NOT EXISTS (SELECT 1 FROM locks a
                            WHERE a.locktype = 'advisory'
                              AND a.virtualtransaction = t.virtualtransaction
                              AND a.database = this_database
                              AND a.classid = 7303780 AND a.objid = 1868656752
                              AND a.objsubid = 1)
    )
    SELECT min(x) INTO horizon
      FROM pg_snapshot_xip(snap) AS x
     WHERE x::text::bigint >= floor_
        OR (x::text::bigint % 4294967296) NOT IN (SELECT xid FROM bystanders);
    RETURN coalesce(horizon, pg_snapshot_xmax(snap));
END;
$$;

-- Every transaction of the cluster holding an id, as the watcher and operators see it:
-- whether it announced an append, and who runs it.
CREATE FUNCTION feed_horizon_holders()
    RETURNS TABLE (xid bigint, appender boolean, pid integer, database text,
                   application text, since timestamptz, state text, query text)
    LANGUAGE sql STABLE AS
$$
    WITH locks AS MATERIALIZED (
        SELECT locktype, transactionid::text::bigint AS xid, virtualtransaction, pid,
               database, classid, objid, objsubid, mode
          FROM pg_locks
         WHERE granted AND locktype IN ('transactionid', 'advisory')
    ),
    running AS (
        SELECT x::text::bigint AS xid, t.virtualtransaction, t.pid
          FROM pg_snapshot_xip(pg_current_snapshot()) AS x
          JOIN locks t ON t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock'
                      AND t.xid = x::text::bigint % 4294967296
    )
    SELECT r.xid,
           EXISTS (SELECT 1 FROM locks a
                    WHERE a.locktype = 'advisory'
                      AND a.virtualtransaction = r.virtualtransaction
                      AND a.database = (SELECT oid FROM pg_database
                                         WHERE datname = current_database())
                      AND a.classid = 7303780 AND a.objid = 1868656752
                      AND a.objsubid = 1),
           r.pid,
           coalesce(s.datname::text, p.database::text),
           coalesce(s.application_name, 'prepared transaction ' || p.gid),
           coalesce(s.xact_start, p.prepared),
           coalesce(s.state, 'prepared'),
           left(s.query, 500)
      FROM running r
      LEFT JOIN pg_stat_activity s ON s.pid = r.pid
      LEFT JOIN pg_prepared_xacts p ON r.pid IS NULL
                                   AND p.transaction::text::bigint = r.xid % 4294967296
     ORDER BY r.xid
$$;

-- Raises the floor to `target` (never lowers it); answers the floor.
CREATE FUNCTION feed_horizon_raise_floor(target bigint) RETURNS bigint
    LANGUAGE plpgsql AS
$$
DECLARE
    current_floor bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(x'006f72646f666c72'::bigint);
    SELECT last_value INTO current_floor FROM feed_horizon_floor;
    IF target > current_floor THEN
        PERFORM setval('feed_horizon_floor', target);
        RETURN target;
    END IF;
    RETURN current_floor;
END;
$$;

-- A forgotten transaction is ended after a minute, whoever opened it (ordo's own
-- connections use a shorter limit, src/database.rs). Only the database's owner may set
-- this; where ordo is not, the operator is asked to (see docs/operations.md).
DO
$$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L',
                   current_database(), '60s');
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE WARNING 'could not set idle_in_transaction_session_timeout on database %: not its owner',
            current_database();
END;
$$;
