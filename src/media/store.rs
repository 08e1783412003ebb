//! Where image bytes live: an `object_store` (local files or S3-compatible storage),
//! written once per content hash and never changed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{
    Attribute, Attributes, ClientConfigKey, ObjectStore, ObjectStoreExt, PutOptions, RetryConfig,
    path::Path as StorePath,
};

use super::key::MediaKey;

/// How long a browser or CDN may keep an image: a key never names other bytes.
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// `ORDO_MEDIA_STORE`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaStoreSetting {
    /// Files in a directory.
    Local(PathBuf),
    /// An S3 bucket (AWS or compatible), under a key prefix; credentials, region and
    /// endpoint from the usual `AWS_*` variables.
    S3 { bucket: String, prefix: String },
}

impl MediaStoreSetting {
    /// Blank: `<data dir>/media`; `s3://bucket/prefix`; or a directory (`file://` optional).
    pub fn parse(text: &str, data_dir: &Path) -> Result<Self, MediaError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::Local(data_dir.join("media")));
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(MediaError::Setting(format!(
                    "{text:?} names no bucket: s3://bucket/prefix"
                )));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if let Some(path) = text.strip_prefix("file://") {
            return Ok(Self::Local(PathBuf::from(path)));
        }
        if text.contains("://") {
            return Err(MediaError::Setting(format!(
                "{text:?}: only s3:// URLs and directories are supported"
            )));
        }
        Ok(Self::Local(PathBuf::from(text)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("ORDO_MEDIA_STORE: {0}")]
    Setting(String),
    #[error("could not create the media directory {path} (ORDO_MEDIA_STORE): {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the media store failed: {0}")]
    Store(#[from] object_store::Error),
}

/// A stored image being read.
pub struct StoredImage {
    pub size: u64,
    pub bytes: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

#[derive(Debug, Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    /// Whether objects carry their content type and caching (S3 does, so a CDN can
    /// serve them straight from the bucket; local files have no such attributes).
    with_attributes: bool,
    /// Where, for logs.
    description: Arc<str>,
}

impl MediaStore {
    /// Opens the store a setting names; `aws_options` (`AWS_*` names and values) win
    /// over the environment's.
    pub fn open(
        setting: &MediaStoreSetting,
        aws_options: &[(String, String)],
    ) -> Result<Self, MediaError> {
        match setting {
            MediaStoreSetting::Local(dir) => Self::local(dir),
            MediaStoreSetting::S3 { bucket, prefix } => Self::s3(bucket, prefix, aws_options),
        }
    }

    /// Files under `dir`, created if missing.
    pub fn local(dir: &Path) -> Result<Self, MediaError> {
        std::fs::create_dir_all(dir).map_err(|source| MediaError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(store),
            with_attributes: false,
            description: format!("files in {}", dir.display()).into(),
        })
    }

    fn s3(
        bucket: &str,
        prefix: &str,
        aws_options: &[(String, String)],
    ) -> Result<Self, MediaError> {
        crate::tls::install();
        // An outage answers within a request's deadline rather than retrying for minutes
        // (object_store's default) while the shopper and a connection wait.
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(5),
                ..RetryConfig::default()
            })
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "10s")
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "3s",
            );
        for (name, value) in aws_options {
            let key: AmazonS3ConfigKey = name.to_ascii_lowercase().parse()?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder.build()?;
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Ok(Self {
            store,
            with_attributes: true,
            description: format!("s3://{bucket}/{prefix}").into(),
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// Stores an image under its content key; `false` when those bytes were stored
    /// already (the same image uploaded twice is kept once). An object of another size
    /// under the key (a write cut short by a crash) is written again.
    pub async fn put(&self, key: &MediaKey, bytes: Bytes) -> Result<bool, MediaError> {
        let location = StorePath::from(key.to_string());
        match self.store.head(&location).await {
            Ok(meta) if meta.size == bytes.len() as u64 => return Ok(false),
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        let mut options = PutOptions::default();
        if self.with_attributes {
            options.attributes = Attributes::from_iter([
                (Attribute::ContentType, key.kind().content_type()),
                (Attribute::CacheControl, CACHE_CONTROL),
            ]);
        }
        // Two uploads of the same image at once both write the same bytes: harmless.
        self.store
            .put_opts(&location, bytes.into(), options)
            .await?;
        Ok(true)
    }

    /// The image a key names, if stored.
    pub async fn get(&self, key: &MediaKey) -> Result<Option<StoredImage>, MediaError> {
        match self.store.get(&StorePath::from(key.to_string())).await {
            Ok(found) => Ok(Some(StoredImage {
                size: found.meta.size,
                bytes: found.into_stream(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}
