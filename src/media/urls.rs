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

    /// `ORDO_MEDIA_BASE_URL`, checked: blank is ordo's own `/media`; otherwise a path from
    /// the API's host (`/img`) or an `http(s)://` URL, with nothing a client could not put
    /// in a URL as it is (spaces, control characters, a query or fragment).
    pub fn from_setting(setting: Option<&str>) -> Result<Self, String> {
        let base = setting.map(str::trim).unwrap_or_default();
        if base.is_empty() {
            return Ok(Self::default());
        }
        let absolute = ["https://", "http://"].iter().any(|scheme| {
            base.strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty())
        });
        if !absolute && !base.starts_with('/') {
            return Err(format!(
                "{base:?} is neither an http(s):// URL nor a path starting with /"
            ));
        }
        if let Some(c) = base
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
        {
            return Err(format!("{base:?} holds {c:?}: a base URL is a bare URL"));
        }
        Ok(Self::new(base))
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
    fn a_base_url_setting_is_checked() {
        for (setting, base) in [
            (None, "/media"),
            (Some("  "), "/media"),
            (
                Some(" https://cdn.example.com/shop/ "),
                "https://cdn.example.com/shop",
            ),
            (Some("/img"), "/img"),
        ] {
            let urls = MediaUrls::from_setting(setting).expect("accepted");
            assert_eq!(urls.url("k.png"), format!("{base}/k.png"), "{setting:?}");
        }
        for wrong in [
            "cdn.example.com",
            "https://",
            "ftp://cdn.example.com",
            "https://cdn.example.com/a b",
            "https://cdn.example.com/\u{0}",
            "https://cdn.example.com/?v=1",
        ] {
            assert!(MediaUrls::from_setting(Some(wrong)).is_err(), "{wrong:?}");
        }
    }

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
