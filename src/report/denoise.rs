//! The task-1 section of the report.

use std::path::Path;

use anyhow::Result;

use super::doc::Block;
use super::plots::{Axes, Series, line_plot};
use super::{Catalogue, FoundRun, f, grouped, sig3, signed};
use crate::config::{DenoiseSpec, DenoiserSpec, Experiment};
use crate::models::denoiser::Denoiser;
use crate::runs::read_metrics;
use crate::tasks::denoise::{DenoiseSummary, ImageScore, SetQuality};

/// Reads the resolved experiment of a denoising run.
fn spec_of(run: &FoundRun) -> Result<DenoiseSpec> {
    match run.experiment()? {
        Experiment::Denoise(s) => Ok(s),
        Experiment::Ordering(_) => anyhow::bail!("{} is not a denoising run", run.dir.display()),
    }
}

/// Column of a metrics table by name.
pub(super) fn column(header: &[String], rows: &[Vec<f64>], name: &str) -> Vec<f64> {
    match header.iter().position(|h| h == name) {
        Some(i) => rows
            .iter()
            .map(|r| r.get(i).copied().unwrap_or(f64::NAN))
            .collect(),
        None => vec![],
    }
}

fn zip(x: &[f64], y: &[f64]) -> Vec<(f64, f64)> {
    x.iter().copied().zip(y.iter().copied()).collect()
}

fn quality_rows(name: &str, q: &SetQuality) -> Vec<Vec<String>> {
    vec![
        vec![
            format!("{name} ({} images), noisy input", q.images),
            format!("{:.5}", q.noisy.mse),
            f(q.noisy.psnr, 2),
            f(q.noisy.ssim, 3),
        ],
        vec![
            format!("{name} ({} images), denoised", q.images),
            format!("{:.5}", q.denoised.mse),
            f(q.denoised.psnr, 2),
            f(q.denoised.ssim, 3),
        ],
    ]
}

