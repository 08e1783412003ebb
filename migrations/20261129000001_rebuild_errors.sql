-- Why a projection's last blue/green rebuild stopped before it swapped in. A rebuild
-- writes "interrupted" here as it starts, the real reason if it fails, and clears it in
-- the transaction that swaps its copy in: operators read it in the status, not in a log.
ALTER TABLE projection_checkpoints ADD COLUMN rebuild_error text;
