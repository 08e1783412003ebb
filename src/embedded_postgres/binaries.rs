//! Finding the PostgreSQL server binaries (initdb, pg_ctl) installed on this system.

use std::env;
use std::path::{Path, PathBuf};

/// Where Debian and Ubuntu install the server binaries: one directory per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The server binaries ordo drives.
#[derive(Debug, Clone)]
pub struct ServerBinaries {
    pub initdb: PathBuf,
    pub pg_ctl: PathBuf,
}

impl ServerBinaries {
    /// Looks in `explicit` if given (only there), else in the newest
    /// `/usr/lib/postgresql/<major>/bin`, then `$PATH`. On failure returns the places it
    /// searched, for the error message.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, Vec<PathBuf>> {
        let candidates = candidate_dirs(explicit);
        candidates
            .iter()
            .find_map(|dir| Self::in_dir(dir))
            .ok_or(candidates)
    }

    fn in_dir(dir: &Path) -> Option<Self> {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        (initdb.is_file() && pg_ctl.is_file()).then_some(Self { initdb, pg_ctl })
    }
}

fn candidate_dirs(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        // An explicit choice is the only one: silently falling back would hide a typo.
        return vec![dir.to_path_buf()];
    }
    let mut dirs = debian_version_dirs();
    if let Some(path) = env::var_os("PATH") {
        dirs.extend(env::split_paths(&path));
    }
    dirs
}

/// `/usr/lib/postgresql/<major>/bin`, newest major version first.
fn debian_version_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(DEBIAN_ROOT) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    versions.into_iter().map(|(_, dir)| dir).collect()
}
