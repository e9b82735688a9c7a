//! Experiment files: the TOML schema, its validation and sweep expansion.
//!
//! One TOML file fully describes a run (G2). Loading is done in three steps so
//! that every error can name the file, the key and what is allowed:
//! 1. parse the text into a TOML table (syntax errors carry a line and column);
//! 2. expand sweeps: every array value is a list of alternatives for its key,
//!    and the runner makes one run per combination (B7);
//! 3. deserialize each combination into the task's typed spec, whose structs
//!    reject unknown keys, and check value ranges with [`Validate`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A fully resolved experiment: exactly what one run executes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Experiment {
    /// Task 1: a denoising autoencoder for grayscale photographs.
    Denoise(DenoiseSpec),
    /// Task 2: a sender and a receiver that agree on image order through one bit.
    Ordering(OrderingSpec),
}

impl Experiment {
    /// The experiment's name, used in run-folder names and in the report.
    pub fn name(&self) -> &str {
        match self {
            Experiment::Denoise(s) => &s.name,
            Experiment::Ordering(s) => &s.name,
        }
    }

    /// The task's short name as written in the TOML (`task = "…"`).
    pub fn task(&self) -> &'static str {
        match self {
            Experiment::Denoise(_) => "denoise",
            Experiment::Ordering(_) => "ordering",
        }
    }

    /// The seed that drives initialisation and training randomness.
    pub fn seed(&self) -> u64 {
        match self {
            Experiment::Denoise(s) => s.seed,
            Experiment::Ordering(s) => s.seed,
        }
    }

    /// The compute backend the run asks for.
    pub fn backend(&self) -> Backend {
        match self {
            Experiment::Denoise(s) => s.backend,
            Experiment::Ordering(s) => s.backend,
        }
    }

    /// The resolved experiment as TOML text, as stored in every run folder.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# could not serialise: {e}\n"))
    }
}

/// Which burn backend trains the model.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// burn-flex with rayon and SIMD: the fastest CPU backend measured here.
    #[default]
    Flex,
    /// burn-ndarray (cargo feature `ndarray`).
    Ndarray,
    /// burn-cuda on GPU 0 (cargo feature `cuda`).
    Cuda,
}

/// Task 1 experiment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenoiseSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    #[serde(default)]
    pub backend: Backend,
    pub data: DenoiseData,
    pub noise: NoiseSpec,
    pub model: DenoiserSpec,
    pub train: DenoiseTrain,
    #[serde(default)]
    pub eval: DenoiseEval,
}

/// Which photographs a denoising run uses and how they are prepared.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenoiseData {
    /// Training photographs drawn from Train400 (the brief asks for 100).
    pub train_images: usize,
    /// Validation photographs: other Train400 images, for tuning only.
    pub val_images: usize,
    /// Test photographs taken from BSD68 (at most 68).
    pub test_images: usize,
    /// Side of the square images after downscaling, in pixels.
    pub image_size: usize,
    /// Seed of the random draw of training and validation images.
    pub split_seed: u64,
}

/// Additive white Gaussian noise, on the 0–255 intensity scale.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NoiseSpec {
    /// Standard deviation of the noise in 8-bit grey levels (25 means 25/255).
    pub sigma: f64,
    /// Seed of the one fixed noise draw for validation and test images.
    pub eval_seed: u64,
}

/// The denoiser architecture.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenoiserSpec {
    /// `"residual_cnn"`: a plain 3×3 conv stack predicting the noise
    /// (residual learning), optionally between a pixel-unshuffle and a
    /// pixel-shuffle; `"unet"`: a U-Net predicting the noise.
    pub arch: String,
    /// Channels of the hidden convolutions (for `"unet"`, at full
    /// resolution; they double at each lower level).
    pub features: usize,
    /// `"residual_cnn"`: number of 3×3 convolutions in all. `"unet"`: 3×3
    /// convolutions per level on the way down, and again on the way up.
    pub depth: usize,
    /// Pixel-unshuffle factor applied first (1 keeps full resolution).
    #[serde(default = "single")]
    pub unshuffle: usize,
    /// Resolutions of `"unet"` (each halves the previous one).
    #[serde(default = "single")]
    pub levels: usize,
}

/// Default of single-valued architecture factors.
fn single() -> usize {
    1
}

