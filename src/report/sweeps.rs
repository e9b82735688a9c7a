//! Sweeps in the report: the runs of one sweep id side by side — a table of
//! the swept keys against the final metrics, the curves overlaid, and the
//! mean ± standard deviation when only the seed varies (B3, B7).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::denoise::column;
use super::doc::Block;
use super::plots::{Axes, Series, line_plot};
use super::{Catalogue, FoundRun, f};
use crate::runs::read_metrics;
use crate::tasks::denoise::DenoiseSummary;
use crate::tasks::ordering::OrderingSummary;

/// Final metrics of a run, by task: `(column names, values)`. A sweep over
/// anything but the seed is tuning, so it shows validation numbers only;
/// a seed sweep measures spread, so it shows the test numbers too.
fn finals(run: &FoundRun, seeds_only: bool) -> Option<(Vec<&'static str>, Vec<f64>)> {
    match run.info.task.as_str() {
        "denoise" => {
            let s: DenoiseSummary = run.json("summary.json").ok()?;
            if seeds_only {
                Some((
                    vec!["val PSNR dB", "test PSNR dB", "test SSIM", "train s"],
                    vec![
                        s.val.denoised.psnr,
                        s.test.denoised.psnr,
                        s.test.denoised.ssim,
                        s.fit.train_seconds,
                    ],
                ))
            } else {
                Some((
                    vec!["val PSNR dB", "val SSIM", "train s"],
                    vec![
                        s.val.denoised.psnr,
                        s.val.denoised.ssim,
                        s.fit.train_seconds,
                    ],
                ))
            }
        }
        "ordering" => {
            let s: OrderingSummary = run.json("summary.json").ok()?;
            let val = s
                .val
                .as_ref()
                .map(|v| 100.0 * v.error_rate)
                .unwrap_or(f64::NAN);
            if seeds_only {
                Some((
                    vec!["train errors", "val error %", "held-out error %", "train s"],
                    vec![
                        s.train.errors as f64,
                        val,
                        100.0 * s.heldout.error_rate,
                        s.fit.train_seconds,
                    ],
                ))
            } else {
                Some((
                    vec!["train errors", "val error %", "train s"],
                    vec![s.train.errors as f64, val, s.fit.train_seconds],
                ))
            }
        }
        _ => None,
    }
}

