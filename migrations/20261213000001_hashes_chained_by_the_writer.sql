-- The writer chains each event's hash (ordo's event store, from the stream's previous
-- hash it loaded or wrote, `event_log::chain`): the trigger computing it per row (look
-- up the previous hash, build the text, SHA-256 in SQL) cost a third of a bare-SQL
-- order's throughput. The trigger now runs only for a row that comes without a hash
-- (postgres-es, imports, SQL), which it fills in as before, or for every row when
-- `ordo.check_hashes` is on: then a given hash must be the one the chain gives, or the
-- insert is refused (the test suite runs so; an operator may too, at the old cost).
-- A wrong hash stored with the check off is what `ordo audit verify` reports, as it
-- reports any hash that does not recompute.
CREATE OR REPLACE FUNCTION events_chain() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    prev bytea;
    chained bytea;
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
    chained := event_hash(prev, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence,
                          NEW.event_type, NEW.event_version, NEW.payload::text,
                          NEW.metadata::text, NEW.recorded_at);
    IF NEW.hash IS NULL THEN
        NEW.hash := chained;
    ELSIF NEW.hash <> chained THEN
        RAISE EXCEPTION 'event % of % % carries hash %, its chain gives %', NEW.sequence,
            NEW.aggregate_type, NEW.aggregate_id, encode(NEW.hash, 'hex'),
            encode(chained, 'hex') USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER events_hash_chain ON events;
CREATE TRIGGER events_hash_chain
    BEFORE INSERT ON events
    FOR EACH ROW
    WHEN (NEW.hash IS NULL OR current_setting('ordo.check_hashes', true) = 'on')
    EXECUTE FUNCTION events_chain();