/// Optimisation of the denoiser.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenoiseTrain {
    pub epochs: usize,
    pub steps_per_epoch: usize,
    pub batch_size: usize,
    /// Side of the random training crops, in pixels.
    pub crop: usize,
    /// Peak learning rate of Adam.
    pub lr: f64,
    /// Final learning rate reached by the cosine schedule.
    pub lr_final: f64,
    /// Random flips and 90° rotations of every training crop.
    #[serde(default = "yes")]
    pub augment: bool,
    /// Stop after this many seconds of training even if epochs remain (0: no limit).
    #[serde(default)]
    pub time_budget_s: f64,
    /// Fraction of the steps over which the learning rate ramps up linearly
    /// from zero before the cosine decay (0: no warm-up).
    #[serde(default)]
    pub warmup: f64,
}

/// Evaluation options of a denoising run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DenoiseEval {
    /// Test noise levels (0–255 scale) for the robustness curve (B2).
    #[serde(default = "default_sigmas")]
    pub robustness_sigmas: Vec<f64>,
    /// Average the model over the eight flips/rotations in the final evaluation.
    #[serde(default)]
    pub self_ensemble: bool,
    /// Also run the classical baselines (Gaussian blur and non-local means,
    /// tuned on the validation split, and BM3D) on the same noisy test images.
    #[serde(default = "yes")]
    pub baselines: bool,
}

impl Default for DenoiseEval {
    fn default() -> Self {
        DenoiseEval {
            robustness_sigmas: default_sigmas(),
            self_ensemble: false,
            baselines: true,
        }
    }
}

fn default_sigmas() -> Vec<f64> {
    vec![5.0, 15.0, 25.0, 35.0, 50.0, 75.0]
}

fn yes() -> bool {
    true
}

/// Task 2 experiment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderingSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    #[serde(default)]
    pub backend: Backend,
    pub data: OrderingData,
    pub model: AgentsSpec,
    pub channel: ChannelSpec,
    pub train: OrderingTrain,
    #[serde(default)]
    pub eval: OrderingEval,
}

/// Which CIFAR-10 images the ordering game uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderingData {
    /// Training images drawn uniformly from CIFAR-10 training images (100 in the brief).
    pub train_images: usize,
    /// Validation images, for tuning (never trained on).
    pub val_images: usize,
    /// Held-out CIFAR-10 images never used in training or tuning (generalisation check).
    pub heldout_images: usize,
    /// Seed of the uniform draw.
    pub split_seed: u64,
}

/// Architecture of the sender S and the receiver R.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentsSpec {
    /// `"score"`: each agent scores every image with a small CNN and compares
    /// the two scores (antisymmetric by construction); `"generic"`: a CNN on
    /// the raw 6-channel stack, R with the bit appended.
    pub arch: String,
    /// Channels of the convolutions.
    pub channels: usize,
}

/// The one-bit channel between S and R.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// `"straight_through"` (hard bit forward, sigmoid gradient backward) or
    /// `"reinforce"` (sampled bit, score-function gradient).
    pub estimator: String,
    /// Temperature of the sigmoid relaxation used by the straight-through gradient.
    #[serde(default = "one")]
    pub temperature: f64,
}

fn one() -> f64 {
    1.0
}

/// Optimisation of the two agents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrderingTrain {
    pub epochs: usize,
    pub steps_per_epoch: usize,
    /// Cases per step (ignored with `all_pairs`).
    pub batch_size: usize,
    /// Every step uses every training case at once (structured agents only):
    /// each image is scored once and the loss covers all n·(n−1) ordered
    /// pairs in both orders, so no pair is left rarely seen.
    #[serde(default)]
    pub all_pairs: bool,
    /// Peak learning rate of Adam.
    pub lr: f64,
    /// Final learning rate reached by the cosine schedule.
    pub lr_final: f64,
}

/// Evaluation options of an ordering run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[derive(Default)]
pub struct OrderingEval {
    /// Replace S's bit by a fair coin at evaluation (ablation: no communication).
    #[serde(default)]
    pub randomise_bit: bool,
}

/// A config problem, phrased for the person who wrote the file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "experiment file {}: {}",
            self.file.display(),
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// One run of an experiment file: the resolved experiment plus, for a sweep,
/// the values chosen for the swept keys.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub experiment: Experiment,
    /// `(dotted key, value)` for every swept key; empty when not a sweep.
    pub swept: Vec<(String, String)>,
}

/// Reads an experiment file and returns one plan per run it describes.
pub fn load_file(path: &Path) -> Result<Vec<RunPlan>, ConfigError> {
    let err = |message: String| ConfigError {
        file: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        err(format!(
            "cannot read it ({e}); check the path, or list the files under experiments/"
        ))
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| err("is not UTF-8 text; an experiment file is a TOML text file".into()))?;
    parse_str(&text).map_err(err)
}