/// Builds the section; copies the run's pictures into `out`.
pub fn section(c: &Catalogue, out: &Path) -> Result<Vec<Block>> {
    let mut b = vec![Block::Heading(
        1,
        "Task 1 — a denoising autoencoder for photographs".into(),
    )];
    let Some(run) = c.primary("denoise") else {
        b.push(Block::Para("No finished denoising run was found under runs/. Run `make denoise`, then `make report`.".replace('`', "")));
        return Ok(b);
    };
    let spec = spec_of(run)?;
    let s: DenoiseSummary = run.json("summary.json")?;
    let (header, rows) = read_metrics(&run.dir.join("metrics.csv"))?;
    let d = &spec.data;
    let t = &spec.train;
    let m = &spec.model;

    b.push(Block::Heading(2, "Data, noise and model".into()));
    b.push(Block::Para(format!(
        "Training uses exactly {} grayscale natural photographs (animals, people, buildings, landscapes), drawn uniformly at random (seed {}) from the 400 Berkeley Segmentation Dataset crops of DnCNN's Train400. \
         Another {} Train400 photographs form the validation split, the only data used for tuning. \
         The test set is {} photographs of BSD68, the standard Berkeley test images, disjoint from Train400 and never used for training or tuning. \
         Every image is prepared the same way: a centred square crop, then an antialiased Lanczos-3 downscale to {}×{} pixels, values in [0, 1].",
        d.train_images, d.split_seed, d.val_images, d.test_images, d.image_size, d.image_size
    )));
    b.push(Block::Para(format!(
        "Noise is additive white Gaussian with σ = {}/255 ({:.3} in [0, 1] units), not clipped, as in the denoising literature. \
         Training draws fresh noise for every crop at every step; the train, validation and test evaluation copies are corrupted once from a fixed seed ({}), so every epoch and every method sees the same noisy inputs. \
         {}",
        spec.noise.sigma,
        spec.noise.sigma / 255.0,
        spec.noise.eval_seed,
        if spec.noise.sigma == 25.0 {
            "The figure shows why this level was chosen: at σ = 25 the structures of the photograph are still clearly recognisable and the noise is plainly visible, while σ = 50 and 75 start to bury fine detail and σ = 10 changes the picture only slightly, which leaves a denoiser little to show."
        } else {
            "The figure shows the photographs at several noise levels for comparison."
        }
    )));
    run.copy_artifact("sigma_gallery.png", out, "denoise_sigma_gallery.png")?;
    b.push(Block::Grid {
        path: "denoise_sigma_gallery.png".into(),
        caption: "One test photograph, clean and with Gaussian noise σ = 10, 25, 50 and 75 (grey levels out of 255), left to right.".into(),
        width: 0.85,
        columns: ["clean", "σ = 10", "σ = 25", "σ = 50", "σ = 75"].map(String::from).to_vec(),
    });
    b.push(Block::Para(model_description(m, &s, d.image_size)));
    b.extend(unet_layers(m, d.image_size, spec.train.crop));
    b.push(Block::Para(format!(
        "Training minimises the mean squared error between output and clean image with Adam (ε = 1e-8), learning rate {}{} decayed by a cosine schedule to {}, over {} epochs of {} steps with batches of {} random {}×{} crops{}. \
         It ran {} steps in {:.0} s of training time on the {} backend ({:.1} steps/s){}; an epoch here is {} steps of random crops, not a pass over the photographs. \
         The run's wall time ({:.0} s in all) adds the per-epoch evaluation of the three sets ({:.0} s) and the final evaluation with its baselines and noise-level sweep.",
        t.lr,
        if t.warmup > 0.0 {
            format!(" (reached by a linear warm-up over the first {:.0} % of the steps)", 100.0 * t.warmup)
        } else {
            String::new()
        },
        t.lr_final,
        s.fit.epochs_done,
        t.steps_per_epoch,
        t.batch_size,
        t.crop,
        t.crop,
        if t.augment { " with random flips and 90° rotations" } else { "" },
        grouped(s.fit.steps_done),
        s.fit.train_seconds,
        run.info.backend,
        s.fit.steps_done as f64 / s.fit.train_seconds.max(1e-9),
        if t.time_budget_s > 0.0 {
            format!(", against a limit of {:.0} s", t.time_budget_s)
        } else {
            String::new()
        },
        t.steps_per_epoch,
        run.info.wall_s.unwrap_or(f64::NAN),
        s.fit.eval_seconds,
    )));

    b.push(Block::Heading(2, "Reconstruction error".into()));
    let mut table = quality_rows("train", &s.train);
    table.extend(quality_rows("validation", &s.val));
    table.extend(quality_rows("test", &s.test));
    b.push(Block::Table {
        caption: format!(
            "Reconstruction error at σ = {}: mean over images of MSE (images in [0, 1]), PSNR (dB, higher is better) and SSIM (1 is perfect), for the noisy input and the denoised output{}; both clipped to [0, 1] before scoring (clipping alone lifts the noisy input above the {:.2} dB of unclipped noise at this σ, since it removes part of the noise near black and white).",
            spec.noise.sigma,
            if s.self_ensemble { " (the mean of the model's outputs over the eight flips and rotations of each image)" } else { "" },
            10.0 * (255.0f64 / spec.noise.sigma).powi(2).log10()
        ),
        header: ["set", "MSE", "PSNR dB", "SSIM"].map(String::from).to_vec(),
        rows: table,
    });

    if !s.baselines.is_empty() {
        let mut rows = vec![
            vec![
                "noisy input".to_string(),
                "—".into(),
                f(s.test.noisy.psnr, 2),
                f(s.test.noisy.ssim, 3),
                "—".into(),
            ],
            vec![
                if s.self_ensemble {
                    "this autoencoder (8-fold self-ensemble)".to_string()
                } else {
                    "this autoencoder".to_string()
                },
                format!("{} parameters", grouped(s.parameters)),
                f(s.test.denoised.psnr, 2),
                f(s.test.denoised.ssim, 3),
                sig3(1000.0 / s.inference_images_per_s.max(1e-9)),
            ],
        ];
        for bl in &s.baselines {
            rows.push(vec![
                bl.method.clone(),
                bl.parameter.clone(),
                f(bl.test_psnr, 2),
                f(bl.test_ssim, 3),
                sig3(bl.ms_per_image),
            ]);
        }
        b.push(Block::Table {
            caption: format!(
                "The autoencoder against classical denoisers on the same {} noisy test images (σ = {}). Blur and non-local means had their parameter chosen on the validation split; BM3D is given the true σ. Time per image: the autoencoder in batches of 32 on the {} backend (both cores of the machine{}), the baselines on one core.",
                s.test.images,
                spec.noise.sigma,
                run.info.backend,
                if s.self_ensemble { ", eight passes per image" } else { "" }
            ),
            header: ["method", "parameter", "test PSNR dB", "test SSIM", "ms per image"].map(String::from).to_vec(),
            rows,
        });
    }

    let levels = reference_levels(c);
    if let Some(table) = levels_table(&levels) {
        b.push(table);
    }
    b.extend(seed_spread(c, &run.info.experiment, run.info.seed, &s));

    let elapsed = column(&header, &rows, "elapsed_s");
    let epochs = column(&header, &rows, "epoch");
    line_plot(
        &out.join("denoise_loss.svg"),
        &Axes {
            title: "Denoising loss against training time",
            x_label: "training time (s)",
            y_label: "MSE",
            log_y: false,
        },
        &[
            Series::new(
                "train (fresh noise, mean over epoch)",
                zip(&elapsed, &column(&header, &rows, "train_loss")),
            ),
            Series::new(
                "train (fixed noisy copy)",
                zip(&elapsed, &column(&header, &rows, "train_mse")),
            ),
            Series::new(
                "validation",
                zip(&elapsed, &column(&header, &rows, "val_mse")),
            ),
            Series::new("test", zip(&elapsed, &column(&header, &rows, "test_mse"))),
        ],
    )?;
    b.push(Block::Figure {
        path: "denoise_loss.svg".into(),
        caption: "Loss (MSE) against training time in seconds (evaluation time excluded), on the training, validation and test sets.".into(),
        width: 0.8,
        pixelated: false,
    });
    let noisy_line = |v: f64| epochs.iter().map(|&e| (e, v)).collect::<Vec<_>>();
    line_plot(
        &out.join("denoise_psnr.svg"),
        &Axes {
            title: "PSNR after each epoch",
            x_label: "epoch",
            y_label: "PSNR (dB)",
            log_y: false,
        },
        &[
            Series::new("train", zip(&epochs, &column(&header, &rows, "train_psnr"))),
            Series::new(
                "validation",
                zip(&epochs, &column(&header, &rows, "val_psnr")),
            ),
            Series::new("test", zip(&epochs, &column(&header, &rows, "test_psnr"))),
            Series::new("test, noisy input", noisy_line(s.test.noisy.psnr)).dashed(),
        ],
    )?;
    b.push(Block::Figure {
        path: "denoise_psnr.svg".into(),
        caption: "Mean PSNR (dB) of the denoised images after each epoch; the dashed line is the noisy test input.".into(),
        width: 0.8,
        pixelated: false,
    });

    b.push(Block::Heading(2, "Examples".into()));
    run.copy_artifact("examples_train.png", out, "denoise_examples_train.png")?;
    run.copy_artifact("examples_test.png", out, "denoise_examples_test.png")?;
    let columns = ["clean", "noisy input", "denoised"]
        .map(String::from)
        .to_vec();
    b.push(Block::Grid {
        path: "denoise_examples_train.png".into(),
        caption: format!(
            "Training photographs at σ = {}: clean | noisy input | denoised output.",
            spec.noise.sigma
        ),
        width: 0.42,
        columns: columns.clone(),
    });
    b.push(Block::Grid {
        path: "denoise_examples_test.png".into(),
        caption: format!("Test photographs (BSD68, never seen in training) at σ = {}: clean | noisy input | denoised output.", spec.noise.sigma),
        width: 0.42,
        columns,
    });

    b.push(Block::Heading(2, "Robustness to other noise levels".into()));
    let rb = &s.robustness;
    line_plot(
        &out.join("denoise_robustness.svg"),
        &Axes {
            title: "Test PSNR against the test noise level",
            x_label: "test noise σ (grey levels out of 255)",
            y_label: "PSNR (dB)",
            log_y: false,
        },
        &robustness_series(&spec, &s, &levels),
    )?;
    b.push(Block::Figure {
        path: "denoise_robustness.svg".into(),
        caption: format!(
            "Mean test PSNR of the model trained at σ = {} when the test images carry other noise levels{}.",
            spec.noise.sigma,
            match levels.len() {
                0 | 1 => "",
                2 => ", beside the model trained at the other reference level",
                _ => ", beside the models trained at the other reference levels",
            }
        ),
        width: 0.75,
        pixelated: false,
    });
    if let Some(text) = robustness_comparison(&spec, &s, &levels) {
        b.push(Block::Para(text));
    }
    b.push(Block::Table {
        caption: "Test quality over noise levels (the model is trained at one σ only).".into(),
        header: [
            "σ",
            "noisy PSNR dB",
            "denoised PSNR dB",
            "gain dB",
            "denoised SSIM",
        ]
        .map(String::from)
        .to_vec(),
        rows: rb
            .iter()
            .map(|p| {
                vec![
                    f(p.sigma, 0),
                    f(p.noisy_psnr, 2),
                    f(p.denoised_psnr, 2),
                    signed(p.denoised_psnr - p.noisy_psnr, 2),
                    f(p.denoised_ssim, 3),
                ]
            })
            .collect(),
    });

    b.push(Block::Heading(2, "Analysis".into()));
    b.extend(analysis(
        &spec,
        &s,
        &column(&header, &rows, "val_mse"),
        &column(&header, &rows, "val_psnr"),
    ));
    if run.dir.join("extremes_test.png").is_file() {
        run.copy_artifact("extremes_test.png", out, "denoise_extremes_test.png")?;
        b.push(Block::Grid {
            path: "denoise_extremes_test.png".into(),
            caption: format!("The three hardest test images (top rows) and the easiest (bottom row), by the PSNR gain over the noisy input: clean | noisy | denoised | removed residual (noisy − denoised; mid-grey is 0, and ±2 standard deviations of the residual span black to white) | error (denoised − clean; mid-grey is 0, and ±σ = ±{}/255 spans black to white in every row).", spec.noise.sigma),
            width: 0.68,
            columns: ["clean", "noisy", "denoised", "residual", "error"].map(String::from).to_vec(),
        });
    }
    Ok(b)
}