/// Mean and sample standard deviation (0 for a single value).
pub(super) fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// One block group per sweep found among the finished runs.
pub fn section(c: &Catalogue, out: &Path) -> Result<Vec<Block>> {
    let mut sweeps: BTreeMap<String, Vec<&FoundRun>> = BTreeMap::new();
    for r in &c.all_finished {
        if let Some(id) = &r.info.sweep_id {
            sweeps.entry(id.clone()).or_default().push(r);
        }
    }
    let mut b = Vec::new();
    if sweeps.is_empty() {
        return Ok(b);
    }
    b.push(Block::Heading(1, "Sweeps and seeds".into()));
    for (k, (id, runs)) in sweeps.iter().enumerate() {
        let keys: Vec<String> = runs[0].info.swept.iter().map(|(k, _)| k.clone()).collect();
        let only_seed = keys.len() == 1 && keys[0] == "seed";
        let Some((names, _)) = finals(runs[0], only_seed) else {
            continue;
        };
        let mut header = keys.clone();
        header.extend(names.iter().map(|s| s.to_string()));
        let mut rows = Vec::new();
        let mut values: Vec<Vec<f64>> = Vec::new();
        for r in runs {
            let Some((_, v)) = finals(r, only_seed) else {
                continue;
            };
            let mut row: Vec<String> = r.info.swept.iter().map(|(_, v)| v.clone()).collect();
            row.extend(v.iter().zip(&names).map(|(x, name)| {
                // Seconds vary by more than a second between identical runs.
                if x.fract() == 0.0 || name.ends_with(" s") {
                    format!("{x:.0}")
                } else {
                    f(*x, 3)
                }
            }));
            rows.push(row);
            values.push(v);
        }
        if only_seed && values.len() > 1 {
            let mut row = vec!["mean ± std".to_string()];
            for j in 0..names.len() {
                let (m, s) = mean_std(&values.iter().map(|v| v[j]).collect::<Vec<_>>());
                row.push(mean_pm_std(
                    m,
                    s,
                    values.iter().all(|v| v[j].fract() == 0.0),
                ));
            }
            rows.push(row);
        }
        let experiment = &runs[0].info.experiment;
        b.push(Block::Heading(
            2,
            format!(
                "{experiment}: {} runs varying {}",
                runs.len(),
                keys.join(", ")
            ),
        ));
        b.push(Block::Table {
            caption: format!(
                "Sweep {id} ({}): each row one run; {}",
                runs[0].info.source_file,
                if only_seed {
                    "the last row is the mean ± sample standard deviation over seeds."
                } else {
                    "swept keys first, then the final metrics."
                }
            ),
            header,
            rows,
        });
        if let Some(text) = verdict(runs, &values).filter(|_| !only_seed) {
            b.push(Block::Para(text));
        }
        let plot = format!("sweep_{k}.svg");
        let (metric, label, x_name, x_label) = if runs[0].info.task == "denoise" {
            ("val_psnr", "validation PSNR (dB)", "epoch", "epoch")
        } else {
            ("train_loss", "training loss (nats)", "step", "iteration")
        };
        let series: Vec<Series> = runs
            .iter()
            .filter_map(|r| {
                let (h, rows) = read_metrics(&r.dir.join("metrics.csv")).ok()?;
                let name = r
                    .info
                    .swept
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(Series::new(
                    name,
                    column(&h, &rows, x_name)
                        .into_iter()
                        .zip(column(&h, &rows, metric))
                        .collect(),
                ))
            })
            .collect();
        line_plot(
            &out.join(&plot),
            &Axes {
                title: &format!("{experiment}: {label} per run"),
                x_label,
                y_label: label,
                log_y: metric == "train_loss",
            },
            &series,
        )?;
        b.push(Block::Figure {
            path: plot,
            caption: format!("{label} of every run of the sweep, overlaid."),
            width: 0.75,
            pixelated: false,
        });
    }
    Ok(b)
}

/// "mean ± std" with as many decimals as the spread supports (two
/// significant digits of the std), none for counts that do not vary.
fn mean_pm_std(mean: f64, std: f64, integral: bool) -> String {
    let decimals = if integral && std == 0.0 {
        0
    } else if std > 0.0 && std.is_finite() {
        (1 - std.log10().floor() as i32).clamp(0, 4) as usize
    } else {
        3
    };
    format!("{} ± {}", f(mean, decimals), f(std, decimals))
}

/// What a tuning sweep decided, on the validation split: the best run by
/// validation PSNR (denoising) or validation error (ordering), and its lead
/// over the runner-up.
fn verdict(runs: &[&FoundRun], values: &[Vec<f64>]) -> Option<String> {
    if runs.len() != values.len() || runs.len() < 2 {
        return None;
    }
    let denoise = runs[0].info.task == "denoise";
    // Column of the validation metric in `finals` and whether higher is better.
    let (col, higher, unit, what) = if denoise {
        (0, true, "dB", "validation PSNR")
    } else {
        (1, false, "%", "validation error")
    };
    let mut order: Vec<usize> = (0..runs.len())
        .filter(|&i| values[i][col].is_finite())
        .collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (values[a][col], values[b][col]);
        if higher {
            y.total_cmp(&x)
        } else {
            x.total_cmp(&y)
        }
    });
    let (&best, &next) = (order.first()?, order.get(1)?);
    let label = |i: usize| {
        runs[i]
            .info
            .swept
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "Best {what}: {} ({} {unit}), {} {unit} ahead of {} ({} {unit}).",
        label(best),
        f(values[best][col], 3),
        f((values[best][col] - values[next][col]).abs(), 3),
        label(next),
        f(values[next][col], 3),
    ))
}
