//! The imaging cloud's settings (`[imaging]` in yiwei.toml): where DICOM files are kept
//! and how large an upload may be. See docs/imaging.md.
//!
//! The S3 credentials are never settings: object_store reads the standard `AWS_*`
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) when the binary is built with
//! `--features s3`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use yiwei_web::dicomweb::ImagingConfig;

/// `[imaging]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Imaging {
    /// `local` (a folder) or `s3` (S3-compatible storage; needs a build with `--features s3`).
    pub blob_store: String,
    /// The folder for `local`; empty means `<data_dir>/images`.
    pub folder: String,
    pub s3_bucket: String,
    pub s3_region: String,
    /// For MinIO and other non-AWS services, e.g. `http://127.0.0.1:9000`.
    pub s3_endpoint: String,
    /// The largest single instance STOW-RS accepts, in MiB.
    pub max_instance_mb: usize,
    /// The largest STOW-RS request, in MiB.
    pub max_request_mb: usize,
}

impl Default for Imaging {
    fn default() -> Self {
        Imaging {
            blob_store: "local".into(),
            folder: String::new(),
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_endpoint: String::new(),
            max_instance_mb: 512,
            max_request_mb: 8192,
        }
    }
}

impl Imaging {
    /// The web layer's imaging settings, with the blob store opened.
    pub fn to_config(&self, data_dir: &Path) -> Result<ImagingConfig> {
        if self.max_instance_mb == 0 || self.max_request_mb < self.max_instance_mb {
            bail!(
                "imaging.max_instance_mb must be at least 1 and imaging.max_request_mb at least as large"
            );
        }
        let blobs: Arc<dyn yiwei_dicom::blob::BlobStore> = match self.blob_store.as_str() {
            "local" => {
                let folder = if self.folder.is_empty() {
                    data_dir.join("images")
                } else {
                    self.folder.clone().into()
                };
                Arc::new(yiwei_dicom::blob::LocalFolder::new(folder))
            }
            "s3" => s3(self)?,
            other => bail!("imaging.blob_store must be \"local\" or \"s3\", got {other:?}"),
        };
        Ok(ImagingConfig {
            blobs,
            max_instance_bytes: self.max_instance_mb * 1024 * 1024,
            max_request_bytes: self.max_request_mb * 1024 * 1024,
        })
    }
}

#[cfg(feature = "s3")]
fn s3(c: &Imaging) -> Result<Arc<dyn yiwei_dicom::blob::BlobStore>> {
    if c.s3_bucket.is_empty() {
        bail!("imaging.s3_bucket must be set when imaging.blob_store = \"s3\"");
    }
    let endpoint = Some(c.s3_endpoint.as_str()).filter(|e| !e.is_empty());
    Ok(Arc::new(yiwei_dicom::blob::ObjectStoreBlob::s3(
        &c.s3_bucket,
        &c.s3_region,
        endpoint,
    )?))
}

#[cfg(not(feature = "s3"))]
fn s3(_: &Imaging) -> Result<Arc<dyn yiwei_dicom::blob::BlobStore>> {
    bail!(
        "imaging.blob_store = \"s3\" needs a yiwei built with `cargo build --release --features s3`"
    )
}
