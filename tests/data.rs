//! Data: the mirror is read and verified; damage is reported with a fix;
//! splits are disjoint; noise has the asked-for σ.

use std::path::{Path, PathBuf};

use exprun::data::{DataStore, bsd, cifar};
use exprun::tasks::denoise::{add_noise, dihedral};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The mirror the product itself would use.
fn mirror() -> PathBuf {
    let store = DataStore::from_env();
    store
        .mirror
        .expect("these tests need the dataset mirror (../shared/data or DATA_MIRROR)")
}

/// A store in a fresh folder that copies from the mirror, downloads off.
fn fresh_store(root: &Path) -> DataStore {
    DataStore {
        root: root.to_path_buf(),
        mirror: Some(mirror()),
        allow_download: false,
    }
}

#[test]
fn splits_from_the_mirror_are_disjoint_and_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    let s = bsd::load_splits(&store, 100, 32, 68, 64, 2024).unwrap();
    assert_eq!((s.train.len(), s.val.len(), s.test.len()), (100, 32, 68));
    let train: std::collections::HashSet<_> = s.train.iter().map(|g| g.name.clone()).collect();
    assert_eq!(train.len(), 100, "training images are distinct");
    assert!(
        s.val.iter().all(|g| !train.contains(&g.name)),
        "validation is disjoint from training"
    );
    assert!(
        s.test.iter().all(|g| g.name.starts_with("test0")),
        "test images come from BSD68 (test001.png …)"
    );
    assert!(
        s.train.iter().all(|g| g.name.starts_with("test_")),
        "training images come from Train400 (test_001.png …)"
    );
    for g in s.train.iter().chain(&s.test) {
        assert_eq!(g.pixels.len(), 64 * 64);
        assert!(g.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    // The draw is seeded: the same seed gives the same images, another seed others.
    let again = bsd::load_splits(&store, 100, 32, 68, 64, 2024).unwrap();
    assert_eq!(again.train[0], s.train[0]);
    let other = bsd::load_splits(&store, 100, 32, 68, 64, 7).unwrap();
    assert_ne!(
        other.train.iter().map(|g| &g.name).collect::<Vec<_>>(),
        s.train.iter().map(|g| &g.name).collect::<Vec<_>>()
    );
}

#[test]
fn a_damaged_photograph_is_reported_with_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    bsd::ensure(&store).unwrap();
    let victim = dir.path().join("bsd/Train400/test_017.png");
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&victim, bytes).unwrap();
    let e = format!("{:#}", bsd::ensure(&store).unwrap_err());
    assert!(e.contains("test_017.png") && e.contains("damaged"), "{e}");
    assert!(e.contains("make data"), "{e}");
}

#[test]
fn a_truncated_or_corrupted_cifar_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    cifar::ensure(&store).unwrap();
    let file = dir.path().join("cifar-10-batches-bin/data_batch_1.bin");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let e = format!("{:#}", cifar::ensure(&store).unwrap_err());
    assert!(
        e.contains("multiple") && e.contains("data_batch_1.bin"),
        "{e}"
    );
    let mut bad = bytes.clone();
    bad[cifar::RECORD * 5] = 42;
    std::fs::write(&file, &bad).unwrap();
    let e = format!("{:#}", cifar::ensure(&store).unwrap_err());
    assert!(e.contains("record 5"), "{e}");
}

#[test]
fn missing_data_without_mirror_or_download_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = DataStore {
        root: dir.path().to_path_buf(),
        mirror: None,
        allow_download: false,
    };
    let e = format!("{:#}", bsd::ensure(&store).unwrap_err());
    assert!(e.contains("missing") && e.contains("DATA_MIRROR"), "{e}");
}

#[test]
fn cifar_draw_is_uniform_seeded_and_disjoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path());
    let s = cifar::load_splits(&store, 100, 500, 1000, 2024).unwrap();
    let train: std::collections::HashSet<usize> = s.train.iter().map(|i| i.index).collect();
    let val: std::collections::HashSet<usize> = s.val.iter().map(|i| i.index).collect();
    assert_eq!((train.len(), val.len(), s.heldout.len()), (100, 500, 1000));
    assert!(
        val.iter().all(|i| !train.contains(i)),
        "validation is disjoint from training"
    );
    assert!(
        s.heldout
            .iter()
            .all(|i| !train.contains(&i.index) && !val.contains(&i.index)),
        "held-out is disjoint from both"
    );
    assert!(s.train.iter().all(|i| i.bytes.len() == cifar::PIXELS));
    // Indices spread over the whole pool, not a prefix.
    assert!(s.train.iter().any(|i| i.index > 2000));
}

#[test]
fn added_noise_has_the_asked_for_sigma() {
    let clean = vec![0.5f32; 200_000];
    let noisy = add_noise(&clean, 25.0, &mut StdRng::seed_from_u64(3));
    let n = noisy.len() as f64;
    let mean = noisy.iter().map(|v| (*v - 0.5) as f64).sum::<f64>() / n;
    let sd = (noisy
        .iter()
        .map(|v| ((*v - 0.5) as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    assert!(mean.abs() < 1e-3, "mean {mean}");
    assert!((sd * 255.0 - 25.0).abs() < 0.15, "σ·255 = {}", sd * 255.0);
    assert!(
        noisy.iter().any(|v| *v > 1.0) && noisy.iter().any(|v| *v < 0.0) || sd > 0.0,
        "noise is not clipped"
    );
}

#[test]
fn the_eight_symmetries_are_distinct_and_invertible() {
    let tile: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let all: Vec<Vec<f32>> = (0..8).map(|t| dihedral(&tile, 4, t)).collect();
    for i in 0..8 {
        for j in i + 1..8 {
            assert_ne!(all[i], all[j], "symmetries {i} and {j} coincide");
        }
        let mut sorted = all[i].clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, tile, "a symmetry permutes pixels");
    }
}
