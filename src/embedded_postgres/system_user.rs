//! The account PostgreSQL runs as. PostgreSQL refuses to run as root, so when ordo is
//! root its server commands run as the `postgres` system user instead.

use std::io;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{Gid, Uid, User, geteuid};

/// The account the embedded server's files and processes belong to.
#[derive(Debug, Clone)]
pub enum ServerAccount {
    /// ordo is not root: Postgres runs as ordo's own user.
    Current,
    /// ordo is root: Postgres runs as this (unprivileged) system user.
    System { name: String, uid: Uid, gid: Gid },
}

impl ServerAccount {
    /// The account to use for this process: `Current`, or the `postgres` user when root.
    /// `None` when ordo is root and no `postgres` user exists.
    pub fn for_this_process() -> Option<Self> {
        if !geteuid().is_root() {
            return Some(Self::Current);
        }
        let user = User::from_name("postgres").ok()??;
        Some(Self::System {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
        })
    }

    /// A command that runs as this account.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        if let Self::System { uid, gid, .. } = self {
            // std drops root's supplementary groups when it switches user.
            command.uid(uid.as_raw()).gid(gid.as_raw());
        }
        command
    }

    /// Creates `dir` (and its parents) as a private directory (0700) of this account.
    pub fn create_private_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.give(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }

    /// Hands a file or directory ordo created to this account.
    pub fn give(&self, path: &Path) -> io::Result<()> {
        match self {
            Self::Current => Ok(()),
            Self::System { uid, gid, .. } => chown(path, Some(uid.as_raw()), Some(gid.as_raw())),
        }
    }

    /// Whether this account can create files in `dir`: as another user it must also be
    /// able to pass through every parent directory, which a home directory often forbids.
    pub fn can_write(&self, dir: &Path) -> bool {
        match self {
            Self::Current => true,
            Self::System { .. } => self
                .command(Path::new("test"))
                .arg("-w")
                .arg(dir)
                .status()
                .is_ok_and(|status| status.success()),
        }
    }

    /// The first directory on the way to `dir` (which need not exist yet) that this
    /// account cannot enter, if any: PostgreSQL could not reach its files through it.
    pub fn blocked_on_the_way_to(&self, dir: &Path) -> Option<std::path::PathBuf> {
        if matches!(self, Self::Current) {
            return None;
        }
        let mut existing: Vec<&Path> = dir.ancestors().filter(|path| path.is_dir()).collect();
        existing.reverse();
        existing
            .into_iter()
            .find(|path| {
                !self
                    .command(Path::new("test"))
                    .arg("-x")
                    .arg(path)
                    .status()
                    .is_ok_and(|status| status.success())
            })
            .map(Path::to_path_buf)
    }

    /// A short description for messages: "the `postgres` system user" or "this user".
    pub fn describe(&self) -> String {
        match self {
            Self::Current => "this user".to_owned(),
            Self::System { name, .. } => format!("the `{name}` system user"),
        }
    }
}
