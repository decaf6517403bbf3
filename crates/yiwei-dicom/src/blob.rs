//! Where DICOM files live: a [`BlobStore`] of immutable objects under string keys.
//!
//! - [`LocalFolder`] (the default): one file per key under a folder of the data folder,
//!   written to a temporary name and renamed, so a reader never sees half a file.
//! - [`ObjectStoreBlob`]: any `object_store` backend. With the cargo feature `s3` (off by
//!   default: it adds an HTTP client stack to the build) [`ObjectStoreBlob::s3`] reaches
//!   S3-compatible storage (AWS, MinIO, Ceph, OSS/COS gateways) for the scale path;
//!   without it, the in-memory backend serves tests.
//!
//! Keys are `/`-separated segments of `[A-Za-z0-9._-]`, never `..`: they come from UIDs,
//! which are checked before they get here, and are checked again here.

use std::fmt::Debug;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A stream of a blob's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A blob store failure.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("invalid blob key {0:?}")]
    BadKey(String),
    #[error("blob store: {0}")]
    Io(String),
}

impl From<std::io::Error> for BlobError {
    fn from(e: std::io::Error) -> BlobError {
        BlobError::Io(e.to_string())
    }
}

/// Immutable objects under string keys; see the module docs.
pub trait BlobStore: Send + Sync + Debug {
    /// Store `body` under `key`, replacing any object there.
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), BlobError>>;
    /// Stream the object (or the byte `range` of it).
    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream, BlobError>>;
    /// Remove the object; removing a missing one is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BlobError>>;
    /// Where it stores, for logs and `yiwei` start-up lines (no secrets).
    fn describe(&self) -> String;
}

/// Read a whole object into memory (one instance for parsing or rendering).
pub async fn get_bytes(store: &dyn BlobStore, key: &str) -> Result<Vec<u8>, BlobError> {
    let mut stream = store.get(key, None).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// What reading an indexed object back found (`yiwei imaging verify`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Present, with the recorded size and SHA-256.
    Intact,
    /// No object under the key.
    Missing,
    /// Present, but other bytes than were stored (size in bytes, SHA-256 in hex).
    Differs { size: u64, sha256: String },
}

/// Read the object under `key` and compare it with the `size` and `sha256` (hex) the index
/// recorded when it was stored. The object is hashed as it streams, never held whole.
pub async fn check(
    store: &dyn BlobStore,
    key: &str,
    size: u64,
    sha256: &str,
) -> Result<Check, BlobError> {
    use sha2::{Digest, Sha256};
    let mut stream = match store.get(key, None).await {
        Ok(s) => s,
        Err(BlobError::NotFound(_)) => return Ok(Check::Missing),
        Err(e) => return Err(e),
    };
    let mut hasher = Sha256::new();
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let found = hex::encode(hasher.finalize());
    if seen == size && found.eq_ignore_ascii_case(sha256) {
        Ok(Check::Intact)
    } else {
        Ok(Check::Differs {
            size: seen,
            sha256: found,
        })
    }
}

/// Check a key (see the module docs).
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(BlobError::BadKey(key.to_owned()))
    }
}

/// The key of an instance's file: by UIDs and the first 16 hex digits of its SHA-256, so
/// a re-send of the same bytes lands on the same object and a different instance under a
/// reused SOP Instance UID never overwrites the stored one.
pub fn instance_key(study_uid: &str, series_uid: &str, sop_uid: &str, sha256_hex: &str) -> String {
    let digest: String = sha256_hex.chars().take(16).collect();
    format!("{study_uid}/{series_uid}/{sop_uid}-{digest}.dcm")
}

/// Files under a folder (the default: `<data folder>/images`).
#[derive(Clone, Debug)]
pub struct LocalFolder {
    root: PathBuf,
}

