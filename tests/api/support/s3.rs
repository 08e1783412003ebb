//! A real S3-compatible server for tests: `s3s-fs` (S3's HTTP API, SigV4 signatures
//! checked, objects as files) on port 0, in process, needing no internet.

use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use ordo::media::{MediaStore, MediaStoreSetting};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tempfile::TempDir;

const ACCESS_KEY: &str = "ordo-test-access";
const SECRET_KEY: &str = "ordo-test-secret-key";

pub struct FakeS3 {
    /// Buckets are its directories; objects, files under them.
    root: TempDir,
    pub endpoint: String,
}

impl FakeS3 {
    /// Serves S3 with one empty bucket, `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let root = tempfile::tempdir().expect("a directory for the S3 server");
        std::fs::create_dir(root.path().join(bucket)).expect("create the bucket");
        let file_system = s3s_fs::FileSystem::new(root.path())
            .unwrap_or_else(|err| panic!("s3s-fs over the directory: {err:?}"));
        let mut builder = S3ServiceBuilder::new(file_system);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the S3 server");
        let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = ConnectionBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { root, endpoint }
    }

    /// The settings ordo is given in production (`AWS_*` variables), for this server.
    pub fn aws_options(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", &self.endpoint),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// ordo's store for `ORDO_MEDIA_STORE=s3://bucket/prefix` against this server.
    pub fn media_store(&self, url: &str) -> MediaStore {
        let setting = MediaStoreSetting::parse(url, Path::new("unused")).expect("an s3 URL");
        MediaStore::open(&setting, &self.aws_options()).expect("open the S3 store")
    }

    /// What the server keeps about its objects (their content type among it).
    pub fn metadata(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(self.root.path())
            .expect("read the root")
            .flatten()
        {
            if entry
                .file_name()
                .to_string_lossy()
                .ends_with(".metadata.json")
            {
                text.push_str(&std::fs::read_to_string(entry.path()).expect("read metadata"));
            }
        }
        text
    }

    /// Every object's path under the server's root (`bucket/prefix/key`).
    pub fn objects(&self) -> Vec<PathBuf> {
        files_under(self.root.path())
    }
}

/// Every file under `dir`, relative to it, sorted; s3s-fs's own bookkeeping (hidden
/// files) left out.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(next) = dirs.pop() {
        for entry in std::fs::read_dir(&next)
            .expect("read a directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_owned());
            }
        }
    }
    found.retain(|path| {
        path.file_name()
            .is_some_and(|name| !name.to_string_lossy().starts_with('.'))
    });
    found.sort();
    found
}
