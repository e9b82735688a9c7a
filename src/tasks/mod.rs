//! The tasks: each turns a resolved experiment into a trained model, a
//! filled run folder and a summary. Adding a task means adding a module here
//! and a variant to `config::Experiment`; the training loop stays as it is.

pub mod denoise;
pub mod ordering;

use std::path::Path;

use anyhow::{Context, Result};

use crate::backend;
use crate::config::{Backend, Experiment, RunPlan};
use crate::data::DataStore;
use crate::runs::{Run, Status, interrupted};

/// What a finished or failed run left behind.
pub struct RunOutcome {
    pub dir: std::path::PathBuf,
    pub status: Status,
    /// One line for the terminal.
    pub headline: String,
}

/// Executes one planned run in a fresh run folder and records how it ended.
pub fn execute(
    plan: &RunPlan,
    source: &Path,
    runs_root: &Path,
    store: &DataStore,
    backend_override: Option<Backend>,
    sweep_id: Option<&str>,
) -> Result<RunOutcome> {
    let mut experiment = plan.experiment.clone();
    if let Some(b) = backend_override {
        match &mut experiment {
            Experiment::Denoise(s) => s.backend = b,
            Experiment::Ordering(s) => s.backend = b,
        }
    }
    let device = backend::device(experiment.backend())?;
    let mut run = Run::create(runs_root, &experiment, source, &plan.swept, sweep_id)?;
    let result = match &experiment {
        Experiment::Denoise(spec) => denoise::execute(spec, &run, store, &device).map(|s| {
            format!(
                "test PSNR {:.2} dB (noisy {:.2} dB), SSIM {:.3}, {} epochs in {:.0} s",
                s.test.denoised.psnr,
                s.test.noisy.psnr,
                s.test.denoised.ssim,
                s.fit.epochs_done,
                s.fit.train_seconds
            )
        }),
        Experiment::Ordering(spec) => ordering::execute(spec, &run, store, &device).map(|s| {
            format!(
                "training error {}/{} ({:.2} %), held-out error {:.2} %, {} epochs in {:.0} s",
                s.train.errors,
                s.train.cases,
                100.0 * s.train.error_rate,
                100.0 * s.heldout.error_rate,
                s.fit.epochs_done,
                s.fit.train_seconds
            )
        }),
    };
    let dir = run.dir.clone();
    match result {
        Ok(headline) => {
            let status = if interrupted() {
                Status::Interrupted
            } else {
                Status::Finished
            };
            run.end(status, None)?;
            Ok(RunOutcome {
                dir,
                status,
                headline,
            })
        }
        Err(e) => {
            let message = format!("{e:#}");
            run.end(
                if interrupted() {
                    Status::Interrupted
                } else {
                    Status::Failed
                },
                Some(message.clone()),
            )
            .context("could not record the failure in run.json")?;
            Err(e).with_context(|| {
                format!(
                    "run {} failed (its folder records the error)",
                    dir.display()
                )
            })
        }
    }
}
