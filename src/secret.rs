//! Secrets (the JWT key, database passwords) in a type that never prints them.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A secret string. `Debug` and `Display` print a placeholder, so a secret can sit in a
/// config struct that gets logged without leaking.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh random secret: 32 random bytes, hex-encoded (64 characters).
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The secret itself; call it only where the value is really needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Reads the secret kept in `path`, or creates it there (mode 0600) on first use, so
/// that every later start and every CLI command gets the same value.
pub fn load_or_create(path: &Path) -> io::Result<Secret> {
    match fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(Secret::new(text.trim())),
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let secret = Secret::generate();
    write_private(path, &format!("{}\n", secret.expose()))?;
    Ok(secret)
}

/// Writes `content` to `path` readable by its owner only (mode 0600), durably.
pub fn write_private(path: &Path, content: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn a_stored_secret_is_created_once_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("ordo-secret-{}", std::process::id()));
        let path = dir.join("nested").join("key");
        let first = load_or_create(&path).expect("create");
        let second = load_or_create(&path).expect("reload");
        assert_eq!(first, second);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(&path).expect("stat").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(dir).expect("cleanup");
    }
}
