//! Task 1: train a denoising autoencoder noisy → clean and evaluate it.
//!
//! Training draws, every step, random crops of the training photographs with
//! a random flip/rotation (the eight symmetries of the square) and fresh
//! Gaussian noise, so 100 photographs yield an unlimited stream of distinct
//! noisy inputs. Validation and test images are corrupted once, from a fixed
//! seed, at the same σ (T1.4), so every epoch and every model sees exactly the
//! same noisy test inputs. Noise is not clipped (benchmark convention);
//! outputs are clipped to [0, 1] before scoring.

use std::time::Instant;

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::baselines::{BaselineResult, bm3d, gaussian_blur, non_local_means};
use crate::config::DenoiseSpec;
use crate::data::DataStore;
use crate::data::bsd::{self, Gray};
use crate::images::{save_gray_grid, save_npy};
use crate::metrics::{Quality, clip01, psnr, quality, ssim};
use crate::models::denoiser::Denoiser;
use crate::runs::Run;
use crate::train::{FitOutcome, Trainer, fit, warmup_cosine_lr};

/// `(clean, estimate)` slices for scoring a set with [`quality`].
fn pairs<'a>(clean: &'a [Gray], estimates: &'a [Vec<f32>]) -> Vec<(&'a [f32], &'a [f32])> {
    clean
        .iter()
        .zip(estimates)
        .map(|(c, e)| (c.pixels.as_slice(), e.as_slice()))
        .collect()
}

/// Adds N(0, σ²) noise (σ on the 0–255 scale) to an image, unclipped.
pub fn add_noise(clean: &[f32], sigma255: f64, rng: &mut StdRng) -> Vec<f32> {
    let normal = Normal::new(0.0f32, (sigma255 / 255.0) as f32).expect("σ is validated positive");
    clean.iter().map(|&v| v + normal.sample(rng)).collect()
}

/// One fixed noisy copy of each image, drawn from `seed`.
pub fn noisy_set(images: &[Gray], sigma255: f64, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    images
        .iter()
        .map(|g| add_noise(&g.pixels, sigma255, &mut rng))
        .collect()
}

/// Seeds of the fixed noise draws: one stream per set, so the test noise does
/// not depend on the size of the other sets.
fn eval_seed(base: u64, set: &str) -> u64 {
    match set {
        "train" => base,
        "val" => base.wrapping_add(1),
        _ => base.wrapping_add(2),
    }
}

/// Applies symmetry `t` (0–7) of the square to a `size`×`size` tile.
pub fn dihedral(tile: &[f32], size: usize, t: u8) -> Vec<f32> {
    let mut out = vec![0.0; tile.len()];
    for y in 0..size {
        for x in 0..size {
            let (mut sx, mut sy) = (x, y);
            if t & 1 == 1 {
                sx = size - 1 - sx;
            }
            if t & 2 == 2 {
                sy = size - 1 - sy;
            }
            if t & 4 == 4 {
                std::mem::swap(&mut sx, &mut sy);
            }
            out[y * size + x] = tile[sy * size + sx];
        }
    }
    out
}

/// Denoises images in batches with the inference (non-autodiff) model.
pub fn denoise_all(
    model: &Denoiser,
    noisy: &[Vec<f32>],
    size: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    const BATCH: usize = 32;
    let mut out = Vec::with_capacity(noisy.len());
    for chunk in noisy.chunks(BATCH) {
        let flat: Vec<f32> = chunk.iter().flatten().copied().collect();
        let x = Tensor::<4>::from_data(TensorData::new(flat, [chunk.len(), 1, size, size]), device);
        let y: Vec<f32> = model
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .expect("float tensor");
        out.extend(y.chunks(size * size).map(<[f32]>::to_vec));
    }
    out
}

/// The inverse of each of the eight symmetries (found by applying them to a test tile).
fn dihedral_inverse(t: u8) -> u8 {
    let tile: Vec<f32> = (0..9).map(|v| v as f32).collect();
    (0..8u8)
        .find(|&u| dihedral(&dihedral(&tile, 3, t), 3, u) == tile)
        .expect("the dihedral group is closed")
}

