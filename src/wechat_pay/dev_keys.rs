//! Dev mode's WeChat Pay keys: a merchant key, a platform key pair and an APIv3 key,
//! generated once into the data directory so that payment parameters and simulated
//! notices stay verifiable across restarts.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{ApiV3Key, SigningKey, VerifyingKey, WeChatPayConfig};
use crate::secret::write_private;

/// The generated keys.
#[derive(Debug)]
pub struct DevKeys {
    pub merchant: SigningKey,
    pub platform: SigningKey,
    pub api_v3: ApiV3Key,
}

impl DevKeys {
    /// Reads the keys in `dir`, creating the missing ones (mode 0600).
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        let invalid = |err: super::KeyError| io::Error::new(io::ErrorKind::InvalidData, err);
        let rsa = |name: &str| -> io::Result<SigningKey> {
            let path = dir.join(name);
            match fs::read_to_string(&path) {
                Ok(pem) => SigningKey::from_pem(&pem).map_err(invalid),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    let key = SigningKey::generate().map_err(invalid)?;
                    write_private(&path, &key.to_pem().map_err(invalid)?)?;
                    Ok(key)
                }
                Err(err) => Err(err),
            }
        };
        let merchant = rsa("merchant_key.pem")?;
        let platform = rsa("platform_key.pem")?;
        let path = dir.join("apiv3_key");
        let api_v3 = match fs::read_to_string(&path) {
            Ok(text) => ApiV3Key::new(text.trim().as_bytes()).map_err(invalid)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let key = ApiV3Key::generate();
                write_private(&path, &String::from_utf8_lossy(key.as_bytes()))?;
                key
            }
            Err(err) => return Err(err),
        };
        Ok(Self {
            merchant,
            platform,
            api_v3,
        })
    }

    /// Fresh keys held in memory only (tests).
    pub fn generate() -> Result<Self, super::KeyError> {
        Ok(Self {
            merchant: SigningKey::generate()?,
            platform: SigningKey::generate()?,
            api_v3: ApiV3Key::generate(),
        })
    }

    /// A dev merchant account on these keys: no WeChat Pay to call; ordo simulates notices
    /// to `notify_url`.
    pub fn config(
        self,
        app_id: &str,
        notify_url: String,
    ) -> Result<WeChatPayConfig, super::KeyError> {
        Ok(WeChatPayConfig {
            base_url: None,
            app_id: app_id.to_owned(),
            mch_id: "1900000000".to_owned(),
            merchant_serial: "DEV-MERCHANT".to_owned(),
            platform_key: VerifyingKey::from_pem(&self.platform.public_key_pem()?)?,
            platform_serial: None,
            merchant_key: Arc::new(self.merchant),
            api_v3_key: self.api_v3,
            notify_url,
            timeout: super::DEFAULT_TIMEOUT,
            simulator: Some(Arc::new(self.platform)),
        })
    }
}
