//! Berkeley grayscale photographs for task 1: Train400 (training and
//! validation) and BSD68 (test), both from the DnCNN repository.
//!
//! The two sets are disjoint by construction (BSD68 is the Berkeley test
//! split; Train400 crops come from its training split). Every image goes
//! through the same preparation — a centred square crop, then an antialiased
//! Lanczos-3 downscale to `image_size` — so test images are prepared exactly
//! like training images (T1.3).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use image::imageops::FilterType;
use image::{ImageBuffer, Luma};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::fetch::{download, expect_digest, sha256_hex};
use super::{DataStore, repair_hint, write_atomically};

/// SHA-256 of every file, as published with the mirror (`bsd/SHA256SUMS`).
const SHA256SUMS: &str = include_str!("bsd.sha256");

/// The DnCNN repository commit the files come from.
const UPSTREAM_COMMIT: &str = "e93b27812d3ff523a3a79d19e5e50d233d7a8d0a";

/// A grayscale image with values in [0, 1], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    /// File name it came from, e.g. `test_017.png`.
    pub name: String,
    pub size: usize,
    pub pixels: Vec<f32>,
}

/// The three disjoint sets of task 1.
#[derive(Debug, Clone)]
pub struct PhotoSplits {
    pub train: Vec<Gray>,
    pub val: Vec<Gray>,
    pub test: Vec<Gray>,
}

/// `(relative path under bsd/, sha256)` for every file.
fn manifest() -> impl Iterator<Item = (&'static str, &'static str)> {
    SHA256SUMS.lines().filter_map(|line| {
        let (hash, path) = line.split_once("  ")?;
        Some((path.trim(), hash.trim()))
    })
}

fn upstream_url(rel: &str) -> String {
    let (folder, file) = rel.split_once('/').unwrap_or(("", rel));
    let dir = if folder == "Train400" {
        "TrainingCodes/DnCNN_TrainingCodes_v1.0/data/Train400"
    } else {
        "testsets/BSD68"
    };
    format!("https://raw.githubusercontent.com/cszn/DnCNN/{UPSTREAM_COMMIT}/{dir}/{file}")
}

/// Makes sure every Berkeley file is in `data/bsd/` and matches its checksum.
pub fn ensure(store: &DataStore) -> Result<()> {
    for (rel, hash) in manifest() {
        let rel_in_store = Path::new("bsd").join(rel);
        let path = store.root.join(&rel_in_store);
        if !path.is_file() && !store.copy_from_mirror(&rel_in_store)? {
            if !store.allow_download {
                bail!(
                    "{} is missing: {}, and downloads are off (DATA_OFFLINE=1); set DATA_MIRROR to a mirror folder or allow downloads",
                    path.display(),
                    store.not_in_mirror(&rel_in_store)
                );
            }
            let bytes = download(&upstream_url(rel), 4 << 20)?;
            expect_digest(&format!("the download of {rel}"), &sha256_hex(&bytes), hash)?;
            write_atomically(&path, &bytes)?;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        expect_digest(&path.display().to_string(), &sha256_hex(&bytes), hash)
            .with_context(|| repair_hint(store))?;
    }
    Ok(())
}

/// Loads, verifies and prepares the three splits.
///
/// Training and validation images are a seeded uniform draw without
/// replacement from Train400; the test images are the first `test_images`
/// files of BSD68 in name order.
pub fn load_splits(
    store: &DataStore,
    train: usize,
    val: usize,
    test: usize,
    size: usize,
    split_seed: u64,
) -> Result<PhotoSplits> {
    ensure(store)?;
    let train_dir = store.root.join("bsd/Train400");
    let test_dir = store.root.join("bsd/BSD68");
    let mut pool = sorted_pngs(&train_dir)?;
    let mut rng = StdRng::seed_from_u64(split_seed);
    pool.shuffle(&mut rng);
    if pool.len() < train + val {
        bail!(
            "{} holds {} images, fewer than the {} asked for",
            train_dir.display(),
            pool.len(),
            train + val
        );
    }
    let load_all = |paths: &[PathBuf]| -> Result<Vec<Gray>> {
        paths.iter().map(|p| load_prepared(p, size)).collect()
    };
    let tests = sorted_pngs(&test_dir)?;
    Ok(PhotoSplits {
        train: load_all(&pool[..train])?,
        val: load_all(&pool[train..train + val])?,
        test: load_all(&tests[..test.min(tests.len())])?,
    })
}

fn sorted_pngs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}; run `make data`", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one photograph and prepares it: grayscale, centred square crop,
/// Lanczos-3 downscale to `size`×`size`, values clamped to [0, 1].
pub fn load_prepared(path: &Path, size: usize) -> Result<Gray> {
    let img = image::open(path)
        .with_context(|| format!("cannot decode {} as an image", path.display()))?
        .to_luma32f();
    let (w, h) = img.dimensions();
    let side = w.min(h);
    let cropped =
        image::imageops::crop_imm(&img, (w - side) / 2, (h - side) / 2, side, side).to_image();
    let resized: ImageBuffer<Luma<f32>, Vec<f32>> =
        image::imageops::resize(&cropped, size as u32, size as u32, FilterType::Lanczos3);
    let pixels = resized
        .into_raw()
        .into_iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect();
    Ok(Gray {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size,
        pixels,
    })
}
