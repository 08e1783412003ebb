//! The cryptography behind jsonwebtoken: HS256 with ring, and nothing else.
//!
//! jsonwebtoken asks for a process-wide provider. Its built-in ones compile either aws-lc's
//! C library or RustCrypto's RSA, elliptic-curve and Ed25519 crates, for an algorithm ordo
//! never uses: ordo signs its own tokens with its own secret. Any other algorithm is refused
//! here as well as by the validation in `jwt.rs`.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::hmac;

static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes HS256-with-ring jsonwebtoken's provider for this process (idempotent).
pub fn install() {
    // An error means a provider is installed already: this one, by an earlier call.
    let _ = HS256_ONLY.install_default();
}

struct Hs256(hmac::Key);

fn hs256(algorithm: &Algorithm, secret: Result<&[u8]>) -> Result<Hs256> {
    if *algorithm != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret?)))
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Ok(Box::new(hs256(algorithm, Ok(key.as_bytes()))?))
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(hs256(algorithm, key.try_get_as_bytes())?))
}

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        // ring compares in constant time.
        hmac::verify(&self.0, message, signature).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}
