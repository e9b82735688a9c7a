//! Classical denoisers to compare the autoencoder with (B1): Gaussian blur
//! and non-local means, each with its one parameter chosen on the
//! validation split, and BM3D (`bm3d.rs`), which needs none beyond the known
//! noise level. All are applied to exactly the model's noisy test inputs.

mod bm3d;

pub use bm3d::bm3d;

use serde::{Deserialize, Serialize};

/// Blurs a `size`×`size` image with a Gaussian of standard deviation `sigma`
/// pixels (separable, radius ⌈3σ⌉, edges extended by reflection).
pub fn gaussian_blur(img: &[f32], size: usize, sigma: f64) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil().max(1.0) as isize;
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|v| v / total).collect();
    let n = size as isize;
    let reflect = |i: isize| -> usize {
        let mut i = i;
        while i < 0 || i >= n {
            i = if i < 0 { -i - 1 } else { 2 * n - i - 1 };
        }
        i as usize
    };
    let mut rows = vec![0.0f64; size * size];
    for y in 0..size {
        for x in 0..size {
            rows[y * size + x] = (-radius..=radius)
                .map(|k| w[(k + radius) as usize] * img[y * size + reflect(x as isize + k)] as f64)
                .sum();
        }
    }
    let mut out = vec![0.0f32; size * size];
    for y in 0..size {
        for x in 0..size {
            out[y * size + x] = (-radius..=radius)
                .map(|k| w[(k + radius) as usize] * rows[reflect(y as isize + k) * size + x])
                .sum::<f64>() as f32;
        }
    }
    out
}

/// Non-local means (Buades et al. 2005): each pixel becomes a weighted mean
/// of the pixels in a 21×21 search window, weighted by exp(−max(d² − 2σ², 0)/h²)
/// where d² is the mean squared difference of the 7×7 patches around them.
/// `sigma` is the noise level in [0, 1] units and `h` the filtering strength.
pub fn non_local_means(img: &[f32], size: usize, sigma: f64, h: f64) -> Vec<f32> {
    const PATCH: isize = 3; // 7×7 patches
    const SEARCH: isize = 10; // 21×21 search window
    let n = size as isize;
    let at = |y: isize, x: isize| -> f64 {
        let yy = y.clamp(0, n - 1) as usize;
        let xx = x.clamp(0, n - 1) as usize;
        img[yy * size + xx] as f64
    };
    let patch_area = ((2 * PATCH + 1) * (2 * PATCH + 1)) as f64;
    let mut out = vec![0.0f32; size * size];
    for y in 0..n {
        for x in 0..n {
            let (mut acc, mut wsum) = (0.0, 0.0);
            for dy in -SEARCH..=SEARCH {
                for dx in -SEARCH..=SEARCH {
                    let (qy, qx) = (y + dy, x + dx);
                    if qy < 0 || qy >= n || qx < 0 || qx >= n {
                        continue;
                    }
                    let mut d2 = 0.0;
                    for py in -PATCH..=PATCH {
                        for px in -PATCH..=PATCH {
                            let diff = at(y + py, x + px) - at(qy + py, qx + px);
                            d2 += diff * diff;
                        }
                    }
                    let d2 = d2 / patch_area;
                    let w = (-(d2 - 2.0 * sigma * sigma).max(0.0) / (h * h)).exp();
                    acc += w * at(qy, qx);
                    wsum += w;
                }
            }
            out[(y * n + x) as usize] = (acc / wsum) as f32;
        }
    }
    out
}

/// One baseline's result on the test set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineResult {
    pub method: String,
    /// The parameter chosen on the validation split, described.
    pub parameter: String,
    pub test_psnr: f64,
    pub test_ssim: f64,
    /// Mean milliseconds per 64×64 image on one core.
    pub ms_per_image: f64,
}