impl LocalFolder {
    pub fn new(root: impl Into<PathBuf>) -> LocalFolder {
        LocalFolder { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

const CHUNK: usize = 64 * 1024;

impl BlobStore for LocalFolder {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            use std::sync::atomic::{AtomicU64, Ordering};
            static N: AtomicU64 = AtomicU64::new(0);
            let tmp = path.with_extension(format!(
                "part-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let mut file = tokio::fs::File::create(&tmp).await?;
            file.write_all(&body).await?;
            file.flush().await?;
            drop(file);
            tokio::fs::rename(&tmp, &path).await?;
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream, BlobError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let mut file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(BlobError::NotFound(key.to_owned()));
                }
                Err(e) => return Err(e.into()),
            };
            let len = file.metadata().await?.len();
            let (start, end) = match range {
                Some(r) => (r.start.min(len), r.end.min(len)),
                None => (0, len),
            };
            file.seek(std::io::SeekFrom::Start(start)).await?;
            let remaining = end.saturating_sub(start);
            let stream = futures_util::stream::try_unfold(
                (file, remaining),
                |(mut file, remaining)| async move {
                    if remaining == 0 {
                        return Ok(None);
                    }
                    let want = remaining.min(CHUNK as u64) as usize;
                    let mut buf = vec![0u8; want];
                    let n = file.read(&mut buf).await?;
                    if n == 0 {
                        return Ok(None);
                    }
                    buf.truncate(n);
                    Ok(Some((Bytes::from(buf), (file, remaining - n as u64))))
                },
            );
            Ok(stream.boxed())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }
}

/// Any `object_store` backend (S3-compatible with the `s3` feature).
#[derive(Clone, Debug)]
pub struct ObjectStoreBlob {
    inner: Arc<dyn object_store::ObjectStore>,
    label: String,
}

impl ObjectStoreBlob {
    pub fn new(inner: Arc<dyn object_store::ObjectStore>, label: impl Into<String>) -> Self {
        ObjectStoreBlob {
            inner,
            label: label.into(),
        }
    }

    /// An in-memory store (tests).
    pub fn memory() -> Self {
        Self::new(Arc::new(object_store::memory::InMemory::new()), "memory")
    }

    /// An S3-compatible bucket. Credentials come from the standard `AWS_*` environment
    /// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), never from yiwei.toml;
    /// `endpoint` is set for MinIO and other non-AWS services.
    #[cfg(feature = "s3")]
    pub fn s3(bucket: &str, region: &str, endpoint: Option<&str>) -> Result<Self, BlobError> {
        let mut b = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_region(region);
        if let Some(e) = endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        let s3 = b.build().map_err(|e| BlobError::Io(e.to_string()))?;
        Ok(Self::new(Arc::new(s3), format!("s3 bucket {bucket}")))
    }
}

fn os_error(key: &str, e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound(key.to_owned()),
        e => BlobError::Io(e.to_string()),
    }
}

impl BlobStore for ObjectStoreBlob {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            check_key(key)?;
            let path = object_store::path::Path::from(key);
            self.inner
                .put_opts(&path, body.into(), Default::default())
                .await
                .map_err(|e| os_error(key, e))?;
            Ok(())
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream, BlobError>> {
        Box::pin(async move {
            check_key(key)?;
            let path = object_store::path::Path::from(key);
            let options = object_store::GetOptions {
                range: range.map(object_store::GetRange::Bounded),
                ..Default::default()
            };
            let got = self
                .inner
                .get_opts(&path, options)
                .await
                .map_err(|e| os_error(key, e))?;
            Ok(got
                .into_stream()
                .map_err(|e| std::io::Error::other(e.to_string()))
                .boxed())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async move {
            check_key(key)?;
            let path = object_store::path::Path::from(key);
            let mut done = self
                .inner
                .delete_stream(futures_util::stream::iter([Ok(path)]).boxed());
            while let Some(r) = done.next().await {
                match r {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(os_error(key, e)),
                }
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn conformance(store: &dyn BlobStore) {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        store
            .put("a/b/c.dcm", Bytes::from(body.clone()))
            .await
            .unwrap();
        assert_eq!(get_bytes(store, "a/b/c.dcm").await.unwrap(), body);
        let mut part = Vec::new();
        let mut s = store.get("a/b/c.dcm", Some(100..70_000)).await.unwrap();
        while let Some(c) = s.next().await {
            part.extend_from_slice(&c.unwrap());
        }
        assert_eq!(part, &body[100..70_000]);
        store
            .put("a/b/c.dcm", Bytes::from_static(b"new"))
            .await
            .unwrap();
        assert_eq!(get_bytes(store, "a/b/c.dcm").await.unwrap(), b"new");
        store.delete("a/b/c.dcm").await.unwrap();
        store.delete("a/b/c.dcm").await.unwrap();
        assert!(matches!(
            store.get("a/b/c.dcm", None).await.err(),
            Some(BlobError::NotFound(_))
        ));
        for bad in ["../x", "/abs", "a//b", "a/./b", "a\\b", ""] {
            assert!(
                matches!(
                    store.put(bad, Bytes::new()).await,
                    Err(BlobError::BadKey(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn the_local_folder_keeps_streams_and_ranges_objects() {
        let dir = tempfile::tempdir().unwrap();
        conformance(&LocalFolder::new(dir.path())).await;
    }

    #[tokio::test]
    async fn an_object_store_backend_behaves_the_same() {
        conformance(&ObjectStoreBlob::memory()).await;
    }

    #[tokio::test]
    async fn a_check_finds_intact_missing_and_changed_objects() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFolder::new(dir.path());
        let body = b"DICM and some pixels".to_vec();
        let hash = hex::encode(Sha256::digest(&body));
        store
            .put("s/x.dcm", Bytes::from(body.clone()))
            .await
            .unwrap();
        let size = body.len() as u64;
        assert_eq!(
            check(&store, "s/x.dcm", size, &hash).await.unwrap(),
            Check::Intact
        );
        assert_eq!(
            check(&store, "s/y.dcm", size, &hash).await.unwrap(),
            Check::Missing
        );
        store
            .put("s/x.dcm", Bytes::from_static(b"DICM and other pixels"))
            .await
            .unwrap();
        assert!(matches!(
            check(&store, "s/x.dcm", size, &hash).await.unwrap(),
            Check::Differs { size: 21, .. }
        ));
    }
}
