//! The report: reads finished run folders and writes `report/` — a Markdown
//! document with SVG plots and PNG examples beside it, and the same content
//! typeset as a PDF.
//!
//! Every number in the text is read from the runs' `summary.json` and
//! `metrics.csv`, so the prose cannot go stale: rerun, rebuild, and the
//! sentences change with the results. Only runs whose `run.json` says
//! `finished` are used; running, failed and interrupted runs are listed apart.

mod denoise;
pub mod doc;
mod ordering;
mod pdf;
pub mod plots;
mod sweeps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::runs::{RunInfo, Status, read_info};
use doc::Block;

/// A run folder found under `runs/`.
#[derive(Debug, Clone)]
pub struct FoundRun {
    pub dir: PathBuf,
    pub info: RunInfo,
}

impl FoundRun {
    /// The folder's name, e.g. `20261203T180200Z_ordering`.
    /// Creation order: the UTC stamp, then the `-n` counter of runs started
    /// in the same second (which plain name order would put first).
    pub fn order(&self) -> (String, u32, String) {
        let id = self.id();
        let (head, name) = id.split_once('_').unwrap_or((id.as_str(), ""));
        let (stamp, n) = match head.split_once('-') {
            Some((stamp, n)) => (stamp, n.parse().unwrap_or(0)),
            None => (head, 1),
        };
        (stamp.to_string(), n, name.to_string())
    }

    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Reads and parses a JSON file of the run.
    pub fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let path = self.dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} does not match this version's format; rerun the experiment",
                path.display()
            )
        })
    }

    /// The resolved experiment stored in the run's `config.toml`.
    pub fn experiment(&self) -> Result<crate::config::Experiment> {
        let path = self.dir.join("config.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid experiment", path.display()))
    }

    /// Copies an artifact of the run into the report folder under a new name.
    ///
    /// The run's image grids hold one pixel per image pixel (32 or 64 px
    /// tiles); the copy is enlarged by a whole factor with nearest-neighbour
    /// sampling, so that every viewer and printer shows sharp pixels instead
    /// of smoothing a small picture.
    pub fn copy_artifact(&self, name: &str, out: &Path, as_name: &str) -> Result<()> {
        let src = self.dir.join(name);
        let img = image::open(&src).with_context(|| format!("cannot read {}", src.display()))?;
        let factor = (480 / img.width().max(1)).clamp(1, 8);
        let big = img.resize(
            img.width() * factor,
            img.height() * factor,
            image::imageops::FilterType::Nearest,
        );
        let dst = out.join(as_name);
        big.save(&dst)
            .with_context(|| format!("cannot write {}", dst.display()))
    }
}

/// All run folders under `root`, oldest first (folder names start with a UTC stamp).
pub fn scan(root: &Path) -> Result<Vec<FoundRun>> {
    let mut runs = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", root.display())),
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if dir.join("run.json").is_file()
            && let Ok(info) = read_info(&dir)
        {
            runs.push(FoundRun { dir, info });
        }
    }
    runs.sort_by_key(FoundRun::order);
    Ok(runs)
}

/// The latest finished run of each experiment name, by task.
pub struct Catalogue {
    pub finished: BTreeMap<String, FoundRun>,
    /// Every finished run, oldest first (for seeds and sweeps).
    pub all_finished: Vec<FoundRun>,
    pub unfinished: Vec<FoundRun>,
}

impl Catalogue {
    pub fn new(runs: Vec<FoundRun>) -> Self {
        let mut finished = BTreeMap::new();
        let mut all_finished = Vec::new();
        let mut unfinished = Vec::new();
        for r in runs {
            if r.info.status == Status::Finished {
                finished.insert(r.info.experiment.clone(), r.clone());
                all_finished.push(r);
            } else {
                unfinished.push(r);
            }
        }
        Catalogue {
            finished,
            all_finished,
            unfinished,
        }
    }

    /// The run that stands for a task: the experiment named like the task,
    /// else the latest finished run of that task.
    pub fn primary(&self, task: &str) -> Option<&FoundRun> {
        self.finished.get(task).or_else(|| {
            self.finished
                .values()
                .filter(|r| r.info.task == task)
                .max_by_key(|r| r.order())
        })
    }

