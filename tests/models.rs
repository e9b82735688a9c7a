//! The denoiser architectures: shapes, the identity at initialisation, the
//! cost count, and that a few training steps make progress.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use exprun::config::DenoiserSpec;
use exprun::models::denoiser::Denoiser;
use exprun::train::warmup_cosine_lr;

fn spec(
    arch: &str,
    features: usize,
    depth: usize,
    unshuffle: usize,
    levels: usize,
) -> DenoiserSpec {
    DenoiserSpec {
        arch: arch.into(),
        features,
        depth,
        unshuffle,
        levels,
    }
}

fn specs() -> Vec<DenoiserSpec> {
    vec![
        spec("residual_cnn", 8, 4, 1, 1),
        spec("residual_cnn", 8, 4, 2, 1),
        spec("unet", 8, 1, 1, 3),
        spec("unet", 8, 2, 2, 2),
    ]
}

#[test]
fn every_architecture_keeps_the_shape_and_starts_as_the_identity() {
    let device = Device::flex();
    for s in specs() {
        let model = Denoiser::new(&s, &device);
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
        let y = model.forward(x.clone());
        assert_eq!(y.dims(), [2, 1, 16, 16], "{s:?}");
        // The last convolution starts at zero: no noise predicted yet.
        let diff = (y - x).abs().max().into_scalar::<f64>();
        assert!(diff < 1e-6, "{s:?} is not the identity at start: {diff}");
    }
}

#[test]
fn the_cost_count_matches_the_parameter_count_of_the_convolutions() {
    // For a fully convolutional net on an s×s image, multiply-adds equal
    // Σ weights × output positions; at unshuffle 1 and one level every
    // 3×3 weight acts at all s² positions, so MACs = (parameters − biases)·s².
    let device = Device::flex();
    let s = spec("unet", 8, 2, 1, 1);
    let model = Denoiser::new(&s, &device);
    let biases = 8 + 4 * 8 + 1; // head, four block convolutions, tail
    let weights = (model.num_params() - biases) as u64;
    assert_eq!(Denoiser::macs_per_image(&s, 32), weights * 32 * 32);
}

#[test]
fn a_unet_with_warm_up_learns_to_denoise_in_a_few_steps() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let s = spec("unet", 8, 1, 1, 2);
    let mut model = Denoiser::new(&s, &device);
    let mut optim = AdamConfig::new().init();
    // A smooth pattern under strong noise: the identity's MSE is σ² = 0.04.
    let clean = Tensor::<4>::random([8, 1, 16, 16], Distribution::Uniform(0.4, 0.6), &device);
    let steps = 60;
    let mut last = f64::NAN;
    for step in 0..steps {
        let noise = Tensor::<4>::random([8, 1, 16, 16], Distribution::Normal(0.0, 0.2), &device);
        let diff = model.forward(clean.clone() + noise) - clean.clone();
        let loss = (diff.clone() * diff).mean();
        last = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = warmup_cosine_lr(3e-3, 3e-5, 0.1, step as f64 / steps as f64);
        model = optim.step(lr, model, grads);
    }
    assert!(
        last < 0.02,
        "loss {last} did not fall well below the noise variance 0.04"
    );
}

#[test]
fn warm_up_ramps_then_the_cosine_decays() {
    assert!(warmup_cosine_lr(1.0, 0.01, 0.1, 0.0) < 0.01);
    assert!((warmup_cosine_lr(1.0, 0.01, 0.1, 0.05) - 0.5).abs() < 1e-9);
    assert!((warmup_cosine_lr(1.0, 0.01, 0.1, 0.1) - 1.0).abs() < 1e-9);
    assert!((warmup_cosine_lr(1.0, 0.01, 0.1, 1.0) - 0.01).abs() < 1e-9);
    assert!((warmup_cosine_lr(1.0, 0.01, 0.0, 0.0) - 1.0).abs() < 1e-9);
}
