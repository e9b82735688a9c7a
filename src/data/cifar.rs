//! CIFAR-10 images for task 2, read from the official binary format.
//!
//! Only the first 4,000 records of `data_batch_1.bin` are used, whether the
//! file came from the mirror (which holds exactly those) or from the full
//! upstream archive, so both sources give the same images. The official
//! training batches are in random order, so a seeded uniform draw from them
//! is a uniform draw of CIFAR-10 training images; labels are never read.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::fetch::{download, expect_digest, md5_hex};
use super::{DataStore, repair_hint, write_atomically};
use crate::config::CIFAR_TRAIN_RECORDS;

/// Bytes of one record: a label byte, then 3 × 32 × 32 pixel bytes.
pub const RECORD: usize = 3073;
/// Pixel values of one image.
pub const PIXELS: usize = 3072;

const TRAIN_FILE: &str = "cifar-10-batches-bin/data_batch_1.bin";
const UPSTREAM_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
const UPSTREAM_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";

/// One CIFAR-10 image: its record index and its pixels, channel-major (CHW).
#[derive(Debug, Clone, PartialEq)]
pub struct ColorImage {
    /// Index of the record in `data_batch_1.bin`.
    pub index: usize,
    /// 3 × 32 × 32 bytes, red plane then green then blue.
    pub bytes: Vec<u8>,
}

impl ColorImage {
    /// Pixels scaled to [0, 1], CHW.
    pub fn to_f32(&self) -> Vec<f32> {
        self.bytes.iter().map(|&b| b as f32 / 255.0).collect()
    }
}

/// Training, validation and held-out images, disjoint.
#[derive(Debug, Clone)]
pub struct ImageSplits {
    pub train: Vec<ColorImage>,
    /// For tuning: never trained on, never reported as a result.
    pub val: Vec<ColorImage>,
    /// For the generalisation result only: never trained or tuned on.
    pub heldout: Vec<ColorImage>,
}

/// Makes sure `data_batch_1.bin` is present and structurally sound.
pub fn ensure(store: &DataStore) -> Result<()> {
    let path = store.root.join(TRAIN_FILE);
    if !path.is_file() && !store.copy_from_mirror(Path::new(TRAIN_FILE))? {
        if !store.allow_download {
            bail!(
                "{} is missing: {}, and downloads are off (DATA_OFFLINE=1); set DATA_MIRROR to a mirror folder or allow downloads",
                path.display(),
                store.not_in_mirror(Path::new(TRAIN_FILE))
            );
        }
        fetch_upstream(store)?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    check_records(&bytes, CIFAR_TRAIN_RECORDS)
        .with_context(|| format!("{} is damaged", path.display()))
        .with_context(|| repair_hint(store))?;
    Ok(())
}

/// Checks the record structure: whole records, enough of them, labels 0–9.
pub fn check_records(bytes: &[u8], needed: usize) -> Result<()> {
    if !bytes.len().is_multiple_of(RECORD) {
        bail!(
            "its size, {} bytes, is not a multiple of the {RECORD}-byte record (the file is truncated or not CIFAR-10)",
            bytes.len()
        );
    }
    let records = bytes.len() / RECORD;
    if records < needed {
        bail!("it holds {records} records; {needed} are needed");
    }
    if let Some(i) = bytes.chunks_exact(RECORD).position(|r| r[0] > 9) {
        bail!(
            "record {i} has label byte {}, outside 0–9 (the file is corrupted)",
            bytes[i * RECORD]
        );
    }
    Ok(())
}

/// Downloads the official archive, checks its MD5 and unpacks the training batch.
fn fetch_upstream(store: &DataStore) -> Result<()> {
    let archive = download(UPSTREAM_URL, 200 << 20)?;
    expect_digest("the CIFAR-10 archive", &md5_hex(&archive), UPSTREAM_MD5)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&archive[..]));
    for entry in tar.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name.ends_with("data_batch_1.bin") {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            write_atomically(&store.root.join(TRAIN_FILE), &buf)?;
            return Ok(());
        }
    }
    bail!("the CIFAR-10 archive has no data_batch_1.bin")
}

/// Loads the seeded uniform draw of training, validation and held-out images.
pub fn load_splits(
    store: &DataStore,
    train: usize,
    val: usize,
    heldout: usize,
    seed: u64,
) -> Result<ImageSplits> {
    ensure(store)?;
    let path = store.root.join(TRAIN_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut order: Vec<usize> = (0..CIFAR_TRAIN_RECORDS).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    if train + val + heldout > order.len() {
        bail!(
            "{train} training, {val} validation and {heldout} held-out images exceed the {} available",
            order.len()
        );
    }
    let take = |idx: &[usize]| -> Vec<ColorImage> {
        idx.iter()
            .map(|&i| ColorImage {
                index: i,
                bytes: bytes[i * RECORD + 1..(i + 1) * RECORD].to_vec(),
            })
            .collect()
    };
    Ok(ImageSplits {
        train: take(&order[..train]),
        val: take(&order[train..train + val]),
        heldout: take(&order[train + val..train + val + heldout]),
    })
}