/// Denoises with test-time self-ensemble: the mean of the model's outputs on
/// the eight flips/rotations of each image, each mapped back.
pub fn denoise_ensemble(
    model: &Denoiser,
    noisy: &[Vec<f32>],
    size: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut sum = vec![vec![0.0f32; size * size]; noisy.len()];
    for t in 0..8u8 {
        let inv = dihedral_inverse(t);
        let turned: Vec<Vec<f32>> = noisy.iter().map(|n| dihedral(n, size, t)).collect();
        for (acc, out) in sum
            .iter_mut()
            .zip(denoise_all(model, &turned, size, device))
        {
            for (a, v) in acc.iter_mut().zip(dihedral(&out, size, inv)) {
                *a += v / 8.0;
            }
        }
    }
    sum
}

/// The task-1 side of the training loop.
struct DenoiseTrainer<'a> {
    spec: &'a DenoiseSpec,
    model: Option<Denoiser>,
    optim: ModuleOptimizer,
    device: Device,
    rng: StdRng,
    train: &'a [Gray],
    eval_sets: Vec<EvalSet<'a>>,
}

/// A fixed noisy copy of a set, evaluated after every epoch.
struct EvalSet<'a> {
    name: &'static str,
    clean: &'a [Gray],
    noisy: Vec<Vec<f32>>,
}

impl DenoiseTrainer<'_> {
    /// A batch of augmented crops: `(noisy, clean)`, each `[B, 1, crop, crop]`.
    fn batch(&mut self) -> (Tensor<4>, Tensor<4>) {
        let (b, c, size) = (
            self.spec.train.batch_size,
            self.spec.train.crop,
            self.spec.data.image_size,
        );
        let mut clean = Vec::with_capacity(b * c * c);
        for _ in 0..b {
            let img = &self.train[self.rng.random_range(0..self.train.len())];
            let (x0, y0) = (
                self.rng.random_range(0..=size - c),
                self.rng.random_range(0..=size - c),
            );
            let mut tile = Vec::with_capacity(c * c);
            for y in y0..y0 + c {
                tile.extend_from_slice(&img.pixels[y * size + x0..y * size + x0 + c]);
            }
            let t = if self.spec.train.augment {
                self.rng.random_range(0..8u8)
            } else {
                0
            };
            clean.extend(dihedral(&tile, c, t));
        }
        let noisy = add_noise(&clean, self.spec.noise.sigma, &mut self.rng);
        let shape = [b, 1, c, c];
        (
            Tensor::from_data(TensorData::new(noisy, shape), &self.device),
            Tensor::from_data(TensorData::new(clean, shape), &self.device),
        )
    }
}

impl Trainer for DenoiseTrainer<'_> {
    fn metric_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for set in &self.eval_sets {
            for m in ["mse", "psnr", "ssim"] {
                names.push(format!("{}_{m}", set.name));
            }
        }
        names
    }

    fn step(&mut self, progress: f64) -> Result<f64> {
        let (noisy, clean) = self.batch();
        let model = self.model.take().expect("model present between steps");
        let diff = model.forward(noisy) - clean;
        let loss = (diff.clone() * diff).mean();
        let value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t = &self.spec.train;
        let lr = warmup_cosine_lr(t.lr, t.lr_final, t.warmup, progress);
        self.model = Some(self.optim.step(lr, model, grads));
        Ok(value)
    }

    fn evaluate(&mut self) -> Result<Vec<f64>> {
        let model = self.model.as_ref().expect("model present").valid();
        let size = self.spec.data.image_size;
        let device = self.device.clone().inner();
        let mut out = Vec::new();
        for set in &self.eval_sets {
            let denoised = denoise_all(&model, &set.noisy, size, &device);
            let loss = set
                .clean
                .iter()
                .zip(&denoised)
                .map(|(c, d)| crate::metrics::mse(&c.pixels, d))
                .sum::<f64>()
                / set.clean.len() as f64;
            let pairs = pairs(set.clean, &denoised);
            let q = quality(&pairs, size);
            out.extend([loss, q.psnr, q.ssim]);
        }
        Ok(out)
    }
}

/// Noisy-input and output quality of one set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetQuality {
    pub images: usize,
    pub noisy: Quality,
    pub denoised: Quality,
}

/// Quality at one test noise level (B2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RobustnessPoint {
    pub sigma: f64,
    pub noisy_psnr: f64,
    pub denoised_psnr: f64,
    pub denoised_ssim: f64,
}

/// Scores of one test image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageScore {
    pub name: String,
    pub noisy_psnr: f64,
    pub denoised_psnr: f64,
    pub denoised_ssim: f64,
}

