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
    /// Whether a new study gets an AI draft report (`ImageStatistics`) a minute after its
    /// first instance is stored, for the radiologist to edit or discard.
    pub ai_draft: bool,
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
            ai_draft: true,
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
            ai_draft: self.ai_draft,
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

/// `yiwei imaging …`: the imaging cloud's operator tools.
#[derive(clap::Subcommand, Debug)]
pub enum ImagingCommand {
    /// Read every indexed instance's file back from the blob store and compare its size
    /// and SHA-256 with what was stored; exits non-zero if any is missing or changed
    /// (after restoring a backup of the image folder, or to audit the object store)
    Verify,
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    pub intact: u64,
    /// (instance id, blob key) of files not found.
    pub missing: Vec<(i64, String)>,
    /// (instance id, blob key) of files whose bytes differ from what was stored.
    pub changed: Vec<(i64, String)>,
}

/// Check every indexed instance's file (see [`ImagingCommand::Verify`]); `progress` is
/// told how many were checked.
pub async fn verify(
    store: &yiwei_store::Store,
    blobs: &dyn yiwei_dicom::blob::BlobStore,
    mut progress: impl FnMut(u64),
) -> Result<Verified> {
    use yiwei_dicom::blob::Check;
    let mut out = Verified::default();
    let mut after = 0;
    let mut done = 0u64;
    loop {
        let page = yiwei_store::imaging::instance_files(store, after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for f in page {
            let size = u64::try_from(f.size_bytes).unwrap_or(0);
            match yiwei_dicom::blob::check(blobs, &f.blob_key, size, &f.sha256).await {
                Ok(Check::Intact) => out.intact += 1,
                Ok(Check::Missing) => out.missing.push((f.id, f.blob_key)),
                Ok(Check::Differs { .. }) => out.changed.push((f.id, f.blob_key)),
                Err(e) => bail!("the image store failed while reading {}: {e}", f.blob_key),
            }
            done += 1;
            progress(done);
        }
    }
    Ok(out)
}
