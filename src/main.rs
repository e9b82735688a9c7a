//! `exprun`: the command line of the experiment runner.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
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
        /// Run only point N (0-based) of each file's sweep, as a job-array task does.
        #[arg(long, value_name = "N")]
        index: Option<usize>,
        /// Sweep id to record (a job array passes one id to all its tasks).
        #[arg(long, value_name = "ID")]
        sweep_id: Option<String>,
    },
    /// Print a Slurm job-array script that runs every point of a sweep as one array task.
    ///
    /// Submit it with `sbatch`; each task runs `exprun run --index $SLURM_ARRAY_TASK_ID`,
    /// and all results land in the same runs folder under one sweep id.
    Slurm {
        /// The experiment file (usually a sweep).
        file: PathBuf,
        /// Folder that receives the run folders.
        #[arg(long, default_value = "runs")]
        runs: PathBuf,
        /// CPU cores per task.
        #[arg(long, default_value_t = 2)]
        cpus: usize,
        /// Wall-time limit per task, Slurm syntax.
        #[arg(long, default_value = "01:00:00")]
        time: String,
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

/// Lets a closed pipe end the program quietly, as it does other command-line
/// tools (`exprun slurm … | head`): Rust ignores SIGPIPE, which turns the
/// next write into a panic.
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal, before any thread
    // is started; no handler of ours is replaced.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    exit_quietly_on_closed_pipe();
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
            index,
            sweep_id,
        } => run(
            &files,
            &runs,
            backend.map(Backend::from),
            dry_run,
            index,
            sweep_id,
        ),
        Command::Slurm {
            file,
            runs,
            cpus,
            time,
        } => slurm(&file, &runs, cpus, &time),
        Command::Report { runs, out, no_pdf } => {
            let written = report::build(&runs, &out, !no_pdf)?;
            for path in written {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Bench {
            files,
            backend,
            seconds,
        } => bench(&files, backend.map(Backend::from), seconds),
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
    index: Option<usize>,
    sweep_id_arg: Option<String>,
) -> Result<()> {
    // Check every file before training anything, so a typo in the last file
    // does not surface after an hour of runs.
    let mut plans = Vec::new();
    for file in files {
        let mut file_plans = config::load_file(file)?;
        if let Some(i) = index {
            if i >= file_plans.len() {
                bail!(
                    "{}: --index {i} is out of range; the file describes {} run(s), indices 0 to {}",
                    file.display(),
                    file_plans.len(),
                    file_plans.len() - 1
                );
            }
            file_plans = vec![file_plans.swap_remove(i)];
        }
        plans.push((file, file_plans));
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
        let sweep_id = sweep_id_arg.clone().or_else(|| {
            (file_plans.len() > 1).then(|| {
                format!(
                    "{}_{}",
                    runs::utc_now().replace([':', '-'], ""),
                    file_plans[0].experiment.name()
                )
            })
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
    let mut costs = Vec::new();
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
            if let config::Experiment::Denoise(s) = &plan.experiment {
                costs.push((s.name.clone(), bench::conv_costs(s, &device, seconds / 4.0)));
            }
        }
    }
    for (name, levels) in costs {
        println!("\nOne 3×3 convolution at each level of {name}'s denoiser (training batch):\n");
        println!(
            "| channels | side (px) | batch | forward ms | forward + backward ms | training GFLOP/s |"
        );
        println!("|---|---|---|---|---|---|");
        for c in levels {
            println!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.0} |",
                c.channels,
                c.size,
                c.batch,
                c.forward_ms,
                c.train_ms,
                c.train_gflops()
            );
        }
    }
    Ok(())
}

fn slurm(
    file: &std::path::Path,
    runs_root: &std::path::Path,
    cpus: usize,
    time: &str,
) -> Result<()> {
    let plans = config::load_file(file)?;
    // Slurm opens each task's log under the runs folder before the task
    // starts, and fails the task if the folder does not exist yet.
    std::fs::create_dir_all(runs_root).with_context(|| {
        format!(
            "cannot create the runs folder {} for the job's logs; pass --runs with a writable folder",
            runs_root.display()
        )
    })?;
    let name = plans[0].experiment.name().to_string();
    let sweep_id = format!("{}_{name}", runs::utc_now().replace([':', '-'], ""));
    let here = std::env::current_dir()?;
    let exe = std::env::current_exe()?;
    let abs = |p: &std::path::Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            here.join(p)
        }
    };
    print!(
        "#!/usr/bin/env bash\n\
         # Job array for {file}: {n} run(s), one per array task, all under sweep id {sweep_id}.\n\
         # Submit with: sbatch this-script.sh   (or run one task by hand: SLURM_ARRAY_TASK_ID=0 bash this-script.sh)\n\
         #SBATCH --job-name={name}\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --time={time}\n\
         #SBATCH --output={runs}/slurm-%A_%a.out\n\
         set -euo pipefail\n\
         cd {here}\n\
         exec {exe} run --index \"${{SLURM_ARRAY_TASK_ID:?set by Slurm, or by hand}}\" --sweep-id {sweep_id} --runs {runs} {file_abs}\n",
        file = file.display(),
        n = plans.len(),
        last = plans.len() - 1,
        runs = abs(runs_root).display(),
        here = here.display(),
        exe = exe.display(),
        file_abs = abs(file).display(),
    );
    Ok(())
}