/// The spread over training seeds of the reference experiment, from the
/// latest `<experiment>-seeds` sweep, and what it means for the margin over
/// BM3D: one seed's result alone can be a lucky or an unlucky draw. Every
/// seed sees the same noisy test images, so BM3D's number is the same.
fn seed_spread(c: &Catalogue, experiment: &str, seed: u64, s: &DenoiseSummary) -> Option<Block> {
    let runs: Vec<DenoiseSummary> = c
        .latest_sweep(&format!("{experiment}-seeds"))
        .into_iter()
        .filter_map(|r| r.json("summary.json").ok())
        .collect();
    if runs.len() < 2 {
        return None;
    }
    let psnr: Vec<f64> = runs.iter().map(|r| r.test.denoised.psnr).collect();
    let ssim: Vec<f64> = runs.iter().map(|r| r.test.denoised.ssim).collect();
    let (pm, ps) = super::sweeps::mean_std(&psnr);
    let (sm, ss) = super::sweeps::mean_std(&ssim);
    let bm3d = s.baselines.iter().find(|b| b.method == "BM3D");
    let margin = bm3d.map_or(String::new(), |b| {
        let meeting = psnr
            .iter()
            .zip(&ssim)
            .filter(|(p, q)| **p - b.test_psnr >= TARGET_MARGIN_DB && **q > b.test_ssim)
            .count();
        format!(
            " Against BM3D's {:.2} dB and {:.3} that is a mean margin of {} dB and {} of SSIM; {} of the {} seeds reach the goal of {TARGET_MARGIN_DB} dB with a higher SSIM.",
            b.test_psnr,
            b.test_ssim,
            signed(pm - b.test_psnr, 2),
            signed(sm - b.test_ssim, 3),
            meeting,
            runs.len()
        )
    });
    Some(Block::Para(format!(
        "Over {} training seeds of the same experiment (the seed sweep of the last section), the test PSNR is {:.2} ± {:.2} dB and SSIM {:.3} ± {:.3} (mean ± standard deviation over seeds); the reference run above has seed {seed}.{margin}",
        runs.len(),
        pm,
        ps,
        sm,
        ss
    )))
}