/// Parses experiment text (see [`load_file`]); the error is a message without the file name.
pub fn parse_str(text: &str) -> Result<Vec<RunPlan>, String> {
    if text.trim().is_empty() {
        return Err(
            "is empty; start from experiments/denoise.toml or experiments/ordering.toml".into(),
        );
    }
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("is not valid TOML: {}", e.to_string().trim_end()))?;
    let task = match table.get("task") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "key `task` must be a string, \"denoise\" or \"ordering\", not {}",
                other.type_str()
            ));
        }
        None => return Err("missing key `task`; allowed values: \"denoise\", \"ordering\"".into()),
    };
    let mut plans = Vec::new();
    for (swept, table) in expand_sweeps(&table)? {
        let in_sweep = |e: String| {
            if swept.is_empty() {
                e
            } else {
                format!("{e} (in the sweep combination {})", describe(&swept))
            }
        };
        let experiment = match task.as_str() {
            "denoise" => Experiment::Denoise(typed::<DenoiseSpec>(&table).map_err(in_sweep)?),
            "ordering" => Experiment::Ordering(typed::<OrderingSpec>(&table).map_err(in_sweep)?),
            other => {
                return Err(format!(
                    "key `task` = \"{other}\" is unknown; allowed values: \"denoise\", \"ordering\""
                ));
            }
        };
        experiment.validate().map_err(in_sweep)?;
        plans.push(RunPlan { experiment, swept });
    }
    Ok(plans)
}

fn describe(swept: &[(String, String)]) -> String {
    swept
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deserializes a table (without its `task` key) into a typed spec.
fn typed<T: serde::de::DeserializeOwned>(table: &toml::Table) -> Result<T, String> {
    let mut table = table.clone();
    table.remove("task");
    // Re-serialising keeps the key path in serde's messages ("unknown field `x`
    // in `train`"), which is what a person needs to find the mistake.
    let text = toml::to_string(&table).map_err(|e| e.to_string())?;
    let de = toml::de::Deserializer::parse(&text).map_err(|e| clean_toml_error(&e, &text, ""))?;
    // serde_path_to_error tracks the key being read, so a wrong type or a
    // missing key is named by its full dotted path, not only by serde's
    // "invalid type: …, expected usize".
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = e.path().to_string();
        clean_toml_error(e.inner(), &text, &path)
    })
}

/// Turns a toml deserialisation error into one line naming the key (`path`,
/// dotted, when known) and what is allowed, in words rather than Rust types.
fn clean_toml_error(e: &toml::de::Error, text: &str, path: &str) -> String {
    let message = e.message().trim().to_string();
    let message = message.replace("unknown field", "unknown key");
    let message = message.replace("missing field", "missing key");
    let message = message.replace("unknown variant", "unknown value");
    let message = if message.starts_with("unknown key") {
        message.replace("expected one of", "allowed keys:")
    } else {
        message.replace("expected one of", "allowed values:")
    };
    let message = plain_types(&message);
    // An unknown key's path ends in the key itself and its message names it;
    // say which section it is in. Other errors name the key by its path.
    let known = !path.is_empty() && path != "?";
    if message.starts_with("unknown key") {
        let section = match path.rsplit_once('.') {
            Some((section, _)) if known => Some(section.to_string()),
            _ => e.span().and_then(|span| section_at(text, span.start)),
        };
        return match section {
            Some(section) if !section.is_empty() => format!("in section [{section}]: {message}"),
            _ => message,
        };
    }
    if message.starts_with("missing key") && known {
        return format!("in section [{path}]: {message}");
    }
    if known {
        format!("key `{path}`: {message}")
    } else {
        message
    }
}

/// Replaces Rust type names in serde's "expected …" with what a person writes.
fn plain_types(message: &str) -> String {
    let words = [
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("integer `", "whole number `"),
    ];
    words
        .iter()
        .fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// The `[section]` header in force at byte `offset` of TOML `text`, if any.
fn section_at(text: &str, offset: usize) -> Option<String> {
    text.get(..offset)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))
        .map(|header| header.trim_matches(['[', ']']).trim().to_string())
}

/// One point of a sweep: the swept `(key, value)` pairs and the resulting table.
pub type SweepPoint = (Vec<(String, String)>, toml::Table);