    /// Every finished run of the latest sweep of `experiment` (its newest
    /// run's sweep id); empty when the experiment has no finished run.
    pub fn latest_sweep(&self, experiment: &str) -> Vec<&FoundRun> {
        let Some(latest) = self
            .all_finished
            .iter()
            .filter(|r| r.info.experiment == experiment)
            .max_by_key(|r| r.order())
        else {
            return Vec::new();
        };
        self.all_finished
            .iter()
            .filter(|r| r.info.experiment == experiment && r.info.sweep_id == latest.info.sweep_id)
            .collect()
    }

    /// Latest finished run of each experiment of `task`, by name.
    pub fn of_task(&self, task: &str) -> Vec<&FoundRun> {
        self.finished
            .values()
            .filter(|r| r.info.task == task)
            .collect()
    }
}

/// Formats a number with `d` decimals.
pub fn f(v: f64, d: usize) -> String {
    // A typographic minus, as in the rest of the report's prose.
    format!("{v:.d$}").replacen('-', "−", 1)
}

/// A positive quantity to three significant digits (150, 58.4, 0.132):
/// timings vary more than any further digit.
pub fn sig3(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        return f(v, 2);
    }
    let digits = 2 - v.log10().floor() as i32;
    f(v, digits.max(0) as usize)
}

/// A signed number with a typographic minus (−0.48, +0.26), as in print.
pub fn signed(v: f64, d: usize) -> String {
    let text = format!("{v:+.d$}");
    if text[1..].chars().all(|c| c == '0' || c == '.') {
        // Rounds to zero: no sign to show.
        return text[1..].to_string();
    }
    text.replacen('-', "−", 1)
}

/// A count with thousands separators (562,977), as a reader scans it.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Builds the report from the runs in `runs_root` into `out`; returns the files written.
pub fn build(runs_root: &Path, out: &Path, pdf: bool) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the report folder {}", out.display()))?;
    if !runs_root.is_dir() {
        anyhow::bail!(
            "the runs folder {} does not exist; run experiments first (make all) or pass --runs with the folder that holds them",
            runs_root.display()
        );
    }
    clear_generated(out)?;
    let catalogue = Catalogue::new(scan(runs_root)?);
    let mut blocks = vec![Block::Para(format!(
        "The two tasks of the coding test are answered by a declarative experiment runner in Rust rather than by a notebook: each experiment is a TOML file, each run a folder of records, and this report takes the notebook's place, with the same content — the models and their training, the quantitative results on training and test sets as tables and curves, visual examples, and the reasoning — generated from those records. \
         This report is generated by `exprun report` from the run folders under `{}`; every number in it is read from those runs' records, and every statement that quotes a number is written from them. \
         `make all` rebuilds the reference runs, the ablations and this report; `make everything` also reruns the seed and tuning sweeps of its last sections. \
         Models are written with the burn deep-learning framework and run on its `flex` backend, burn's multithreaded CPU backend with SIMD kernels.",
        runs_root.display()
    ))];
    blocks.extend(denoise::section(&catalogue, out)?);
    blocks.push(Block::PageBreak);
    blocks.extend(ordering::section(&catalogue, out)?);
    blocks.extend(sweeps::section(&catalogue, out)?);
    blocks.extend(provenance(&catalogue));
    let title = "Denoising autoencoder and one-bit image ordering";
    let subtitle = "Results of the reference experiments, generated from the run folders";
    let md_path = out.join("report.md");
    std::fs::write(&md_path, doc::to_markdown(title, &blocks))
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    let mut written = vec![md_path];
    if pdf {
        let typ = doc::to_typst(title, subtitle, &blocks);
        let pdf_path = out.join("report.pdf");
        pdf::render(&typ, out, &pdf_path)?;
        written.push(pdf_path);
    }
    write_manifest(out, &blocks, &written)?;
    Ok(written)
}