/// Final numbers of a denoising run (`summary.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DenoiseSummary {
    pub sigma: f64,
    pub parameters: usize,
    pub macs_per_image: u64,
    pub fit: FitOutcome,
    pub train: SetQuality,
    pub val: SetQuality,
    pub test: SetQuality,
    pub robustness: Vec<RobustnessPoint>,
    pub test_images: Vec<ImageScore>,
    /// Test-set inference speed of the trained model, images per second.
    pub inference_images_per_s: f64,
    /// Whether the final numbers average the eight flips/rotations.
    #[serde(default)]
    pub self_ensemble: bool,
    /// File names of the `.npy` arrays in the run folder (B8).
    pub arrays: Vec<String>,
    /// Classical denoisers on the same noisy test images (B1).
    #[serde(default)]
    pub baselines: Vec<BaselineResult>,
}

/// Trains and evaluates one denoising experiment inside `run`.
pub fn execute(
    spec: &DenoiseSpec,
    run: &Run,
    store: &DataStore,
    device: &Device,
) -> Result<DenoiseSummary> {
    let d = &spec.data;
    let splits = bsd::load_splits(
        store,
        d.train_images,
        d.val_images,
        d.test_images,
        d.image_size,
        d.split_seed,
    )?;
    let sigma = spec.noise.sigma;
    let train_device = device.clone().autodiff();
    train_device.seed(spec.seed);
    let model = Denoiser::new(&spec.model, &train_device);
    let parameters = model.num_params();
    let eval_sets = vec![
        EvalSet {
            name: "train",
            clean: &splits.train,
            noisy: noisy_set(
                &splits.train,
                sigma,
                eval_seed(spec.noise.eval_seed, "train"),
            ),
        },
        EvalSet {
            name: "val",
            clean: &splits.val,
            noisy: noisy_set(&splits.val, sigma, eval_seed(spec.noise.eval_seed, "val")),
        },
        EvalSet {
            name: "test",
            clean: &splits.test,
            noisy: noisy_set(&splits.test, sigma, eval_seed(spec.noise.eval_seed, "test")),
        },
    ];
    let mut trainer = DenoiseTrainer {
        spec,
        model: Some(model),
        optim: AdamConfig::new().with_epsilon(1e-8).init(),
        device: train_device,
        rng: StdRng::seed_from_u64(spec.seed),
        train: &splits.train,
        eval_sets,
    };
    let t = &spec.train;
    let fit_outcome = fit(
        &mut trainer,
        run,
        t.epochs,
        t.steps_per_epoch,
        t.time_budget_s,
    )?;
    let model = trainer.model.take().expect("model present").valid();
    let infer_device = device.clone();
    model
        .clone()
        .save_file(run.path("model.bpk"))
        .map_err(|e| anyhow::anyhow!("cannot save the weights: {e:?}"))?;

    let size = d.image_size;
    let mut sets = trainer.eval_sets.into_iter();
    let (train_set, val_set, test_set) = (
        sets.next().expect("train"),
        sets.next().expect("val"),
        sets.next().expect("test"),
    );
    let score = |set: &EvalSet, denoised: &[Vec<f32>]| -> SetQuality {
        let noisy = pairs(set.clean, &set.noisy);
        let out = pairs(set.clean, denoised);
        SetQuality {
            images: set.clean.len(),
            noisy: quality(&noisy, size),
            denoised: quality(&out, size),
        }
    };
    let final_pass = |noisy: &[Vec<f32>]| {
        if spec.eval.self_ensemble {
            denoise_ensemble(&model, noisy, size, &infer_device)
        } else {
            denoise_all(&model, noisy, size, &infer_device)
        }
    };
    let train_out = final_pass(&train_set.noisy);
    let val_out = final_pass(&val_set.noisy);
    let started = Instant::now();
    let test_out = final_pass(&test_set.noisy);
    let inference_images_per_s = test_set.noisy.len() as f64 / started.elapsed().as_secs_f64();

    let test_images = test_set
        .clean
        .iter()
        .zip(&test_set.noisy)
        .zip(&test_out)
        .map(|((c, n), o)| ImageScore {
            name: c.name.clone(),
            noisy_psnr: psnr(&c.pixels, &clip01(n)),
            denoised_psnr: psnr(&c.pixels, &clip01(o)),
            denoised_ssim: ssim(&c.pixels, &clip01(o), size),
        })
        .collect();
    let robustness = spec
        .eval
        .robustness_sigmas
        .iter()
        .map(|&s| {
            // At the training σ, the same noisy test copy as everywhere else.
            let noisy = if s == sigma {
                test_set.noisy.clone()
            } else {
                noisy_set(
                    test_set.clean,
                    s,
                    eval_seed(spec.noise.eval_seed, "test").wrapping_add(s.to_bits()),
                )
            };
            let out = final_pass(&noisy);
            let pairs_in = pairs(test_set.clean, &noisy);
            let pairs_out = pairs(test_set.clean, &out);
            let (qi, qo) = (quality(&pairs_in, size), quality(&pairs_out, size));
            RobustnessPoint {
                sigma: s,
                noisy_psnr: qi.psnr,
                denoised_psnr: qo.psnr,
                denoised_ssim: qo.ssim,
            }
        })
        .collect();

    let arrays = write_arrays(run, &test_set, &test_out, size)?;
    let baselines = if spec.eval.baselines {
        run_baselines(&val_set, &test_set, sigma, size)
    } else {
        Vec::new()
    };
    write_examples(run, "examples_train.png", &train_set, &train_out, size)?;
    write_examples(run, "examples_test.png", &test_set, &test_out, size)?;
    write_sigma_gallery(run, &test_set.clean[0], spec.noise.eval_seed, size)?;
    write_extremes(run, &test_set, &test_out, size, sigma)?;

    let summary = DenoiseSummary {
        sigma,
        parameters,
        macs_per_image: Denoiser::macs_per_image(&spec.model, size),
        fit: fit_outcome,
        train: score(&train_set, &train_out),
        val: score(&val_set, &val_out),
        test: score(&test_set, &test_out),
        robustness,
        test_images,
        inference_images_per_s,
        self_ensemble: spec.eval.self_ensemble,
        arrays,
        baselines,
    };
    run.write_json("summary.json", &summary)?;
    Ok(summary)
}