/// The top-level key that pairs sweep axes: `sweep_together = ["a.b", "c.d"]`
/// makes the lists of those keys vary in step (their first values together,
/// then their second …) instead of in every combination. That is how a
/// comparison at equal work is written, e.g. batch size against steps.
pub const SWEEP_TOGETHER: &str = "sweep_together";

/// Expands every array value into alternatives and returns the cartesian
/// product, each with the list of swept `(key, value)` pairs; the keys named
/// in [`SWEEP_TOGETHER`] form one axis whose values are taken in step.
///
/// Arrays of tables are structure, not sweeps; the schema has one list-valued
/// key (`eval.robustness_sigmas`), which is taken as a value, not a sweep.
pub fn expand_sweeps(table: &toml::Table) -> Result<Vec<SweepPoint>, String> {
    let mut table = table.clone();
    let together = paired_keys(table.remove(SWEEP_TOGETHER))?;
    let mut axes: Vec<(Vec<String>, Vec<toml::Value>)> = Vec::new();
    collect_axes(&table, &mut Vec::new(), &mut axes)?;
    // Each axis is a list of alternatives; an alternative sets one or more keys.
    type Setting = Vec<(Vec<String>, toml::Value)>;
    let mut grouped: Vec<Vec<Setting>> = Vec::new();
    let (paired, single): (Vec<_>, Vec<_>) = axes
        .into_iter()
        .partition(|(path, _)| together.contains(&path.join(".")));
    if let Some(missing) = together
        .iter()
        .find(|k| !paired.iter().any(|(p, _)| &p.join(".") == *k))
    {
        return Err(format!(
            "key `{SWEEP_TOGETHER}` names `{missing}`, which is not a list of values in this file; name only keys given as lists"
        ));
    }
    if let Some((first, rest)) = paired.split_first() {
        let n = first.1.len();
        if let Some((path, values)) = rest.iter().find(|(_, v)| v.len() != n) {
            return Err(format!(
                "keys in `{SWEEP_TOGETHER}` must list equally many values: `{}` lists {n}, `{}` lists {}",
                first.0.join("."),
                path.join("."),
                values.len()
            ));
        }
        grouped.push(
            (0..n)
                .map(|i| {
                    paired
                        .iter()
                        .map(|(p, v)| (p.clone(), v[i].clone()))
                        .collect()
                })
                .collect(),
        );
    }
    for (path, values) in single {
        grouped.push(
            values
                .into_iter()
                .map(|v| vec![(path.clone(), v)])
                .collect(),
        );
    }
    let mut out = vec![(Vec::new(), table)];
    for alternatives in &grouped {
        let mut next = Vec::new();
        for (swept, base) in &out {
            for setting in alternatives {
                let mut t = base.clone();
                let mut s = swept.clone();
                for (path, value) in setting {
                    set_path(&mut t, path, value.clone());
                    s.push((path.join("."), value.to_string()));
                }
                next.push((s, t));
            }
        }
        out = next;
        if out.len() > 1000 {
            return Err(format!(
                "the sweep expands to more than 1000 runs ({} so far); list fewer values",
                out.len()
            ));
        }
    }
    Ok(out)
}

/// Reads the value of [`SWEEP_TOGETHER`]: a list of dotted key names.
fn paired_keys(value: Option<toml::Value>) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let items = match value {
        toml::Value::Array(items) => items,
        other => {
            return Err(format!(
                "key `{SWEEP_TOGETHER}` must be a list of key names such as [\"train.batch_size\", \"train.steps_per_epoch\"], not {}",
                other.type_str()
            ));
        }
    };
    items
        .into_iter()
        .map(|v| match v {
            toml::Value::String(k) => Ok(k),
            other => Err(format!(
                "key `{SWEEP_TOGETHER}` must list key names as strings, not {}",
                other.type_str()
            )),
        })
        .collect()
}

/// Keys whose value is a list by design and therefore never a sweep axis.
const LIST_KEYS: &[&str] = &["eval.robustness_sigmas"];

