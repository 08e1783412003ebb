//! The URL of a stored image. Events hold media keys, never URLs, so moving the images
//! behind a CDN changes every answer at once and no history.

use std::sync::Arc;

/// Where images are served from unless a public base URL is set.
pub const DEFAULT_BASE: &str = "/media";

#[derive(Debug, Clone)]
pub struct MediaUrls {
    /// Without a trailing slash.
    base: Arc<str>,
}

impl Default for MediaUrls {
    fn default() -> Self {
        Self::new(DEFAULT_BASE)
    }
}

impl MediaUrls {
    /// `base`: ordo's own `/media` or a CDN's URL in front of the store
    /// (`https://cdn.example.com/shop`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
        }
    }

    pub fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    pub fn urls(&self, keys: &[String]) -> Vec<String> {
        keys.iter().map(|key| self.url(key)).collect()
    }

    /// The key a URL names: its last path segment. A URL shown under an earlier base
    /// still names its image.
    pub fn key_in(url: &str) -> &str {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        path.rsplit('/').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_the_base_and_the_key_and_give_the_key_back() {
        let own = MediaUrls::default();
        assert_eq!(own.url("k.png"), "/media/k.png");
        let cdn = MediaUrls::new("https://cdn.example.com/shop/");
        assert_eq!(cdn.url("k.png"), "https://cdn.example.com/shop/k.png");
        for url in [
            "/media/k.png",
            "https://cdn.example.com/shop/k.png",
            "https://old.example.com/k.png?v=1",
            "k.png",
        ] {
            assert_eq!(MediaUrls::key_in(url), "k.png", "{url}");
        }
    }
}
