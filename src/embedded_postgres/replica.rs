//! A streaming replica of an embedded cluster, for tests of reads off the primary: a
//! base backup taken with `pg_basebackup -R` (which writes the standby's connection to
//! the primary and its `standby.signal`), started on a port of its own.

use super::{Durability, EmbeddedPostgres, Result, SUPERUSER, io_error};

impl EmbeddedPostgres {
    /// Starts a hot standby streaming from this server, in a new temporary directory
    /// removed once this process exits.
    pub fn start_replica(&self, durability: Durability) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "ordo-pg-replica-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        self.account
            .create_private_dir(&dir)
            .map_err(|source| io_error(&dir, source))?;
        let mut replica = Self {
            binaries: self.binaries.clone(),
            account: self.account.clone(),
            dir,
            port: 0,
            password: self.password.clone(),
            running: false,
        };
        let pg_basebackup = self.binaries.initdb.with_file_name("pg_basebackup");
        let mut backup = self.account.command(&pg_basebackup);
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
            ])
            .arg("-D")
            .arg(replica.data_dir())
            .args([
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
            ])
            .env("PGPASSWORD", self.password.expose());
        replica.run_command("taking a base backup for the replica", backup)?;
        replica.run(durability)?;
        replica.remove_when_process_exits()?;
        Ok(replica)
    }
}