fn collect_axes(
    table: &toml::Table,
    prefix: &mut Vec<String>,
    axes: &mut Vec<(Vec<String>, Vec<toml::Value>)>,
) -> Result<(), String> {
    for (key, value) in table {
        prefix.push(key.clone());
        let dotted = prefix.join(".");
        match value {
            toml::Value::Table(inner) => collect_axes(inner, prefix, axes)?,
            toml::Value::Array(items) if !LIST_KEYS.contains(&dotted.as_str()) => {
                if items.is_empty() {
                    return Err(format!(
                        "key `{dotted}` is an empty list; a sweep needs at least one value"
                    ));
                }
                if items
                    .iter()
                    .any(|v| matches!(v, toml::Value::Table(_) | toml::Value::Array(_)))
                {
                    return Err(format!(
                        "key `{dotted}` lists tables or lists; a sweep lists plain values (numbers, strings, booleans)"
                    ));
                }
                if dotted == "task" || dotted == "name" {
                    return Err(format!("key `{dotted}` cannot be swept; give it one value"));
                }
                axes.push((prefix.clone(), items.clone()));
            }
            _ => {}
        }
        prefix.pop();
    }
    Ok(())
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path
        .split_last()
        .expect("a sweep path has at least one key");
    let mut t = table;
    for key in parents {
        t = match t.get_mut(key) {
            Some(toml::Value::Table(inner)) => inner,
            _ => return,
        };
    }
    t.insert(last.clone(), value);
}

/// Range checks that types alone cannot express.
pub trait Validate {
    /// Returns a message naming the key and what is allowed, or `Ok`.
    fn validate(&self) -> Result<(), String>;
}

/// Collects failed checks as `key must … (got …)` lines.
struct Checks(String);

