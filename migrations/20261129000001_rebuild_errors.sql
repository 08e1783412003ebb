-- Why a projection's last blue/green rebuild stopped before it swapped in (cleared when a
-- rebuild starts or finishes): operators read it in the status, not in a server's log.
ALTER TABLE projection_checkpoints
    ADD COLUMN rebuild_error     text,
    ADD COLUMN rebuild_failed_at timestamptz;
