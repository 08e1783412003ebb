//! Which ordo owns a data directory's embedded PostgreSQL: the process holding the lock
//! on `<data dir>/ordo.lock`, which also names it (pid, what it runs).
//!
//! A lock, not just a pid file: the kernel releases it when its process exits, however
//! it exits (a SIGKILL included), so a PostgreSQL found running on a data directory whose
//! lock is free was left behind and may be stopped, and one whose lock is held belongs to
//! a live ordo and must not be.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file, in the data directory.
pub const LOCK_FILE: &str = "ordo.lock";

/// This process's claim on a data directory, held until it is dropped or the process
/// exits.
#[derive(Debug)]
pub struct DataDirClaim {
    /// Holds the lock; never read.
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "another ordo runs on the data dir {dir} ({holder}); stop it first, or give this one \
         a data dir of its own (--data-dir or ORDO_DATA_DIR)"
    )]
    Held { dir: PathBuf, holder: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl DataDirClaim {
    /// Claims `data_dir` (created if missing) for this process, recording its pid and
    /// `what` it runs (`ordo serve on 127.0.0.1:8080`); fails naming the holder when
    /// another process has it.
    pub fn take(data_dir: &Path, what: &str) -> Result<Self, ClaimError> {
        match Self::try_take(data_dir, what)? {
            Ok(claim) => Ok(claim),
            Err(holder) => Err(ClaimError::Held {
                dir: data_dir.to_owned(),
                holder,
            }),
        }
    }

    /// Like [`DataDirClaim::take`], but a claim another process holds is an answer (the
    /// holder as it describes itself), not an error: CLI commands then use the holder's
    /// PostgreSQL.
    pub fn try_take(data_dir: &Path, what: &str) -> Result<Result<Self, String>, ClaimError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| ClaimError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(data_dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io)?;
                file.rewind().map_err(io)?;
                writeln!(file, "pid {}, {what}", std::process::id()).map_err(io)?;
                Ok(Ok(Self { _file: file }))
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Empty only in the instant between the holder's lock and its write.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                Ok(Err(if holder.is_empty() {
                    "an ordo starting up".to_owned()
                } else {
                    holder.to_owned()
                }))
            }
            Err(TryLockError::Error(source)) => Err(io(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_data_dir_names_its_holder_and_is_free_again_once_released() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = DataDirClaim::take(dir.path(), "ordo serve on 127.0.0.1:8080").expect("free");

        let refused = DataDirClaim::take(dir.path(), "ordo serve on 127.0.0.1:8081")
            .expect_err("held by the first");
        let said = refused.to_string();
        assert!(
            said.contains(&format!("pid {}", std::process::id()))
                && said.contains("127.0.0.1:8080")
                && !said.contains("8081"),
            "{said}"
        );

        drop(first);
        DataDirClaim::take(dir.path(), "ordo serve on 127.0.0.1:8081").expect("free again");
    }
}
