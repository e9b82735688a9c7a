//! Run folders: the unit of record, in the spirit of MLflow's runs.
//!
//! Each run gets its own folder `runs/<UTC timestamp>_<experiment>/`, created
//! exclusively so a run never overwrites another. It is written as the run
//! goes: `config.toml` (the resolved experiment) and `run.json` (provenance
//! and status) first, `metrics.csv` one flushed row per epoch, then
//! `summary.json`, weights and images. `run.json`'s status tells a finished
//! run from a running, failed or interrupted one; the report only uses
//! finished runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::config::Experiment;

/// Lifecycle of a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Finished,
    Failed,
    Interrupted,
}

/// Provenance and status, stored as `run.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub experiment: String,
    pub task: String,
    pub status: Status,
    /// The error that ended a failed run.
    #[serde(default)]
    pub error: Option<String>,
    pub seed: u64,
    pub backend: String,
    /// The experiment file the run came from.
    pub source_file: String,
    /// `(key, value)` of swept keys when the run is part of a sweep.
    #[serde(default)]
    pub swept: Vec<(String, String)>,
    /// Groups the runs of one sweep.
    #[serde(default)]
    pub sweep_id: Option<String>,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    pub exprun_version: String,
    pub burn_version: String,
    pub started_utc: String,
    #[serde(default)]
    pub ended_utc: Option<String>,
    #[serde(default)]
    pub wall_s: Option<f64>,
}

/// An open run folder.
pub struct Run {
    pub dir: PathBuf,
    pub info: RunInfo,
    started: std::time::Instant,
}

/// Set by Ctrl-C or SIGTERM; training loops stop at the next step.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler that turns Ctrl-C / SIGTERM into a clean stop.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // Second signal: the user insists.
            std::process::exit(130);
        }
    });
}

/// Whether an interrupt was requested.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// UTC time as `2026-12-03T17:46:42Z`.
pub fn utc_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .map(|s| {
            s.split('.')
                .next()
                .unwrap_or(&s)
                .trim_end_matches('Z')
                .to_string()
                + "Z"
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn compact_stamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    now.format(&fmt).unwrap_or_else(|_| "unknown".into())
}

/// The burn version this binary was built with, read from Cargo.lock.
pub fn burn_version() -> String {
    let lock = include_str!("../Cargo.lock");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"burn\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return v.trim_end_matches('"').to_string();
        }
    }
    "unknown".into()
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Run {
    /// Creates a fresh folder under `runs_root` and writes the config and provenance.
    pub fn create(
        runs_root: &Path,
        experiment: &Experiment,
        source_file: &Path,
        swept: &[(String, String)],
        sweep_id: Option<&str>,
    ) -> Result<Run> {
        std::fs::create_dir_all(runs_root).with_context(|| {
            format!(
                "cannot create the runs folder {}; check its permissions or pass --runs <dir>",
                runs_root.display()
            )
        })?;
        let stamp = compact_stamp();
        let mut dir = runs_root.join(format!("{stamp}_{}", experiment.name()));
        let mut n = 1;
        loop {
            match std::fs::create_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {
                    n += 1;
                    dir = runs_root.join(format!("{stamp}-{n}_{}", experiment.name()));
                }
                Err(e) => {
                    bail!(
                        "cannot create the run folder {} ({e}); check that the runs folder is writable",
                        dir.display()
                    )
                }
            }
        }
        let info = RunInfo {
            experiment: experiment.name().to_string(),
            task: experiment.task().to_string(),
            status: Status::Running,
            error: None,
            seed: experiment.seed(),
            backend: format!("{:?}", experiment.backend()).to_lowercase(),
            source_file: source_file.display().to_string(),
            swept: swept.to_vec(),
            sweep_id: sweep_id.map(str::to_string),
            git_commit: git(&["rev-parse", "HEAD"]),
            git_dirty: git(&["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty()),
            exprun_version: env!("CARGO_PKG_VERSION").to_string(),
            burn_version: burn_version(),
            started_utc: utc_now(),
            ended_utc: None,
            wall_s: None,
        };
        let run = Run {
            dir,
            info,
            started: std::time::Instant::now(),
        };
        run.write("config.toml", experiment.to_toml().as_bytes())?;
        run.save_info()?;
        Ok(run)
    }

    /// Path of a file inside the run folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a file into the run folder.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Writes a value as pretty JSON.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        self.write(name, serde_json::to_string_pretty(value)?.as_bytes())
    }

    fn save_info(&self) -> Result<()> {
        self.write_json("run.json", &self.info)
    }

    /// Marks the run ended with `status`, recording the error for a failure.
    pub fn end(&mut self, status: Status, error: Option<String>) -> Result<()> {
        self.info.status = status;
        self.info.error = error;
        self.info.ended_utc = Some(utc_now());
        self.info.wall_s = Some(self.started.elapsed().as_secs_f64());
        self.save_info()
    }
}

/// Reads `run.json` of a run folder.
pub fn read_info(dir: &Path) -> Result<RunInfo> {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid run record", path.display()))
}

/// A numeric CSV log in the run folder, one flushed row at a time:
/// `metrics.csv` (a row per epoch) and `steps.csv` (a row per step).
pub struct MetricsLog {
    writer: csv::Writer<std::fs::File>,
    columns: Vec<String>,
}

impl MetricsLog {
    /// Opens `file` in the run folder and writes the header.
    pub fn create(run: &Run, file: &str, columns: &[String]) -> Result<MetricsLog> {
        let path = run.path(file);
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut writer = csv::Writer::from_writer(file);
        writer.write_record(columns)?;
        writer.flush()?;
        Ok(MetricsLog {
            writer,
            columns: columns.to_vec(),
        })
    }

    /// Appends one row; values are written with enough digits to round-trip.
    pub fn append(&mut self, values: &[f64]) -> Result<()> {
        debug_assert_eq!(values.len(), self.columns.len());
        let row: Vec<String> = values.iter().map(|v| format_value(*v)).collect();
        self.writer.write_record(&row)?;
        self.writer.flush()?;
        Ok(())
    }
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.8}")
    }
}

/// Reads a metrics CSV into its header and rows.
pub fn read_metrics(path: &Path) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(
            record
                .iter()
                .map(|s| s.parse::<f64>().unwrap_or(f64::NAN))
                .collect(),
        );
    }
    Ok((header, rows))
}

/// Flushes stdout so a progress line appears before slow work.
pub fn flush() {
    let _ = std::io::stdout().flush();
}
