//! `manifest.json`: what a backup holds, written last, so a directory without one is a
//! backup that never finished. Each file's line count and SHA-256 let a restore refuse a
//! damaged or edited backup before it writes anything.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::audit::hash::hex;

/// The format this ordo writes and reads.
pub const FORMAT: &str = "ordo-backup/1";
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// The ordo that took it.
    pub ordo_version: String,
    /// The newest migration the backed-up database had.
    pub schema_version: i64,
    /// The instant of the snapshot: every transaction committed before it is in.
    pub taken_at: DateTime<Utc>,
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub lines: u64,
    #[serde(with = "hex_digest")]
    pub sha256: [u8; 32],
}

impl Manifest {
    /// The lines in `file`, 0 when the backup has no such file.
    pub fn lines(&self, file: &str) -> u64 {
        self.files.get(file).map_or(0, |entry| entry.lines)
    }
}

/// Writes lines to a file while counting them and hashing their bytes.
pub struct CountingWriter<W> {
    inner: W,
    hasher: Sha256,
    lines: u64,
}

impl<W: AsyncWrite + Unpin> CountingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            lines: 0,
        }
    }

    /// Writes `line`, which ends with its newline.
    pub async fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        self.hasher.update(line.as_bytes());
        self.lines += 1;
        self.inner.write_all(line.as_bytes()).await
    }

    /// Flushes and answers what was written.
    pub async fn finish(mut self) -> std::io::Result<(W, FileEntry)> {
        self.inner.flush().await?;
        Ok((
            self.inner,
            FileEntry {
                lines: self.lines,
                sha256: self.hasher.finalize().into(),
            },
        ))
    }
}

/// The line count and SHA-256 of a file, read in chunks.
pub async fn entry_of(path: &Path) -> std::io::Result<FileEntry> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        lines += buffer[..read].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok(FileEntry {
        lines,
        sha256: hasher.finalize().into(),
    })
}

/// The SHA-256 of a manifest's bytes, as a restore records it.
pub fn digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

mod hex_digest {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::audit::hash::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let invalid = || serde::de::Error::custom("expected 64 hexadecimal digits");
        if text.len() != 64 || !text.is_ascii() {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_back_what_was_written() {
        let manifest = Manifest {
            format: FORMAT.into(),
            ordo_version: "0.1.0".into(),
            schema_version: 20261126000001,
            taken_at: Utc::now(),
            files: BTreeMap::from([(
                "events.ndjson".to_owned(),
                FileEntry {
                    lines: 3,
                    sha256: [0xab; 32],
                },
            )]),
        };
        let text = serde_json::to_string(&manifest).expect("serialize");
        assert!(text.contains(&"ab".repeat(32)), "{text}");
        let read: Manifest = serde_json::from_str(&text).expect("read back");
        assert_eq!(read.files, manifest.files);
        assert_eq!(read.lines("events.ndjson"), 3);
        assert_eq!(read.lines("sessions.ndjson"), 0);
    }

    #[test]
    fn a_digest_of_the_wrong_length_is_refused() {
        let text = r#"{"lines": 1, "sha256": "abc"}"#;
        let err = serde_json::from_str::<FileEntry>(text).expect_err("refused");
        assert!(err.to_string().contains("64 hexadecimal"), "{err}");
    }
}
