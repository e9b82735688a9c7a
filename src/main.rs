//! `exprun`: the command line of the experiment runner.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use exprun::config::{self, Backend};
use exprun::data::DataStore;
use exprun::runs::{self, Status};
use exprun::{bench, report, tasks};

#[derive(Parser)]
#[command(
    name = "exprun",
    version,
    about = "Declarative experiment runner: TOML experiments → burn training → run folders → report"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train and evaluate the experiments described by one or more TOML files.
    ///
    /// Each file becomes one run folder under --runs, or one per combination
    /// when the file lists several values for a key (a sweep).
    Run {
        /// Experiment files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Folder that receives the run folders.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
        /// Run on this backend instead of the one in the files.
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Only check the files and print the runs they describe.
        #[arg(long)]
        dry_run: bool,
    },
    /// Build the report (Markdown, plots and PDF) from the finished runs.
    Report {
        /// Folder holding the run folders.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
        /// Folder that receives the report.
        #[arg(long, default_value = "report")]
        out: PathBuf,
        /// Write only the Markdown and plots, no PDF.
        #[arg(long)]
        no_pdf: bool,
    },
    /// Fetch the datasets into data/ (from DATA_MIRROR, ../shared/data, or upstream) and verify them.
    Data,
    /// Measure training steps/s and inference images/s of the models in the given experiments.
    Bench {
        /// Experiment files whose models to measure.
        #[arg(default_values = ["experiments/denoise.toml", "experiments/ordering.toml"])]
        files: Vec<PathBuf>,
        /// Backend to measure (default: each file's own).
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Seconds of timing per measurement, after warm-up.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Flex,
    Ndarray,
    Cuda,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Flex => Backend::Flex,
            BackendArg::Ndarray => Backend::Ndarray,
            BackendArg::Cuda => Backend::Cuda,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Run {
            files,
            runs,
            backend,
            dry_run,
        } => run(&files, &runs, backend.map(Backend::from), dry_run),
        Command::Report { runs, out, no_pdf } => {
            let written = report::build(&runs, &out, !no_pdf)?;
            for path in written {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Bench { files, backend, seconds } => bench(&files, backend.map(Backend::from), seconds),
        Command::Data => {
            let store = DataStore::from_env();
            store.ensure_all()?;
            println!(
                "datasets in {} are present and verified",
                store.root.display()
            );
            Ok(())
        }
    }
}

fn run(
    files: &[PathBuf],
    runs_root: &std::path::Path,
    backend: Option<Backend>,
    dry_run: bool,
) -> Result<()> {
    // Check every file before training anything, so a typo in the last file
    // does not surface after an hour of runs.
    let mut plans = Vec::new();
    for file in files {
        plans.push((file, config::load_file(file)?));
    }
    if dry_run {
        for (file, file_plans) in &plans {
            for p in file_plans {
                let swept: Vec<String> = p.swept.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!(
                    "{}: {} ({}) {}",
                    file.display(),
                    p.experiment.name(),
                    p.experiment.task(),
                    swept.join(" ")
                );
            }
        }
        return Ok(());
    }
    runs::install_interrupt_handler();
    let store = DataStore::from_env();
    let mut failures = 0;
    for (file, file_plans) in &plans {
        let sweep_id = (file_plans.len() > 1).then(|| {
            format!(
                "{}_{}",
                runs::utc_now().replace([':', '-'], ""),
                file_plans[0].experiment.name()
            )
        });
        for plan in file_plans {
            if runs::interrupted() {
                bail!("interrupted; the remaining runs were not started");
            }
            match tasks::execute(plan, file, runs_root, &store, backend, sweep_id.as_deref()) {
                Ok(outcome) => {
                    let state = match outcome.status {
                        Status::Interrupted => "interrupted",
                        _ => "finished",
                    };
                    println!("{state} {}: {}", outcome.dir.display(), outcome.headline);
                    if outcome.status == Status::Interrupted {
                        bail!(
                            "interrupted; the run folder is marked as such and kept out of the report"
                        );
                    }
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    failures += 1;
                }
            }
        }
    }
    if failures > 0 {
        bail!("{failures} run(s) failed");
    }
    Ok(())
}

fn bench(files: &[PathBuf], backend: Option<Backend>, seconds: f64) -> Result<()> {
    println!("| model | backend | training batch | train steps/s | inference images/s |");
    println!("|---|---|---|---|---|");
    for file in files {
        for plan in config::load_file(file)? {
            let b = backend.unwrap_or(plan.experiment.backend());
            let device = exprun::backend::device(b)?;
            let t = match &plan.experiment {
                config::Experiment::Denoise(s) => bench::denoise(s, &device, seconds)?,
                config::Experiment::Ordering(s) => bench::ordering(s, &device, seconds)?,
            };
            println!(
                "| {} | {} | {} | {:.2} | {:.0} |",
                t.model,
                format!("{b:?}").to_lowercase(),
                t.train_batch,
                t.train_steps_per_s,
                t.inference_images_per_s
            );
        }
    }
    Ok(())
}
