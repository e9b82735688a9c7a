//! PSNR and SSIM against values computed independently.

use exprun::metrics::{mse, psnr, ssim};

fn pattern_a(n: usize) -> Vec<f32> {
    (0..n * n)
        .map(|i| (((i % n) * 7 + (i / n) * 13) % 17) as f32 / 16.0)
        .collect()
}

#[test]
fn psnr_of_a_known_error_is_exact() {
    // Every pixel off by 0.1: MSE = 0.01, PSNR = 10·log10(1/0.01) = 20 dB.
    let a = vec![0.5f32; 64];
    let b = vec![0.6f32; 64];
    assert!((mse(&a, &b) - 0.01).abs() < 1e-7);
    assert!((psnr(&a, &b) - 20.0).abs() < 1e-4);
    assert_eq!(psnr(&a, &a), 100.0, "identical images are capped at 100 dB");
}

#[test]
fn ssim_matches_scikit_image() {
    // Expected values from scikit-image 0.26.0:
    // structural_similarity(a, b, data_range=1.0, gaussian_weights=True,
    //                       sigma=1.5, use_sample_covariance=False)
    let n = 16;
    let a = pattern_a(n);
    let b: Vec<f32> = (0..n * n)
        .map(|i| {
            let (x, y) = (i % n, i / n);
            a[i] * 0.8 + 0.1 + 0.05 * (((x * y) % 3) as f32 - 1.0)
        })
        .collect();
    let got = ssim(&a, &b, n);
    assert!((got - 0.965_473_510_174_537_4).abs() < 1e-5, "got {got}");

    let n = 24;
    let ramp: Vec<f32> = (0..n * n).map(|i| (i % n) as f32 / 23.0).collect();
    let checker: Vec<f32> = (0..n * n).map(|i| ((i % n + i / n) % 2) as f32).collect();
    let got = ssim(&ramp, &checker, n);
    assert!(
        (got - 0.003_290_458_276_049_397_8).abs() < 1e-5,
        "got {got}"
    );
}

#[test]
fn ssim_is_one_for_identical_images_and_lower_for_noise() {
    let n = 32;
    let a = pattern_a(n);
    assert!((ssim(&a, &a, n) - 1.0).abs() < 1e-9);
    let noisy: Vec<f32> = a
        .iter()
        .enumerate()
        .map(|(i, v)| v + if i % 2 == 0 { 0.2 } else { -0.2 })
        .collect();
    assert!(ssim(&a, &noisy, n) < 0.9);
}