/// The U-Net layer by layer, for one whole image: what each stage does, at
/// which resolution, with how many channels and parameters.
fn unet_layers(m: &DenoiserSpec, size: usize, crop: usize) -> Option<Block> {
    if m.arch != "unet" {
        return None;
    }
    let u = m.unshuffle.max(1);
    let c = |l: usize| m.features << l;
    let side = |l: usize| {
        let s = (size / u) >> l;
        format!("{s}×{s}")
    };
    let conv = |k: usize, i: usize, o: usize| k * k * i * o + o;
    let unit = |ch: usize| m.depth * 2 * conv(3, ch, ch);
    let units = if m.depth == 1 {
        "residual unit: 2 × (3×3 conv, ReLU)".to_string()
    } else {
        format!("{} residual units: 2 × (3×3 conv, ReLU) each", m.depth)
    };
    let mut rows = vec![vec![
        "head".to_string(),
        side(0),
        format!("{} → {}", u * u, c(0)),
        "3×3 conv, ReLU".to_string(),
        grouped(conv(3, u * u, c(0))),
    ]];
    for l in 0..m.levels {
        let stage = if l + 1 == m.levels {
            "bottleneck".to_string()
        } else {
            format!("encoder {}", l + 1)
        };
        rows.push(vec![
            stage,
            side(l),
            c(l).to_string(),
            units.clone(),
            grouped(unit(c(l))),
        ]);
        if l + 1 < m.levels {
            rows.push(vec![
                format!("down {}", l + 1),
                format!("{} → {}", side(l), side(l + 1)),
                format!("{} → {}", c(l), c(l + 1)),
                "2×2 conv, stride 2, ReLU".to_string(),
                grouped(conv(2, c(l), c(l + 1))),
            ]);
        }
    }
    for l in (0..m.levels.saturating_sub(1)).rev() {
        rows.push(vec![
            format!("up {}", l + 1),
            format!("{} → {}", side(l + 1), side(l)),
            format!("{} → {}", c(l + 1), c(l)),
            "1×1 conv to 4× channels, pixel-shuffle ×2, + skip".to_string(),
            grouped(conv(1, c(l + 1), 4 * c(l))),
        ]);
        rows.push(vec![
            format!("decoder {}", l + 1),
            side(l),
            c(l).to_string(),
            units.clone(),
            grouped(unit(c(l))),
        ]);
    }
    rows.push(vec![
        "tail".to_string(),
        side(0),
        format!("{} → {}", c(0), u * u),
        "3×3 conv (zero at start); output = input − tail".to_string(),
        grouped(conv(3, c(0), u * u)),
    ]);
    Some(Block::Table {
        caption: format!(
            "The denoiser layer by layer, for a whole {size}×{size} image (training sees {crop}×{crop} crops, on which every side is {crop}/{size} of the one shown)."
        ),
        header: ["stage", "resolution", "channels", "layers", "parameters"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

/// Why the easiest image may be easy for reasons other than the model: a
/// noisy input well above the mean PSNR means the photograph is largely near
/// black or white, where clipping to [0, 1] removes part of the noise.
fn easiest_note(best: &ImageScore, mean_noisy_psnr: f64) -> String {
    if best.noisy_psnr > mean_noisy_psnr + 1.0 {
        format!(
            "; its noisy input already scores {:.2} dB against a mean of {:.2} dB, since much of it is near black or white, where clipping to [0, 1] removes part of the noise",
            best.noisy_psnr, mean_noisy_psnr
        )
    } else {
        String::new()
    }
}

/// Whether the model reached the goal set for it: at least
/// [`TARGET_MARGIN_DB`] above the best classical method, with a higher SSIM.
fn target_verdict(margin_db: f64, margin_ssim: f64) -> String {
    let met = margin_db >= TARGET_MARGIN_DB && margin_ssim > 0.0;
    format!(
        "The goal set for this model is a margin of at least {TARGET_MARGIN_DB} dB with a higher SSIM; it is {}.",
        if met {
            "met".to_string()
        } else {
            format!(
                "not met: {} dB of PSNR short",
                f((TARGET_MARGIN_DB - margin_db).max(0.0), 2)
            )
        }
    )
}

/// The PSNR margin over the best classical denoiser that the reference
/// model aims for (issue 3 of the project).
const TARGET_MARGIN_DB: f64 = 0.5;

/// The discussion, with every number taken from the summary.
fn analysis(
    spec: &DenoiseSpec,
    s: &DenoiseSummary,
    val_mse: &[f64],
    val_psnr: &[f64],
) -> Vec<Block> {
    let best_val = val_mse.iter().copied().fold(f64::INFINITY, f64::min);
    let last_val = val_mse.last().copied().unwrap_or(f64::NAN);
    let curve = if last_val <= best_val {
        "The validation curve shows no overfitting in time either: the last epoch has the lowest validation loss.".to_string()
    } else if last_val <= best_val * 1.01 {
        format!(
            "The validation curve shows no overfitting in time either: the last epoch's validation loss is within 1 % of the lowest ({:.6} against {:.6}).",
            last_val, best_val
        )
    } else {
        format!(
            "The validation loss ends {:.1} % above its lowest value ({:.6} against {:.6}): training went on past the point where it generalised best.",
            100.0 * (last_val / best_val - 1.0),
            last_val,
            best_val
        )
    };
    let ensemble = match (s.self_ensemble, val_psnr.last()) {
        (true, Some(plain)) => format!(
            " The final numbers average the model's outputs over the eight flips and rotations of each image (self-ensemble); on the validation split this moves PSNR from {:.2} dB (single pass, last epoch) to {:.2} dB. The per-epoch curves are single passes of the unclipped output, so their last point differs slightly from the table.",
            plain, s.val.denoised.psnr
        ),
        _ => String::new(),
    };
    let gain_test = s.test.denoised.psnr - s.test.noisy.psnr;
    let mut worst = s.test_images.clone();
    // Ranked by gain over the noisy input, as the extremes figure is: the
    // denoised PSNR alone mostly ranks how busy a photograph is.
    let gain = |w: &ImageScore| w.denoised_psnr - w.noisy_psnr;
    worst.sort_by(|a, b| gain(a).total_cmp(&gain(b)));
    let best = worst.last().cloned();
    let worst3: Vec<String> = worst
        .iter()
        .take(3)
        .map(|w| {
            format!(
                "{} ({:.2} dB, {} dB)",
                w.name,
                w.denoised_psnr,
                signed(gain(w), 2)
            )
        })
        .collect();
    let helps: Vec<String> = s
        .robustness
        .iter()
        .filter(|p| p.denoised_psnr > p.noisy_psnr)
        .map(|p| f(p.sigma, 0))
        .collect();
    let hurts: Vec<String> = s
        .robustness
        .iter()
        .filter(|p| p.denoised_psnr <= p.noisy_psnr)
        .map(|p| f(p.sigma, 0))
        .collect();
    let best_baseline = s
        .baselines
        .iter()
        .max_by(|a, b| a.test_psnr.total_cmp(&b.test_psnr));
    let versus = match best_baseline {
        Some(bl) => format!(
            " The best classical baseline, {} ({}), reaches {:.2} dB and SSIM {:.3}: the autoencoder's margin over it is {} dB of PSNR and {} of SSIM. {}",
            bl.method,
            bl.parameter,
            bl.test_psnr,
            bl.test_ssim,
            signed(s.test.denoised.psnr - bl.test_psnr, 2),
            signed(s.test.denoised.ssim - bl.test_ssim, 3),
            target_verdict(
                s.test.denoised.psnr - bl.test_psnr,
                s.test.denoised.ssim - bl.test_ssim
            ),
        ),
        None => String::new(),
    };
    let mut blocks = vec![Block::Para(format!(
        "**Performance.** On the {} test photographs the model raises the mean PSNR from {:.2} dB (noisy input) to {:.2} dB, a gain of {:.2} dB, and SSIM from {:.3} to {:.3}; the mean squared error falls by a factor of {:.1}.{}",
        s.test.images,
        s.test.noisy.psnr,
        s.test.denoised.psnr,
        gain_test,
        s.test.noisy.ssim,
        s.test.denoised.ssim,
        s.test.noisy.mse / s.test.denoised.mse.max(1e-12),
        versus,
    ))];
    blocks.push(Block::Para(format!(
        "**Generalisation.** Training and validation photographs come from the same source (Train400), so their gap measures overfitting: {:.2} dB against {:.2} dB, {:.2} dB. \
         Validation against test measures the shift between the two collections: {:.2} dB against {:.2} dB ({} dB). Train400 holds 180×180 crops and BSD68 whole 481×321 photographs, so the same downscale to {}×{} shrinks a test photograph about 1.8 times more, and its texture is denser per pixel, which is harder to tell from noise. \
         The small train–validation gap fits how the model is trained: every step sees new crops, flips and noise, so with {} parameters it learns a local rule for telling noise from image structure rather than the {} photographs themselves. \
         SSIM follows the image content more than the model: it is higher on the test set already for the noisy inputs ({:.3} against {:.3} on train). {}{}",
        s.train.denoised.psnr,
        s.val.denoised.psnr,
        s.train.denoised.psnr - s.val.denoised.psnr,
        s.val.denoised.psnr,
        s.test.denoised.psnr,
        signed(s.test.denoised.psnr - s.val.denoised.psnr, 2),
        spec.data.image_size,
        spec.data.image_size,
        grouped(s.parameters),
        s.train.images,
        s.test.noisy.ssim,
        s.train.noisy.ssim,
        curve,
        ensemble
    )));
    if let Some(best) = best {
        blocks.push(Block::Para(format!(
            "**Where it fails.** The hardest test images, those the model improves least, are {} (denoised PSNR and gain over the noisy input), against a mean of {:.2} dB and a mean gain of {} dB; the easiest is {} ({:.2} dB, {} dB){}. The figure below shows them with the residual the model removed and its error: the residual looks like plain noise; the error map shows where the output is wrong: most in fine texture and at edges, where the model both leaves noise in and smooths detail away, least in flat regions.",
            worst3.join(", "),
            s.test.denoised.psnr,
            signed(gain_test, 2),
            best.name,
            best.denoised_psnr,
            signed(gain(&best), 2),
            easiest_note(&best, s.test.noisy.psnr)
        )));
    }
    blocks.push(Block::Para(format!(
        "**Other noise levels.** Trained at σ = {} only, the model {}. Below the training level it treats part of the image as noise and oversmooths; above it leaves noise in. A model meant for unknown noise levels would be trained on a range of σ (a blind denoiser) or given σ as an input, as FFDNet does.",
        spec.noise.sigma,
        match (helps.is_empty(), hurts.is_empty()) {
            (false, false) => format!("improves the input at σ = {} and does not at σ = {}", helps.join(", "), hurts.join(", ")),
            (false, true) => format!("improves the input at every level tested (σ = {})", helps.join(", ")),
            (true, _) => format!("improves the input at none of the levels tested (σ = {})", hurts.join(", ")),
        },
    )));
    blocks.push(Block::Para(format!(
        "**How tuning and the final evaluation are done.** Choices (architecture and depth, learning rate, warm-up, batch size against the number of steps) were compared on the validation split only, in the tuning sweeps of the last section; the test photographs enter only the per-epoch curve the brief asks for and the final table, and no decision was taken from them. \
         The final evaluation runs the trained model on the fixed noisy test copy{}, clips the output to [0, 1], and averages MSE, PSNR and SSIM (Gaussian window σ = 1.5, as in Wang et al. 2004) over images.",
        if s.self_ensemble { " (averaging its outputs over the eight flips and rotations of each image)" } else { " once" }
    )));
    blocks.push(Block::Para(format!(
        "**Checking from outside.** The run folder holds the test set as float32 NumPy arrays of shape N×{}×{}: {}. The noisy array is exactly the model's input (unclipped) and the denoised array the output the table scores, before clipping{}; clip it to [0, 1] to recompute the table (a test of this program checks that the recomputation agrees to 0.01 dB), or run another denoiser on the same inputs.",
        spec.data.image_size,
        spec.data.image_size,
        s.arrays.join(", "),
        if s.self_ensemble { " (the self-ensemble average)" } else { "" }
    )));
    blocks
}

/// The reference denoising runs, one per noise level: the `denoise`
/// experiment and any `denoise-sigma…` experiment, sorted by σ.
fn reference_levels(c: &Catalogue) -> Vec<(DenoiseSpec, DenoiseSummary)> {
    let mut levels: Vec<(DenoiseSpec, DenoiseSummary)> = c
        .of_task("denoise")
        .into_iter()
        .filter(|r| {
            r.info.experiment == "denoise" || r.info.experiment.starts_with("denoise-sigma")
        })
        .filter_map(|r| Some((spec_of(r).ok()?, r.json("summary.json").ok()?)))
        .collect();
    levels.sort_by(|a, b| a.0.noise.sigma.total_cmp(&b.0.noise.sigma));
    levels
}

/// The model against BM3D, the strongest classical denoiser, at each
/// reference noise level; `None` when no run has a BM3D result.
fn levels_table(levels: &[(DenoiseSpec, DenoiseSummary)]) -> Option<Block> {
    let rows: Vec<Vec<String>> = levels
        .iter()
        .filter_map(|(spec, s)| {
            let bm3d = s.baselines.iter().find(|b| b.method == "BM3D")?;
            Some(vec![
                f(spec.noise.sigma, 0),
                model_label(&spec.model),
                f(s.test.noisy.psnr, 2),
                format!("{} / {}", f(bm3d.test_psnr, 2), f(bm3d.test_ssim, 3)),
                format!(
                    "{} / {}",
                    f(s.test.denoised.psnr, 2),
                    f(s.test.denoised.ssim, 3)
                ),
                format!(
                    "{} / {}",
                    signed(s.test.denoised.psnr - bm3d.test_psnr, 2),
                    signed(s.test.denoised.ssim - bm3d.test_ssim, 3)
                ),
                f(s.fit.train_seconds, 0),
            ])
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(Block::Table {
        caption: "The autoencoder against BM3D on the same noisy test images, one model trained per noise level: mean test PSNR (dB) / SSIM, and the autoencoder's margin over BM3D.".into(),
        header: ["σ", "model", "noisy PSNR", "BM3D", "autoencoder", "margin", "training s"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

/// A short name of a denoiser's shape, e.g. "U-Net, 3 levels, 32 ch".
fn model_label(m: &DenoiserSpec) -> String {
    if m.arch == "unet" {
        format!("U-Net, {} levels, {} ch", m.levels, m.features)
    } else {
        format!("{} layers, {} ch", m.depth, m.features)
    }
}

/// How the primary model and another reference level's model compare over
/// test noise levels: which one is better where. The two runs score
/// separately drawn noisy copies (each run draws its own per level), so
/// differences of a few hundredths of a dB are not meaningful.
fn robustness_comparison(
    spec: &DenoiseSpec,
    s: &DenoiseSummary,
    levels: &[(DenoiseSpec, DenoiseSummary)],
) -> Option<String> {
    let (other, o) = levels
        .iter()
        .find(|(l, _)| l.noise.sigma != spec.noise.sigma)?;
    let at = |sum: &DenoiseSummary, sigma: f64| {
        sum.robustness
            .iter()
            .find(|p| p.sigma == sigma)
            .map(|p| p.denoised_psnr)
    };
    let (mut better, mut worse) = (Vec::new(), Vec::new());
    for p in &s.robustness {
        if let Some(q) = at(o, p.sigma) {
            if q > p.denoised_psnr {
                better.push(f(p.sigma, 0));
            } else {
                worse.push(f(p.sigma, 0));
            }
        }
    }
    let (mine, theirs) = (at(s, spec.noise.sigma)?, at(o, spec.noise.sigma)?);
    let (theirs_own, mine_there) = (at(o, other.noise.sigma)?, at(s, other.noise.sigma)?);
    let specialists = mine > theirs && theirs_own > mine_there;
    let (m, o) = (spec.noise.sigma, other.noise.sigma);
    Some(format!(
        "The model trained at σ = {o} is the better of the two at test σ = {}, the model trained at σ = {m} at σ = {}. At σ = {m} the σ = {m} model scores {:.2} dB and the σ = {o} model {:.2} dB; at σ = {o} the σ = {o} model scores {:.2} dB and the σ = {m} model {:.2} dB.{}",
        if better.is_empty() {
            "none of the levels".to_string()
        } else {
            better.join(", ")
        },
        if worse.is_empty() {
            "none".to_string()
        } else {
            worse.join(", ")
        },
        mine,
        theirs,
        theirs_own,
        mine_there,
        if specialists {
            " Each is best at its own level: a model trained at one σ is a specialist, and the test noise level has to be known to pick it."
        } else {
            ""
        }
    ))
}

/// Curves of the robustness plot: the primary model, then the other
/// reference levels' models, then the noisy input.
fn robustness_series(
    spec: &DenoiseSpec,
    s: &DenoiseSummary,
    levels: &[(DenoiseSpec, DenoiseSummary)],
) -> Vec<Series> {
    let curve = |sum: &DenoiseSummary| {
        sum.robustness
            .iter()
            .map(|p| (p.sigma, p.denoised_psnr))
            .collect()
    };
    let mut series = vec![Series::new(
        format!("denoised, trained at σ = {}", spec.noise.sigma),
        curve(s),
    )];
    for (other, sum) in levels {
        if other.noise.sigma != spec.noise.sigma {
            series.push(Series::new(
                format!("denoised, trained at σ = {}", other.noise.sigma),
                curve(sum),
            ));
        }
    }
    series.push(
        Series::new(
            "noisy input",
            s.robustness
                .iter()
                .map(|p| (p.sigma, p.noisy_psnr))
                .collect(),
        )
        .dashed(),
    );
    series
}

/// What the model is, with its size and cost read from the run.
fn model_description(m: &DenoiserSpec, s: &DenoiseSummary, size: usize) -> String {
    let folding = if m.unshuffle > 1 {
        format!(
            "A pixel-unshuffle first folds each {f}×{f} block into {f2} channels, so the network works at 1/{f} resolution, and a pixel-shuffle unfolds its output. ",
            f = m.unshuffle,
            f2 = m.unshuffle * m.unshuffle
        )
    } else {
        String::new()
    };
    let shape = if m.arch == "unet" {
        let widths: Vec<String> = (0..m.levels)
            .map(|l| (m.features << l).to_string())
            .collect();
        let sides: Vec<String> = (0..m.levels)
            .map(|l| {
                let side = (size / m.unshuffle.max(1)) >> l;
                format!("{side}×{side}")
            })
            .collect();
        format!(
            "The model is a convolutional denoising autoencoder shaped as a small U-Net (after DRUNet, Zhang et al. 2021): an encoder working at {levels} resolutions ({sides} for a whole image, with {widths} channels), going down by a 2×2 stride-2 convolution that halves the resolution and doubles the channels, and a decoder that mirrors it, each level of both made of {units} of two 3×3 convolutions with ReLU; the decoder up-samples with a learned 2× pixel-shuffle and adds the encoder's features of the same level (skip connections), so the code at the bottom carries the context and the skips the detail. {folding}\
             A 3×3 convolution at half resolution with twice the channels costs the same multiply-adds as one at full resolution but sees twice as far, and runs as a larger, faster matrix product; that is how this design fits a wide receptive field into a few minutes of CPU training. \
             The residual units' second convolutions and the last layer start at zero (the untrained network is the identity), and the learning rate warms up over the first steps: both are standard remedies for training a deep network without normalisation at a high learning rate (Fixup; Goyal et al. 2017), and the warm-up's effect is measured in the tuning sweeps. ",
            levels = m.levels,
            widths = widths.join(", "),
            sides = sides.join(", "),
            units = if m.depth == 1 {
                "one residual unit".to_string()
            } else {
                format!("{} residual units", m.depth)
            },
        )
    } else {
        format!(
            "The model is a convolutional denoising autoencoder in the DnCNN family: {depth} convolutions of 3×3 with ReLU between them; the first encodes the noisy image into {feat} feature channels, the middle ones transform that code and the last decodes it to one channel. {folding}\
             He initialisation and a zero-initialised last layer (the untrained network is the identity) let this stack train without batch normalisation. ",
            depth = m.depth,
            feat = m.features,
        )
    };
    format!(
        "{shape}The network predicts the noise, which is subtracted from the input (residual learning, as in DnCNN: the noise is simpler to model than the image). \
         It has {params} parameters, costs {macs:.0} million multiply-adds per {size}×{size} image and sees a {rf}×{rf}-pixel neighbourhood around each output pixel. \
         It is a denoising autoencoder in the sense of Vincent et al. (2008): trained to reconstruct the clean image from a corrupted copy. The corruption, not a bottleneck, keeps it from learning the identity, so its code may be overcomplete; a narrow bottleneck would have to discard fine detail, which denoising must keep. The skip connections are part of that code: the encoder's output at each level, which the decoder turns back into an image.",
        params = grouped(s.parameters),
        macs = s.macs_per_image as f64 / 1e6,
        rf = Denoiser::receptive_field(m),
    )
}
