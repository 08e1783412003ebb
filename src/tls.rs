//! TLS for ordo's outgoing HTTPS (WeChat, WeChat Pay, S3): rustls with ring.
//!
//! reqwest and object_store build their rustls configs from the process's default crypto
//! provider. Theirs by default is aws-lc, whose C build took 49 s of a fresh release
//! build; ring's takes seconds. Every place that builds an HTTP client calls [`install`]
//! first (it is cheap and idempotent), so no entry point can forget it.

/// Makes ring the process's rustls crypto provider, unless one is installed already.
pub fn install() {
    // An error means a provider is installed already (by an earlier call): keep it.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client builder with the crypto provider in place.
pub fn http_client() -> reqwest::ClientBuilder {
    install();
    reqwest::Client::builder()
}