/// Writes the test set as float32 `.npy` arrays, N×size×size (B8): the clean
/// images, exactly the noisy inputs the model saw (unclipped), and the raw
/// model outputs (unclipped; clip to [0, 1] before scoring).
fn write_arrays(run: &Run, set: &EvalSet, out: &[Vec<f32>], size: usize) -> Result<Vec<String>> {
    let shape = [set.clean.len(), size, size];
    let clean: Vec<f32> = set
        .clean
        .iter()
        .flat_map(|g| g.pixels.iter().copied())
        .collect();
    let noisy: Vec<f32> = set.noisy.iter().flatten().copied().collect();
    let denoised: Vec<f32> = out.iter().flatten().copied().collect();
    let mut names = Vec::new();
    for (name, data) in [
        ("test_clean.npy", clean),
        ("test_noisy.npy", noisy),
        ("test_denoised.npy", denoised),
    ] {
        save_npy(&run.path(name), &data, &shape)?;
        names.push(name.to_string());
    }
    Ok(names)
}

/// Rows of clean | noisy | denoised for the first images of a set.
fn write_examples(
    run: &Run,
    file: &str,
    set: &EvalSet,
    out: &[Vec<f32>],
    size: usize,
) -> Result<()> {
    let rows: Vec<Vec<&[f32]>> = (0..set.clean.len().min(4))
        .map(|i| {
            vec![
                set.clean[i].pixels.as_slice(),
                set.noisy[i].as_slice(),
                out[i].as_slice(),
            ]
        })
        .collect();
    save_gray_grid(&run.path(file), &rows, size)
}

/// One test image at increasing noise levels, to justify the chosen σ (T1.4).
fn write_sigma_gallery(run: &Run, image: &Gray, seed: u64, size: usize) -> Result<()> {
    let levels = [0.0, 10.0, 25.0, 50.0, 75.0];
    let tiles: Vec<Vec<f32>> = levels
        .iter()
        .map(|&s| {
            if s == 0.0 {
                image.pixels.clone()
            } else {
                add_noise(&image.pixels, s, &mut StdRng::seed_from_u64(seed))
            }
        })
        .collect();
    let row: Vec<&[f32]> = tiles.iter().map(Vec::as_slice).collect();
    save_gray_grid(&run.path("sigma_gallery.png"), &[row], size)
}

/// Mean PSNR of `method` over a set.
fn mean_psnr(set: &EvalSet, method: &dyn Fn(&[f32]) -> Vec<f32>) -> f64 {
    set.clean
        .iter()
        .zip(&set.noisy)
        .map(|(c, n)| psnr(&c.pixels, &clip01(&method(n))))
        .sum::<f64>()
        / set.clean.len().max(1) as f64
}

