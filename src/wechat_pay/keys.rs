//! The three secrets of WeChat Pay v3: the merchant's RSA key (signs our requests and the
//! mini program's payment parameters), WeChat's platform public key (verifies what
//! WeChat sends), and the APIv3 key (AES-256-GCM over the resource of a payment notice).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::{RsaPrivateKey, RsaPublicKey};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not a PEM block `{0}`")]
    Pem(&'static str),
    #[error("the key is not a valid RSA key: {0}")]
    Rsa(String),
    #[error("the APIv3 key must be exactly 32 bytes")]
    ApiV3KeyLength,
    #[error("could not sign")]
    Sign,
}

/// An RSA private key that signs with SHA256-RSA (PKCS#1 v1.5), answers base64.
///
/// ring signs; the `rsa` crate only generates keys and converts encodings, which ring
/// cannot do.
pub struct SigningKey {
    pair: RsaKeyPair,
    /// The PKCS#8 DER the pair was read from, to write it out again.
    pkcs8: Vec<u8>,
}

impl SigningKey {
    /// A PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as WeChat's merchant tools write it.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_pkcs8(pem_decode(pem, "PRIVATE KEY")?)
    }

    fn from_pkcs8(pkcs8: Vec<u8>) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|err| KeyError::Rsa(err.to_string()))?;
        Ok(Self { pair, pkcs8 })
    }

    /// A fresh 2048-bit key (dev mode).
    pub fn generate() -> Result<Self, KeyError> {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .map_err(|err| KeyError::Rsa(err.to_string()))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|err| KeyError::Rsa(err.to_string()))?;
        Self::from_pkcs8(der.as_bytes().to_vec())
    }

    pub fn to_pem(&self) -> Result<String, KeyError> {
        Ok(pem_encode("PRIVATE KEY", &self.pkcs8))
    }

    /// The public half, as an X.509 SubjectPublicKeyInfo PEM.
    pub fn public_key_pem(&self) -> Result<String, KeyError> {
        let key = RsaPrivateKey::from_pkcs8_der(&self.pkcs8)
            .map_err(|err| KeyError::Rsa(err.to_string()))?;
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|err| KeyError::Rsa(err.to_string()))?;
        Ok(pem_encode("PUBLIC KEY", der.as_bytes()))
    }

    pub fn sign(&self, message: &str) -> Result<String, KeyError> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(BASE64.encode(signature))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// An RSA public key that verifies SHA256-RSA signatures (WeChat's platform key).
#[derive(Clone)]
pub struct VerifyingKey {
    /// PKCS#1 RSAPublicKey DER, the form ring verifies with.
    pkcs1: Vec<u8>,
}

impl VerifyingKey {
    /// An X.509 SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let spki = pem_decode(pem, "PUBLIC KEY")?;
        let pkcs1 = RsaPublicKey::from_public_key_der(&spki)
            .and_then(|key| Ok(key.to_pkcs1_der()?))
            .map_err(|err| KeyError::Rsa(err.to_string()))?;
        Ok(Self {
            pkcs1: pkcs1.as_bytes().to_vec(),
        })
    }

    /// Whether `signature` (base64) is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(signature) = BASE64.decode(signature.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.pkcs1)
            .verify(message, &signature)
            .is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifyingKey(..)")
    }
}

/// The APIv3 key: 32 bytes, AES-256-GCM.
#[derive(Clone)]
pub struct ApiV3Key([u8; 32]);

impl ApiV3Key {
    pub fn new(key: &[u8]) -> Result<Self, KeyError> {
        key.try_into()
            .map(Self)
            .map_err(|_| KeyError::ApiV3KeyLength)
    }

    /// 32 random characters a-zA-Z0-9, as WeChat's merchant platform has them typed in.
    pub fn generate() -> Self {
        let mut key = [0; 32];
        key.copy_from_slice(super::nonce().as_bytes());
        Self(key)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Opens a resource: `ciphertext` is base64 of the ciphertext with its 16-byte tag.
    pub fn decrypt(&self, nonce: &str, associated_data: &str, ciphertext: &str) -> Option<Vec<u8>> {
        let mut sealed = BASE64.decode(ciphertext.trim()).ok()?;
        let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes()).ok()?;
        let plain = self
            .key()?
            .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }

    /// Seals a resource as WeChat does (the dev simulator's notices); base64.
    pub fn encrypt(&self, nonce: &str, associated_data: &str, plain: &[u8]) -> Option<String> {
        let mut sealed = plain.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes()).ok()?;
        self.key()?
            .seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut sealed)
            .ok()?;
        Some(BASE64.encode(sealed))
    }

    fn key(&self) -> Option<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .ok()
            .map(LessSafeKey::new)
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(..)")
    }
}

/// The DER inside the PEM block labelled `label`.
fn pem_decode(pem: &str, label: &'static str) -> Result<Vec<u8>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(KeyError::Pem(label))? + begin.len();
    let stop = pem[start..].find(&end).ok_or(KeyError::Pem(label))? + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    BASE64.decode(body).map_err(|_| KeyError::Pem(label))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|chunk| std::str::from_utf8(chunk).ok())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_the_public_half_only() {
        let key = SigningKey::generate().expect("key");
        let public = VerifyingKey::from_pem(&key.public_key_pem().expect("pem")).expect("public");
        let signature = key.sign("message\n").expect("sign");
        assert!(public.verifies(b"message\n", &signature));
        assert!(!public.verifies(b"messagE\n", &signature));
        let other = SigningKey::generate().expect("other key");
        assert!(!public.verifies(b"message\n", &other.sign("message\n").expect("sign")));
        // The PEM round trip keeps the key.
        let again = SigningKey::from_pem(&key.to_pem().expect("pem")).expect("parse");
        assert!(public.verifies(b"x", &again.sign("x").expect("sign")));
    }

    #[test]
    fn a_sealed_resource_opens_only_unchanged() {
        let key = ApiV3Key::generate();
        let sealed = key
            .encrypt("0123456789ab", "transaction", b"{\"a\":1}")
            .expect("seal");
        assert_eq!(
            key.decrypt("0123456789ab", "transaction", &sealed),
            Some(b"{\"a\":1}".to_vec())
        );
        assert_eq!(key.decrypt("0123456789ab", "other", &sealed), None);
        assert_eq!(key.decrypt("ba9876543210", "transaction", &sealed), None);
        assert_eq!(
            ApiV3Key::generate().decrypt("0123456789ab", "transaction", &sealed),
            None
        );
        assert_eq!(
            ApiV3Key::new(b"short").err(),
            Some(KeyError::ApiV3KeyLength)
        );
    }
}
