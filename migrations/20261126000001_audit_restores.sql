-- Every restore from a backup (`ordo restore`). A logical restore writes the events again
-- in their order, so they take this database's transaction ids and positions, and the
-- seals (which hash those) are recomputed, after every one was checked against the
-- backup. This row links the two: the backup's own last seal, as an auditor may hold a
-- copy of it, and the manifest's digest, which names the backup files.
CREATE TABLE audit_restores
(
    restore_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    restored_at         timestamptz NOT NULL DEFAULT now(),
    backup_taken_at     timestamptz NOT NULL,
    manifest_sha256     text        NOT NULL,
    events              bigint      NOT NULL,
    seals               bigint      NOT NULL,
    -- {seal_id, transaction_id, global_position, event_count, cumulative_hash} in the
    -- backup, and what that seal became here; null without seals.
    backup_last_seal    jsonb,
    restored_last_seal  jsonb
);

CREATE TRIGGER audit_restores_append_only
    BEFORE UPDATE OR DELETE ON audit_restores
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