/// Tunes each classical baseline's parameter on the validation set (BM3D has
/// none to tune: it is given the true σ), then scores it on the noisy test
/// inputs the model saw (B1).
fn run_baselines(val: &EvalSet, test: &EvalSet, sigma255: f64, size: usize) -> Vec<BaselineResult> {
    let sigma = sigma255 / 255.0;
    type Method = Box<dyn Fn(&[f32]) -> Vec<f32>>;
    let blur = |b: f64| -> Method { Box::new(move |n: &[f32]| gaussian_blur(n, size, b)) };
    let nlm = |h: f64| -> Method {
        Box::new(move |n: &[f32]| non_local_means(n, size, sigma, h * sigma))
    };
    let candidates: Vec<(&str, Vec<(String, Method)>)> = vec![
        (
            "Gaussian blur",
            [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
                .iter()
                .map(|&b| (format!("blur σ = {b} px"), blur(b)))
                .collect(),
        ),
        (
            "non-local means",
            [0.3, 0.45, 0.6, 0.8, 1.0]
                .iter()
                .map(|&h| (format!("h = {h}·σ"), nlm(h)))
                .collect(),
        ),
        (
            "BM3D",
            vec![(
                "σ known, 2 stages".to_string(),
                Box::new(move |n: &[f32]| bm3d(n, size, sigma)),
            )],
        ),
    ];
    candidates
        .into_iter()
        .filter_map(|(name, options)| {
            let (label, best) = options
                .into_iter()
                .max_by(|a, b| mean_psnr(val, &*a.1).total_cmp(&mean_psnr(val, &*b.1)))?;
            let started = Instant::now();
            let outs: Vec<Vec<f32>> = test.noisy.iter().map(|n| best(n)).collect();
            let ms = 1000.0 * started.elapsed().as_secs_f64() / test.noisy.len().max(1) as f64;
            let pairs = pairs(test.clean, &outs);
            let q = quality(&pairs, size);
            Some(BaselineResult {
                method: name.into(),
                parameter: label,
                test_psnr: q.psnr,
                test_ssim: q.ssim,
                ms_per_image: ms,
            })
        })
        .collect()
}

/// The three hardest test images and the easiest (by PSNR gain): clean |
/// noisy | denoised | removed residual (noisy − denoised, scaled so ±2 of its
/// standard deviations span black to white) | error (denoised − clean, with
/// ±σ of the noise spanning black to white, the same scale in every row).
/// The residual is mostly the noise the model removed; the error shows what
/// it got wrong, and where image detail went with the noise.
fn write_extremes(
    run: &Run,
    set: &EvalSet,
    out: &[Vec<f32>],
    size: usize,
    sigma255: f64,
) -> Result<()> {
    let mut order: Vec<usize> = (0..set.clean.len()).collect();
    // Ranked by the gain over the noisy input: the denoised PSNR alone
    // mostly ranks how much texture a photograph has.
    let score = |i: usize| {
        psnr(&set.clean[i].pixels, &clip01(&out[i]))
            - psnr(&set.clean[i].pixels, &clip01(&set.noisy[i]))
    };
    order.sort_by(|&a, &b| score(a).total_cmp(&score(b)));
    let mut picks: Vec<usize> = order.iter().take(3).copied().collect();
    if let Some(&best) = order.last().filter(|b| !picks.contains(b)) {
        picks.push(best);
    }
    let centred = |a: &[f32], b: &[f32], span: f32| -> Vec<f32> {
        a.iter().zip(b).map(|(x, y)| 0.5 + (x - y) / span).collect()
    };
    let sigma = (sigma255 / 255.0) as f32;
    let maps: Vec<[Vec<f32>; 2]> = picks
        .iter()
        .map(|&i| {
            let rms = crate::metrics::mse(&set.noisy[i], &out[i]).sqrt().max(1e-6) as f32;
            [
                centred(&set.noisy[i], &out[i], 4.0 * rms),
                centred(&clip01(&out[i]), &set.clean[i].pixels, 2.0 * sigma),
            ]
        })
        .collect();
    let rows: Vec<Vec<&[f32]>> = picks
        .iter()
        .zip(&maps)
        .map(|(&i, [residual, error])| {
            vec![
                set.clean[i].pixels.as_slice(),
                set.noisy[i].as_slice(),
                out[i].as_slice(),
                residual.as_slice(),
                error.as_slice(),
            ]
        })
        .collect();
    save_gray_grid(&run.path("extremes_test.png"), &rows, size)
}
