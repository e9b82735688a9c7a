//! Datasets: where they come from, how they are checked, how they are split.
//!
//! Everything lives under the project's `data/` folder (never committed). On
//! first use the folder is filled from a local mirror — `DATA_MIRROR`, or
//! `../shared/data` when that folder exists — or else downloaded from the
//! upstream sources. Every file is verified before use: the Berkeley
//! photographs against the SHA-256 list shipped in this crate, CIFAR-10 by its
//! record structure (size a multiple of 3,073 bytes, labels 0–9).

pub mod bsd;
pub mod cifar;
mod fetch;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The project's data folder and where to fill it from.
#[derive(Debug, Clone)]
pub struct DataStore {
    /// Folder holding `bsd/` and `cifar-10-batches-bin/`.
    pub root: PathBuf,
    /// A local copy of the datasets in the same layout, if one is known.
    pub mirror: Option<PathBuf>,
    /// Whether to download from upstream when neither data/ nor the mirror has a file.
    pub allow_download: bool,
}

impl DataStore {
    /// The default store: `./data`, the mirror from `DATA_MIRROR` or
    /// `../shared/data`, downloads allowed unless `DATA_OFFLINE=1`.
    pub fn from_env() -> Self {
        let mirror = match std::env::var_os("DATA_MIRROR") {
            Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
            _ => {
                let shared = PathBuf::from("../shared/data");
                shared.is_dir().then_some(shared)
            }
        };
        DataStore {
            root: PathBuf::from("data"),
            mirror,
            allow_download: std::env::var("DATA_OFFLINE")
                .map(|v| v != "1")
                .unwrap_or(true),
        }
    }

    /// Makes sure every dataset file is present and intact.
    pub fn ensure_all(&self) -> Result<()> {
        bsd::ensure(self)?;
        cifar::ensure(self)?;
        Ok(())
    }

    /// Why `rel` could not be found locally, for an error message: the mirror
    /// path searched (and the file it lacked), or that no mirror was found.
    pub fn not_in_mirror(&self, rel: &Path) -> String {
        match &self.mirror {
            Some(m) => format!(
                "the mirror {} has no {} (a mirror holds the layout of data/: bsd/… and cifar-10-batches-bin/…)",
                m.display(),
                rel.display()
            ),
            None => "no mirror was found (DATA_MIRROR is unset and ../shared/data, relative to the current folder, does not exist)".to_string(),
        }
    }

    /// Copies `rel` from the mirror into `data/`, returning whether it was found there.
    fn copy_from_mirror(&self, rel: &Path) -> Result<bool> {
        let Some(mirror) = &self.mirror else {
            return Ok(false);
        };
        // A mistyped DATA_MIRROR must not turn silently into a download.
        if !mirror.is_dir() {
            anyhow::bail!(
                "the data mirror {} (DATA_MIRROR) is not a folder; point DATA_MIRROR at a folder with the layout of data/ (bsd/…, cifar-10-batches-bin/…), or unset it to use ../shared/data or download",
                mirror.display()
            );
        }
        let src = mirror.join(rel);
        if !src.is_file() {
            return Ok(false);
        }
        let dst = self.root.join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the data folder {}", parent.display()))?;
        }
        let bytes =
            std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
        write_atomically(&dst, &bytes)?;
        Ok(true)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// concurrent reader (another run or test filling the same data folder) sees
/// either no file or the whole file, never a partial one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    // Unique per process and per call, so concurrent writers never share a temporary file.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}-{call}.partial",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
}

/// A hint appended to every data error: how to get a good copy.
pub(crate) fn repair_hint(store: &DataStore) -> String {
    let mirror = match &store.mirror {
        Some(m) => format!("the mirror {}", m.display()),
        None => "upstream (no mirror found; set DATA_MIRROR to use one)".to_string(),
    };
    format!(
        "delete the damaged file (or the whole {} folder) and run `make data` to fetch it again from {mirror}",
        store.root.display()
    )
}