impl Checks {
    fn new() -> Self {
        Checks(String::new())
    }
    fn check(&mut self, ok: bool, key: &str, rule: &str, got: impl std::fmt::Display) {
        if !ok {
            if !self.0.is_empty() {
                self.0.push_str("; ");
            }
            let _ = write!(self.0, "key `{key}` must {rule} (got {got})");
        }
    }
    fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Validate for Experiment {
    fn validate(&self) -> Result<(), String> {
        match self {
            Experiment::Denoise(s) => s.validate(),
            Experiment::Ordering(s) => s.validate(),
        }
    }
}

/// Train400 holds 400 images; BSD68 holds 68.
pub const TRAIN400_IMAGES: usize = 400;
pub const BSD68_IMAGES: usize = 68;
/// Records of the CIFAR-10 training file the product uses (the mirror's size).
pub const CIFAR_TRAIN_RECORDS: usize = 4000;

impl Validate for DenoiseSpec {
    fn validate(&self) -> Result<(), String> {
        let mut c = Checks::new();
        c.check(
            valid_name(&self.name),
            "name",
            "be 1–64 letters, digits, '-' or '_'",
            format!("{:?}", self.name),
        );
        let d = &self.data;
        c.check(
            d.train_images >= 1,
            "data.train_images",
            "be at least 1",
            d.train_images,
        );
        c.check(
            d.val_images >= 1,
            "data.val_images",
            "be at least 1",
            d.val_images,
        );
        c.check(
            d.train_images + d.val_images <= TRAIN400_IMAGES,
            "data.train_images + data.val_images",
            "be at most 400 (Train400 has 400 photographs)",
            d.train_images + d.val_images,
        );
        c.check(
            (1..=BSD68_IMAGES).contains(&d.test_images),
            "data.test_images",
            "be between 1 and 68 (BSD68 has 68 photographs)",
            d.test_images,
        );
        c.check(
            (8..=180).contains(&d.image_size),
            "data.image_size",
            "be between 8 and 180 pixels (Train400 images are 180×180)",
            d.image_size,
        );
        c.check(
            self.noise.sigma > 0.0 && self.noise.sigma <= 255.0,
            "noise.sigma",
            "be in (0, 255] grey levels",
            self.noise.sigma,
        );
        let m = &self.model;
        c.check(
            m.arch == "residual_cnn" || m.arch == "unet",
            "model.arch",
            "be \"residual_cnn\" or \"unet\"",
            format!("{:?}", m.arch),
        );
        c.check(
            (1..=512).contains(&m.features),
            "model.features",
            "be between 1 and 512",
            m.features,
        );
        let unet = m.arch == "unet";
        let min_depth = if unet { 1 } else { 2 };
        c.check(
            (min_depth..=64).contains(&m.depth),
            "model.depth",
            &format!("be between {min_depth} and 64"),
            m.depth,
        );
        c.check(
            (1..=5).contains(&m.levels) && (unet || m.levels == 1),
            "model.levels",
            if unet {
                "be between 1 and 5"
            } else {
                "be 1 (levels belong to model.arch = \"unet\")"
            },
            m.levels,
        );
        c.check(
            (1..=4).contains(&m.unshuffle),
            "model.unshuffle",
            "be 1, 2, 3 or 4",
            m.unshuffle,
        );
        let t = &self.train;
        c.check(t.epochs >= 1, "train.epochs", "be at least 1", t.epochs);
        c.check(
            t.steps_per_epoch >= 1,
            "train.steps_per_epoch",
            "be at least 1",
            t.steps_per_epoch,
        );
        c.check(
            (1..=4096).contains(&t.batch_size),
            "train.batch_size",
            "be between 1 and 4096",
            t.batch_size,
        );
        // The factor by which the network down-samples: sizes must divide by it.
        let fold = m.unshuffle.max(1) << m.levels.clamp(1, 5).saturating_sub(1);
        c.check(
            t.crop >= 2 * fold && t.crop <= d.image_size,
            "train.crop",
            &format!(
                "be between {} and data.image_size = {}",
                2 * fold,
                d.image_size
            ),
            t.crop,
        );
        c.check(
            m.unshuffle == 0 || (t.crop.is_multiple_of(fold) && d.image_size.is_multiple_of(fold)),
            "train.crop and data.image_size",
            &format!("be multiples of {fold} (model.unshuffle × 2^(model.levels − 1))"),
            format!("{} and {}", t.crop, d.image_size),
        );
        c.check(t.lr > 0.0 && t.lr < 1.0, "train.lr", "be in (0, 1)", t.lr);
        c.check(
            t.lr_final > 0.0 && t.lr_final <= t.lr,
            "train.lr_final",
            "be in (0, train.lr]",
            t.lr_final,
        );
        c.check(
            (0.0..0.5).contains(&t.warmup),
            "train.warmup",
            "be a fraction of the steps in [0, 0.5)",
            t.warmup,
        );
        c.check(
            t.time_budget_s >= 0.0,
            "train.time_budget_s",
            "be 0 (no limit) or positive seconds",
            t.time_budget_s,
        );
        for s in &self.eval.robustness_sigmas {
            c.check(
                *s > 0.0 && *s <= 255.0,
                "eval.robustness_sigmas",
                "hold values in (0, 255]",
                s,
            );
        }
        c.finish()
    }
}

impl Validate for OrderingSpec {
    fn validate(&self) -> Result<(), String> {
        let mut c = Checks::new();
        c.check(
            valid_name(&self.name),
            "name",
            "be 1–64 letters, digits, '-' or '_'",
            format!("{:?}", self.name),
        );
        let d = &self.data;
        c.check(
            d.train_images >= 2,
            "data.train_images",
            "be at least 2 (a pair)",
            d.train_images,
        );
        c.check(
            d.heldout_images >= 2,
            "data.heldout_images",
            "be at least 2 (a pair)",
            d.heldout_images,
        );
        c.check(
            d.val_images >= 2,
            "data.val_images",
            "be at least 2 (a pair)",
            d.val_images,
        );
        c.check(
            d.train_images + d.val_images + d.heldout_images <= CIFAR_TRAIN_RECORDS,
            "data.train_images + data.val_images + data.heldout_images",
            "be at most 4000 (the CIFAR-10 training images available)",
            d.train_images + d.val_images + d.heldout_images,
        );
        let m = &self.model;
        c.check(
            m.arch == "score" || m.arch == "generic",
            "model.arch",
            "be \"score\" or \"generic\"",
            format!("{:?}", m.arch),
        );
        c.check(
            (1..=256).contains(&m.channels),
            "model.channels",
            "be between 1 and 256",
            m.channels,
        );
        let ch = &self.channel;
        c.check(
            ch.estimator == "straight_through" || ch.estimator == "reinforce",
            "channel.estimator",
            "be \"straight_through\" or \"reinforce\"",
            format!("{:?}", ch.estimator),
        );
        c.check(
            ch.temperature > 0.0 && ch.temperature.is_finite(),
            "channel.temperature",
            "be a positive number",
            ch.temperature,
        );
        let t = &self.train;
        c.check(t.epochs >= 1, "train.epochs", "be at least 1", t.epochs);
        c.check(
            t.steps_per_epoch >= 1,
            "train.steps_per_epoch",
            "be at least 1",
            t.steps_per_epoch,
        );
        c.check(
            (2..=8192).contains(&t.batch_size),
            "train.batch_size",
            "be between 2 and 8192",
            t.batch_size,
        );
        c.check(t.lr > 0.0 && t.lr < 1.0, "train.lr", "be in (0, 1)", t.lr);
        c.check(
            t.lr_final > 0.0 && t.lr_final <= t.lr,
            "train.lr_final",
            "be in (0, train.lr]",
            t.lr_final,
        );
        c.finish()
    }
}
