//! Image-quality metrics for task 1, computed on the host in f64.
//!
//! Conventions follow the denoising literature so numbers compare with
//! published ones: images in [0, 1]; outputs clipped to [0, 1] before scoring;
//! PSNR = 10·log10(1 / MSE) per image, then averaged over images; SSIM as in
//! Wang et al. (2004) with an 11×11 Gaussian window of σ = 1.5, K1 = 0.01,
//! K2 = 0.03, population covariances, averaged over the positions where the
//! window fits inside the image (scikit-image's `structural_similarity` with
//! `gaussian_weights=True, use_sample_covariance=False, data_range=1`).

/// Mean squared error between two equally long images.
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "mse: images of different sizes");
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    sum / a.len() as f64
}

/// Peak signal-to-noise ratio in dB for data range 1; capped at 100 dB for identical images.
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let m = mse(a, b);
    if m <= 1e-10 { 100.0 } else { -10.0 * m.log10() }
}

/// Radius of the Gaussian window: scikit-image truncates at 3.5 σ, int(3.5·1.5 + 0.5) = 5.
const RADIUS: usize = 5;
const SIGMA: f64 = 1.5;

fn gaussian_window() -> [f64; 2 * RADIUS + 1] {
    let mut w = [0.0; 2 * RADIUS + 1];
    for (i, v) in w.iter_mut().enumerate() {
        let x = i as f64 - RADIUS as f64;
        *v = (-0.5 * x * x / (SIGMA * SIGMA)).exp();
    }
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    w
}

/// Separable "valid" Gaussian filter of a `size`×`size` image: the output
/// covers the `(size − 10)²` positions where the window fits.
fn filter_valid(img: &[f64], size: usize, w: &[f64]) -> Vec<f64> {
    let k = w.len();
    let out = size + 1 - k;
    let mut rows = vec![0.0; size * out];
    for y in 0..size {
        for x in 0..out {
            rows[y * out + x] = (0..k).map(|i| w[i] * img[y * size + x + i]).sum();
        }
    }
    let mut res = vec![0.0; out * out];
    for y in 0..out {
        for x in 0..out {
            res[y * out + x] = (0..k).map(|i| w[i] * rows[(y + i) * out + x]).sum();
        }
    }
    res
}

/// Structural similarity of two `size`×`size` images with data range 1.
///
/// Images smaller than the 11×11 window have no valid position; they score
/// by the single-window formula over the whole image instead.
pub fn ssim(a: &[f32], b: &[f32], size: usize) -> f64 {
    assert_eq!(a.len(), size * size, "ssim: image is not size×size");
    assert_eq!(b.len(), size * size, "ssim: image is not size×size");
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let x: Vec<f64> = a.iter().map(|&v| v as f64).collect();
    let y: Vec<f64> = b.iter().map(|&v| v as f64).collect();
    if size < 2 * RADIUS + 1 {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let vx = x.iter().map(|v| (v - mx).powi(2)).sum::<f64>() / n;
        let vy = y.iter().map(|v| (v - my).powi(2)).sum::<f64>() / n;
        let cxy = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - mx) * (q - my))
            .sum::<f64>()
            / n;
        return ((2.0 * mx * my + c1) * (2.0 * cxy + c2))
            / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
    let w = gaussian_window();
    let prod = |p: &[f64], q: &[f64]| -> Vec<f64> { p.iter().zip(q).map(|(u, v)| u * v).collect() };
    let ux = filter_valid(&x, size, &w);
    let uy = filter_valid(&y, size, &w);
    let uxx = filter_valid(&prod(&x, &x), size, &w);
    let uyy = filter_valid(&prod(&y, &y), size, &w);
    let uxy = filter_valid(&prod(&x, &y), size, &w);
    let n = ux.len() as f64;
    (0..ux.len())
        .map(|i| {
            let vx = uxx[i] - ux[i] * ux[i];
            let vy = uyy[i] - uy[i] * uy[i];
            let vxy = uxy[i] - ux[i] * uy[i];
            ((2.0 * ux[i] * uy[i] + c1) * (2.0 * vxy + c2))
                / ((ux[i] * ux[i] + uy[i] * uy[i] + c1) * (vx + vy + c2))
        })
        .sum::<f64>()
        / n
}

/// Clips every value to [0, 1], the convention before scoring a denoiser's output.
pub fn clip01(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.clamp(0.0, 1.0)).collect()
}

/// Mean MSE, PSNR and SSIM of a set of image pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quality {
    pub mse: f64,
    pub psnr: f64,
    pub ssim: f64,
}

/// Scores each `(reference, estimate)` pair and averages per image.
/// The estimate is clipped to [0, 1] first.
pub fn quality(pairs: &[(&[f32], &[f32])], size: usize) -> Quality {
    let n = pairs.len().max(1) as f64;
    let mut q = Quality::default();
    for (r, e) in pairs {
        let e = clip01(e);
        q.mse += mse(r, &e) / n;
        q.psnr += psnr(r, &e) / n;
        q.ssim += ssim(r, &e, size) / n;
    }
    q
}