/// The list of files a build wrote, kept in the report folder so that the
/// next build removes exactly those and nothing of the user's.
const MANIFEST: &str = ".report-files";

/// Whether `name` is a file this program writes into a report folder.
fn is_generated_name(name: &str) -> bool {
    let image = name.ends_with(".svg") || name.ends_with(".png");
    matches!(name, "report.md" | "report.pdf")
        || (image
            && ["denoise_", "ordering_", "sweep_"]
                .iter()
                .any(|p| name.starts_with(p)))
}

/// Removes what an earlier build wrote (report.md, report.pdf, plots and
/// pictures), so no stale figure outlives the run it came from. Only files
/// named in the earlier build's manifest, or named as this program names its
/// outputs, are removed: other files in the folder are left alone.
fn clear_generated(out: &Path) -> Result<()> {
    let listed = std::fs::read_to_string(out.join(MANIFEST)).unwrap_or_default();
    let mut names: Vec<String> = listed
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains(['/', '\\']) && *n != "..")
        .map(String::from)
        .collect();
    for entry in std::fs::read_dir(out)
        .with_context(|| format!("cannot list {}", out.display()))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_generated_name(&name) {
            names.push(name);
        }
    }
    for name in names {
        let path = out.join(&name);
        if path.is_file() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the old {}", path.display()))?;
        }
    }
    Ok(())
}

/// Records the files of this build (see [`MANIFEST`]).
fn write_manifest(out: &Path, blocks: &[Block], written: &[PathBuf]) -> Result<()> {
    let mut names: Vec<String> = written
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for block in blocks {
        if let Block::Figure { path, .. } | Block::Grid { path, .. } = block {
            names.push(path.clone());
        }
    }
    let path = out.join(MANIFEST);
    std::fs::write(&path, names.join("\n") + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Which runs the report used, with their provenance; unfinished runs listed apart.
fn provenance(c: &Catalogue) -> Vec<Block> {
    let mut blocks = vec![Block::Heading(1, "Runs behind this report".into())];
    // The latest run of each experiment and, when it belongs to a sweep,
    // every run of that sweep: all the runs whose numbers the report shows.
    let mut shown: Vec<&FoundRun> = c
        .all_finished
        .iter()
        .filter(|r| {
            c.finished.get(&r.info.experiment).is_some_and(|latest| {
                latest.id() == r.id()
                    || (latest.info.sweep_id.is_some() && latest.info.sweep_id == r.info.sweep_id)
            })
        })
        .collect();
    shown.sort_by_key(|r| (r.info.experiment.clone(), r.order()));
    let rows: Vec<Vec<String>> = shown
        .into_iter()
        .map(|r| {
            vec![
                r.id(),
                r.info
                    .swept
                    .iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
                    .chars()
                    .chain(r.info.swept.is_empty().then_some('—'))
                    .collect(),
                r.info.seed.to_string(),
                r.info.backend.clone(),
                r.info
                    .git_commit
                    .as_deref()
                    .map(|s| s.chars().take(10).collect::<String>())
                    .unwrap_or_else(|| "unknown".into())
                    + if r.info.git_dirty == Some(true) {
                        " (modified)"
                    } else {
                        ""
                    },
                r.info.wall_s.map(|w| f(w, 0)).unwrap_or_default(),
            ]
        })
        .collect();
    blocks.push(Block::Table {
        caption: "Every run behind the numbers above: the latest finished run of each experiment and every run of its sweep, with the swept values, seed, backend, source commit (\"modified\": the working tree had uncommitted changes when the run started) and the run's whole wall time in seconds (training, evaluation and baselines).".into(),
        header: ["run folder", "swept", "seed", "backend", "commit", "wall s"].map(String::from).to_vec(),
        rows,
    });
    if !c.unfinished.is_empty() {
        let items = c
            .unfinished
            .iter()
            .map(|r| {
                format!(
                    "{} — {:?}{}",
                    r.id(),
                    r.info.status,
                    r.info
                        .error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        blocks.push(Block::Para(
            "Runs not used because they did not finish:".into(),
        ));
        blocks.push(Block::Bullets(items));
    }
    blocks
}
