//! The operator's backup key. Digests, hash chains and seals can all be recomputed by
//! whoever can write a backup directory, so on their own they only prove a backup is
//! whole, not who made it: an edited `sessions` file (an admin session), revocations
//! dropped or a forged payment would restore. An HMAC-SHA256 of the manifest under a key
//! only the operator's ordo holds proves the backup was made by it; the manifest's
//! digests then vouch for every file.

use ring::hmac;

use crate::audit::hash::hex;
use crate::config::Config;
use crate::config::args::BackupKeyArgs;
use crate::secret::{self, Secret};

/// The file beside the manifest holding its HMAC (lower-case hex).
pub const MAC_FILE: &str = "manifest.hmac";
/// The key's file in the data directory, in dev mode.
pub const KEY_FILE: &str = "backup-key";
/// The shortest key accepted (HMAC-SHA256 wants 256 bits).
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "ORDO_BACKUP_KEY (or ORDO_BACKUP_KEY_FILE) must be set to a key of at least \
         {MIN_KEY_BYTES} bytes outside dev mode (for example: openssl rand -hex 32); keep it \
         apart from the backups"
    )]
    Required,
    #[error("ORDO_BACKUP_KEY is too short: at least {MIN_KEY_BYTES} bytes are required")]
    TooShort,
    #[error(
        "no backup key to authenticate the backup with: set ORDO_BACKUP_KEY_FILE to the key \
         the backup was made with (in dev mode it is {0})"
    )]
    Missing(String),
    #[error("the backup key in {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// What the key is wanted for: a backup may create the dev key, a restore never does
/// (a new key authenticates no existing backup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Backup,
    Restore,
}

/// The key that signs and authenticates backups.
#[derive(Debug)]
pub struct BackupKey(hmac::Key);

impl BackupKey {
    pub fn new(secret: &Secret) -> Result<Self, KeyError> {
        if secret.expose().len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(Self(hmac::Key::new(
            hmac::HMAC_SHA256,
            secret.expose().as_bytes(),
        )))
    }

    /// The key given (`--backup-key[-file]`), or in dev mode the data directory's.
    pub fn resolve(
        args: &BackupKeyArgs,
        config: &Config,
        purpose: Purpose,
    ) -> Result<Self, KeyError> {
        if let Some(given) = &args.backup_key {
            return Self::new(&Secret::new(given.as_str()));
        }
        if !config.dev_mode {
            return Err(KeyError::Required);
        }
        let path = config.data_dir.join(KEY_FILE);
        let shown = path.display().to_string();
        let secret = match purpose {
            Purpose::Backup => secret::load_or_create(&path),
            Purpose::Restore => match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => Ok(Secret::new(text.trim())),
                Ok(_) => return Err(KeyError::Missing(shown)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    return Err(KeyError::Missing(shown));
                }
                Err(err) => Err(err),
            },
        }
        .map_err(|source| KeyError::File {
            path: shown,
            source,
        })?;
        Self::new(&secret)
    }

    /// The manifest's MAC, as [`MAC_FILE`] holds it.
    pub fn sign(&self, manifest: &[u8]) -> String {
        hex(hmac::sign(&self.0, manifest).as_ref())
    }

    /// Whether `mac` (hex, as [`MAC_FILE`] holds it) is this key's MAC of `manifest`;
    /// compared in constant time.
    pub fn authenticates(&self, manifest: &[u8], mac: &str) -> bool {
        let Some(tag) = from_hex(mac.trim()) else {
            return false;
        };
        hmac::verify(&self.0, manifest, &tag).is_ok()
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> BackupKey {
        BackupKey::new(&Secret::new(text)).expect("a key")
    }

    #[test]
    fn a_manifest_is_authenticated_by_its_key_only_and_only_unchanged() {
        let mine = key(&"k".repeat(32));
        let mac = mine.sign(b"{\"files\":{}}");
        assert!(mine.authenticates(b"{\"files\":{}}", &mac));
        assert!(mine.authenticates(b"{\"files\":{}}", &format!("{mac}\n")));
        assert!(!mine.authenticates(b"{\"files\":{ }}", &mac));
        assert!(!key(&"x".repeat(32)).authenticates(b"{\"files\":{}}", &mac));
        assert!(!mine.authenticates(b"{\"files\":{}}", "zz"));
        assert!(!mine.authenticates(b"{\"files\":{}}", ""));
    }

    fn config(args: &[&str]) -> Config {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from(args);
        Config::resolve(&cli.global, None).expect("config")
    }

    #[test]
    fn in_dev_mode_a_backup_makes_the_key_once_and_a_restore_only_reads_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ordo-key-{}", uuid::Uuid::new_v4()));
        let data_dir = dir.to_str().expect("utf-8");
        let dev = config(&["ordo", "--data-dir", data_dir]);
        let none = BackupKeyArgs::default();
        let err = BackupKey::resolve(&none, &dev, Purpose::Restore).expect_err("no key yet");
        assert!(err.to_string().contains("no backup key"), "{err}");
        assert!(!dir.join(KEY_FILE).exists(), "a restore makes no key");

        let made = BackupKey::resolve(&none, &dev, Purpose::Backup).expect("made");
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .expect("the key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let read = BackupKey::resolve(&none, &dev, Purpose::Restore).expect("read");
        assert!(read.authenticates(b"manifest", &made.sign(b"manifest")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn outside_dev_mode_the_key_must_be_given() {
        let production = config(&["ordo", "--database-url", "postgres://db/ordo"]);
        let err = BackupKey::resolve(&BackupKeyArgs::default(), &production, Purpose::Backup)
            .expect_err("required");
        assert!(err.to_string().contains("must be set"), "{err}");
        let given = BackupKeyArgs {
            backup_key: Some("k".repeat(32)),
            backup_key_file: None,
        };
        assert!(BackupKey::resolve(&given, &production, Purpose::Restore).is_ok());
    }

    #[test]
    fn a_short_key_is_refused() {
        let err = BackupKey::new(&Secret::new("short")).expect_err("refused");
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }
}
