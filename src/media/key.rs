//! Media keys name stored images by their content: the SHA-256 of the bytes in hex and
//! the format's extension (`<64 hex digits>.jpg`). The same image uploaded twice gets
//! the same key, so it is stored once, and what a key names never changes, so it may be
//! cached for good.

use std::fmt;

use sha2::{Digest, Sha256};

use super::image::ImageKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaKey {
    /// The content's SHA-256, lower-case hex.
    hash: String,
    kind: ImageKind,
}

impl MediaKey {
    /// The key of these bytes, stored as `kind`.
    pub fn of(bytes: &[u8], kind: ImageKind) -> Self {
        let digest = Sha256::digest(bytes);
        let hash = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Self { hash, kind }
    }

    /// A key as [`MediaKey::to_string`] writes it; anything else (another case, a path,
    /// another extension) is not a key.
    pub fn parse(text: &str) -> Option<Self> {
        let (hash, extension) = text.split_once('.')?;
        let is_hash = hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let kind = ImageKind::from_extension(extension)?;
        is_hash.then(|| Self {
            hash: hash.to_owned(),
            kind,
        })
    }

    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    /// A strong HTTP entity tag: the content hash names the bytes exactly.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.hash)
    }
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.hash, self.kind.extension())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_the_content_hash_and_reads_back() {
        let key = MediaKey::of(b"abc", ImageKind::Png);
        assert_eq!(
            key.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.png"
        );
        assert_eq!(MediaKey::parse(&key.to_string()), Some(key));
    }

    #[test]
    fn anything_but_a_key_is_refused() {
        let hash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for text in [
            String::new(),
            hash.to_owned(),
            format!("{hash}.gif"),
            format!("{hash}.png.png"),
            format!("{}.png", hash.to_uppercase()),
            format!("../{hash}.png"),
            format!("{}.png", &hash[1..]),
            "..%2Fetc%2Fpasswd".to_owned(),
        ] {
            assert_eq!(MediaKey::parse(&text), None, "{text}");
        }
    }
}
