//! The one training loop every task plugs into.
//!
//! A task implements [`Trainer`]: one optimisation step, and the metrics to
//! log at the end of each epoch. [`fit`] runs epochs of steps, keeps the
//! training clock (evaluation time is excluded, so "loss against training
//! time" means what it says), writes one CSV row per epoch to `metrics.csv`
//! and one per step to `steps.csv` (the loss of every batch, so a plot over
//! iterations need not average away the first epoch's fast fall), shows an
//! indicatif progress bar on a terminal (never the loss values, G6), honours
//! the time budget and stops cleanly on Ctrl-C.

use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runs::{MetricsLog, Run, interrupted};

/// A task's side of the training loop.
pub trait Trainer {
    /// Names of the metric columns logged after `epoch, step, elapsed_s, train_loss`.
    fn metric_names(&self) -> Vec<String>;
    /// One optimisation step; `progress` in [0, 1) drives the schedule.
    /// Returns the training loss of the batch.
    fn step(&mut self, progress: f64) -> Result<f64>;
    /// Evaluates at the end of an epoch; one value per metric name.
    fn evaluate(&mut self) -> Result<Vec<f64>>;
}

/// How far training got.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FitOutcome {
    pub epochs_done: usize,
    pub steps_done: usize,
    /// Seconds spent in optimisation steps (evaluation excluded).
    pub train_seconds: f64,
    /// Seconds spent in per-epoch evaluation.
    pub eval_seconds: f64,
    pub interrupted: bool,
    pub stopped_by_time_budget: bool,
}

/// Runs `epochs` × `steps_per_epoch` steps (or until `time_budget_s` seconds
/// of training, when positive), logging each epoch to `metrics.csv`.
pub fn fit(
    trainer: &mut dyn Trainer,
    run: &Run,
    epochs: usize,
    steps_per_epoch: usize,
    time_budget_s: f64,
) -> Result<FitOutcome> {
    let mut columns: Vec<String> = ["epoch", "step", "elapsed_s", "train_loss"]
        .map(String::from)
        .to_vec();
    columns.extend(trainer.metric_names());
    let mut log = MetricsLog::create(run, "metrics.csv", &columns)?;
    let mut step_log = MetricsLog::create(
        run,
        "steps.csv",
        &["step", "elapsed_s", "train_loss"].map(String::from),
    )?;
    let total = (epochs * steps_per_epoch) as u64;
    let bar = progress_bar(total, &run.info.experiment);
    let mut out = FitOutcome {
        epochs_done: 0,
        steps_done: 0,
        train_seconds: 0.0,
        eval_seconds: 0.0,
        interrupted: false,
        stopped_by_time_budget: false,
    };
    'epochs: for epoch in 1..=epochs {
        let mut loss_sum = 0.0;
        let mut steps = 0;
        let started = Instant::now();
        for _ in 0..steps_per_epoch {
            if interrupted() {
                out.interrupted = true;
                out.train_seconds += started.elapsed().as_secs_f64();
                break 'epochs;
            }
            // The budget is a hard limit: no step starts after it is spent,
            // even in the middle of an epoch (which is then evaluated and
            // logged as the last one).
            if time_budget_s > 0.0
                && out.train_seconds + started.elapsed().as_secs_f64() >= time_budget_s
            {
                out.stopped_by_time_budget = true;
                break;
            }
            let loss = trainer.step(out.steps_done as f64 / total as f64)?;
            loss_sum += loss;
            steps += 1;
            out.steps_done += 1;
            step_log.append(&[
                out.steps_done as f64,
                out.train_seconds + started.elapsed().as_secs_f64(),
                loss,
            ])?;
            bar.inc(1);
        }
        out.train_seconds += started.elapsed().as_secs_f64();
        if steps == 0 {
            // The budget ran out exactly at an epoch boundary.
            break;
        }
        let eval_started = Instant::now();
        let metrics = trainer.evaluate()?;
        out.eval_seconds += eval_started.elapsed().as_secs_f64();
        let mut row = vec![
            epoch as f64,
            out.steps_done as f64,
            out.train_seconds,
            loss_sum / steps as f64,
        ];
        row.extend(metrics);
        log.append(&row)?;
        out.epochs_done = epoch;
        if out.stopped_by_time_budget {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(out)
}

/// A bar with ETA on a terminal; hidden otherwise (logs stay clean).
fn progress_bar(total: u64, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    bar
}

/// Cosine decay from `lr` to `lr_final` over training progress in [0, 1].
pub fn cosine_lr(lr: f64, lr_final: f64, progress: f64) -> f64 {
    let p = progress.clamp(0.0, 1.0);
    lr_final + 0.5 * (lr - lr_final) * (1.0 + (std::f64::consts::PI * p).cos())
}

/// A linear warm-up over the first `warmup` fraction of training, then
/// [`cosine_lr`] over the rest. Adam's first steps move every weight by
/// about the learning rate whatever its gradient; in a deep network without
/// normalisation that overshoots, the ReLUs die and the network stays at its
/// initial output (seen here with a 14-layer stack and a U-Net at 3e-3).
/// Ramping up lets Adam's moment estimates settle first.
pub fn warmup_cosine_lr(lr: f64, lr_final: f64, warmup: f64, progress: f64) -> f64 {
    if warmup > 0.0 && progress < warmup {
        lr * (progress / warmup).max(1e-3)
    } else {
        let rest = if warmup > 0.0 {
            (progress - warmup) / (1.0 - warmup)
        } else {
            progress
        };
        cosine_lr(lr, lr_final, rest)
    }
}
