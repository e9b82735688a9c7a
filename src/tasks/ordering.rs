//! Task 2: train a sender and a receiver to agree on image order through one bit.
//!
//! A training case is an ordered pair (i, j) of distinct images and a coin
//! for the order R is shown. S sees the stack [i; j] and emits a bit m; R
//! sees [i; j] (same order, label 1) or [j; i] (swapped, label 0) plus m and
//! outputs the logit of "same order". The loss is R's binary cross-entropy.
//!
//! The bit is a real bit (T2.5): hard 0/1 in every forward pass. Gradients
//! reach S through one of two estimators, chosen in the TOML:
//! - `straight_through`: m = hard + (σ(l/τ) − sg(σ(l/τ))), i.e. the hard bit
//!   forward and the sigmoid's gradient backward;
//! - `reinforce`: m ~ Bernoulli(σ(l)); S is trained by the score-function
//!   gradient of R's log-likelihood of the right answer, with a running-mean
//!   baseline.
//!
//! Evaluation is exhaustive on the training images: every ordered pair and
//! both orders shown to R, n·(n−1)·2 cases, with hard bits (S's bit is the
//! sign of its logit; no sampling at evaluation).

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, sigmoid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::config::OrderingSpec;
use crate::data::DataStore;
use crate::data::cifar::{self, ColorImage};
use crate::images::save_rgb_grid;
use crate::models::agents::{Receiver, Sender};
use crate::runs::Run;
use crate::train::{FitOutcome, Trainer, cosine_lr, fit};

/// Images stacked as one `[N, 3, 32, 32]` tensor.
pub fn image_tensor(images: &[ColorImage], device: &Device) -> Tensor<4> {
    let flat: Vec<f32> = images.iter().flat_map(ColorImage::to_f32).collect();
    Tensor::from_data(TensorData::new(flat, [images.len(), 3, 32, 32]), device)
}

/// Gathers `[top_k; bottom_k]` stacks `[B, 6, 32, 32]` from an image tensor.
pub fn stacks(images: &Tensor<4>, top: &[usize], bottom: &[usize]) -> Tensor<4> {
    let device = images.device();
    let idx = |v: &[usize]| {
        Tensor::<1, Int>::from_data(
            TensorData::new(v.iter().map(|&i| i as i64).collect::<Vec<_>>(), [v.len()]),
            &device,
        )
    };
    Tensor::cat(
        vec![
            images.clone().select(0, idx(top)),
            images.clone().select(0, idx(bottom)),
        ],
        1,
    )
}

/// Numerically stable binary cross-entropy with logits, per element.
fn bce_with_logits(logit: Tensor<1>, target: Tensor<1>) -> Tensor<1> {
    // −[y·log σ(l) + (1−y)·log σ(−l)]
    let pos = log_sigmoid(logit.clone());
    let neg = log_sigmoid(-logit);
    -(target.clone() * pos + (-target + 1.0) * neg)
}

/// One batch of training cases.
#[derive(Debug, Clone)]
pub struct Cases {
    /// Image S sees on top.
    pub first: Vec<usize>,
    /// Image S sees at the bottom.
    pub second: Vec<usize>,
    /// 1 when R is shown S's order, 0 when swapped.
    pub same: Vec<f32>,
}

impl Cases {
    /// Every ordered pair of `n` images, each shown to R in both orders.
    pub fn exhaustive(n: usize) -> Cases {
        let mut c = Cases {
            first: vec![],
            second: vec![],
            same: vec![],
        };
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    for same in [1.0, 0.0] {
                        c.first.push(i);
                        c.second.push(j);
                        c.same.push(same);
                    }
                }
            }
        }
        c
    }

    /// `count` uniformly random cases over `n` images.
    pub fn sample(n: usize, count: usize, rng: &mut StdRng) -> Cases {
        let mut c = Cases {
            first: vec![],
            second: vec![],
            same: vec![],
        };
        for _ in 0..count {
            let i = rng.random_range(0..n);
            let mut j = rng.random_range(0..n - 1);
            if j >= i {
                j += 1;
            }
            c.first.push(i);
            c.second.push(j);
            c.same.push(if rng.random_bool(0.5) { 1.0 } else { 0.0 });
        }
        c
    }

    /// The order R is shown: `(top, bottom)` per case.
    fn receiver_order(&self) -> (Vec<usize>, Vec<usize>) {
        self.first
            .iter()
            .zip(&self.second)
            .zip(&self.same)
            .map(|((&i, &j), &s)| if s == 1.0 { (i, j) } else { (j, i) })
            .unzip()
    }

    pub fn len(&self) -> usize {
        self.first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}

/// Decisions on a set of cases, with hard bits.
#[derive(Debug, Clone)]
pub struct Decisions {
    /// S's bit per case.
    pub bit: Vec<u8>,
    /// R's answer "same order" (1) or "swapped" (0) per case.
    pub decision: Vec<u8>,
    /// R's logit per case (its confidence).
    pub logit: Vec<f32>,
}

impl Decisions {
    /// Fraction of cases where R's decision differs from the truth.
    pub fn error_rate(&self, cases: &Cases) -> f64 {
        self.errors(cases) as f64 / cases.len().max(1) as f64
    }

    pub fn errors(&self, cases: &Cases) -> usize {
        self.decision
            .iter()
            .zip(&cases.same)
            .filter(|(d, s)| (**d as f32) != **s)
            .count()
    }
}

/// Plays the game on `cases` with hard bits. With `coin` set, S's bit is
/// replaced by a fair coin (the no-communication ablation).
///
/// Structured agents are played through their per-image scores: S's logit
/// for [A; B] is by construction `f_S(A) − f_S(B)`, so scoring each image
/// once gives the same decisions as a forward pass per case (a test checks
/// this) at a tiny fraction of the cost, which makes exhaustive held-out
/// evaluation affordable. Generic agents are played case by case.
pub fn play(
    sender: &Sender,
    receiver: &Receiver,
    images: &Tensor<4>,
    cases: &Cases,
    coin: Option<&mut StdRng>,
) -> Decisions {
    match (sender.score(images.clone()), receiver.score(images.clone())) {
        (Some(fs), Some(fr)) => {
            let fs: Vec<f32> = fs.into_data().try_to_vec::<f32>().expect("float");
            let fr: Vec<f32> = fr.into_data().try_to_vec::<f32>().expect("float");
            play_scores(&fs, &fr, cases, coin)
        }
        _ => play_stacks(sender, receiver, images, cases, coin),
    }
}

/// The structured game from per-image scores of S (`fs`) and R (`fr`).
pub fn play_scores(
    fs: &[f32],
    fr: &[f32],
    cases: &Cases,
    mut coin: Option<&mut StdRng>,
) -> Decisions {
    let (r_top, r_bottom) = cases.receiver_order();
    let mut out = Decisions {
        bit: Vec::with_capacity(cases.len()),
        decision: Vec::with_capacity(cases.len()),
        logit: Vec::with_capacity(cases.len()),
    };
    for k in 0..cases.len() {
        let bit = match coin.as_deref_mut() {
            Some(rng) => rng.random_bool(0.5),
            None => fs[cases.first[k]] - fs[cases.second[k]] > 0.0,
        };
        let d = fr[r_top[k]] - fr[r_bottom[k]];
        let logit = if bit { d } else { -d };
        out.bit.push(bit as u8);
        out.decision.push((logit > 0.0) as u8);
        out.logit.push(logit);
    }
    out
}

/// The game played with one forward pass of S and R per case.
pub fn play_stacks(
    sender: &Sender,
    receiver: &Receiver,
    images: &Tensor<4>,
    cases: &Cases,
    coin: Option<&mut StdRng>,
) -> Decisions {
    // Small batches: large gathered stacks cost more in page faults than they save.
    const BATCH: usize = 256;
    let mut out = Decisions {
        bit: vec![],
        decision: vec![],
        logit: vec![],
    };
    let (r_top, r_bottom) = cases.receiver_order();
    let mut coin = coin;
    for start in (0..cases.len()).step_by(BATCH) {
        let end = (start + BATCH).min(cases.len());
        let s_logit: Vec<f32> = sender
            .forward(stacks(
                images,
                &cases.first[start..end],
                &cases.second[start..end],
            ))
            .into_data()
            .try_to_vec::<f32>()
            .expect("float");
        let bits: Vec<f32> = match coin.as_deref_mut() {
            Some(rng) => s_logit
                .iter()
                .map(|_| if rng.random_bool(0.5) { 1.0 } else { 0.0 })
                .collect(),
            None => s_logit
                .iter()
                .map(|&l| if l > 0.0 { 1.0 } else { 0.0 })
                .collect(),
        };
        let bit_t = Tensor::<1>::from_data(
            TensorData::new(bits.clone(), [bits.len()]),
            &images.device(),
        );
        let r_logit: Vec<f32> = receiver
            .forward(
                stacks(images, &r_top[start..end], &r_bottom[start..end]),
                bit_t,
            )
            .into_data()
            .try_to_vec::<f32>()
            .expect("float");
        out.bit.extend(bits.iter().map(|&b| b as u8));
        out.decision
            .extend(r_logit.iter().map(|&l| (l > 0.0) as u8));
        out.logit.extend(r_logit);
    }
    out
}

struct OrderingTrainer<'a> {
    spec: &'a OrderingSpec,
    agents: Option<(Sender, Receiver)>,
    optim: ModuleOptimizer,
    rng: StdRng,
    train_images: Tensor<4>,
    val_images: Tensor<4>,
    heldout_images: Tensor<4>,
    n_train: usize,
    n_val: usize,
    n_heldout: usize,
    /// Running mean of the reward, the REINFORCE baseline.
    baseline: f64,
}

/// S and R optimised as one module by one optimiser (joint training).
#[derive(Module, Debug)]
pub struct Agents {
    pub sender: Sender,
    pub receiver: Receiver,
}

impl OrderingTrainer<'_> {
    /// Draws one bit per probability (REINFORCE's sampled message) from the seeded generator.
    fn sample_bits(&mut self, probabilities: TensorData) -> Vec<f32> {
        let p: Vec<f32> = probabilities.try_to_vec::<f32>().expect("float");
        p.iter()
            .map(|&p| {
                if self.rng.random::<f32>() < p {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Returns the per-case loss to minimise and R's mean cross-entropy on the batch.
    fn loss(&mut self, sender: &Sender, receiver: &Receiver, cases: &Cases) -> (Tensor<1>, f64) {
        let device = self.train_images.device();
        let b = cases.len();
        let s_logit = sender.forward(stacks(&self.train_images, &cases.first, &cases.second));
        let (r_top, r_bottom) = cases.receiver_order();
        let r_stack = stacks(&self.train_images, &r_top, &r_bottom);
        let target = Tensor::<1>::from_data(TensorData::new(cases.same.clone(), [b]), &device);
        if self.spec.channel.estimator == "reinforce" {
            let sampled = self.sample_bits(sigmoid(s_logit.clone()).into_data());
            let m = Tensor::<1>::from_data(TensorData::new(sampled, [b]), &device);
            let r_loss = bce_with_logits(receiver.forward(r_stack, m.clone()), target);
            // Reward: R's log-likelihood of the right answer (a constant for S).
            let reward = -r_loss.clone().detach();
            let mean_reward = reward.clone().mean().into_scalar::<f64>();
            let bce = -mean_reward;
            let advantage = reward - self.baseline;
            self.baseline = 0.9 * self.baseline + 0.1 * mean_reward;
            let log_pi =
                m.clone() * log_sigmoid(s_logit.clone()) + (-m + 1.0) * log_sigmoid(-s_logit);
            (r_loss - advantage * log_pi, bce)
        } else {
            let soft = sigmoid(s_logit.clone() / self.spec.channel.temperature);
            let hard = s_logit.greater_elem(0.0).float();
            let m = soft.clone() + (hard - soft.detach());
            let r_loss = bce_with_logits(receiver.forward(r_stack, m), target);
            let bce = r_loss.clone().mean().into_scalar::<f64>();
            (r_loss, bce)
        }
    }
}

impl OrderingTrainer<'_> {
    /// The loss over every training case at once, for structured agents.
    ///
    /// S's logit for the ordered pair (i, j) is f_S(i) − f_S(j), so one
    /// forward pass over the n images gives the n×n matrix of all logits. For
    /// the pair (i, j) with bit m, R shown (i, j) has logit x = (2m − 1)·(f_R(i) − f_R(j))
    /// and target 1; shown (j, i) it has logit −x and target 0: the same
    /// cross-entropy. So the mean loss over all n·(n−1)·2 cases is the mean of
    /// −log σ(x) over the off-diagonal entries.
    /// Returns the loss to minimise and R's mean cross-entropy (the logged training loss).
    fn all_pairs_loss(&mut self, sender: &Sender, receiver: &Receiver) -> (Tensor<1>, f64) {
        let n = self.n_train;
        let device = self.train_images.device();
        let fs = sender
            .score(self.train_images.clone())
            .expect("validated: structured sender");
        let fr = receiver
            .score(self.train_images.clone())
            .expect("validated: structured receiver");
        let ds = fs.clone().reshape([n, 1]) - fs.reshape([1, n]);
        let dr = fr.clone().reshape([n, 1]) - fr.reshape([1, n]);
        let m = if self.spec.channel.estimator == "reinforce" {
            let sampled = self.sample_bits(sigmoid(ds.clone()).into_data());
            Tensor::<2>::from_data(TensorData::new(sampled, [n, n]), &device)
        } else {
            let soft = sigmoid(ds.clone() / self.spec.channel.temperature);
            let hard = ds.clone().greater_elem(0.0).float();
            soft.clone() + (hard - soft.detach())
        };
        let x = (m.clone() * 2.0 - 1.0) * dr;
        let off_diagonal: Vec<f32> = (0..n * n)
            .map(|k| if k / n == k % n { 0.0 } else { 1.0 })
            .collect();
        let mask = Tensor::<2>::from_data(TensorData::new(off_diagonal, [n, n]), &device);
        let per_case = -log_sigmoid(x) * mask.clone();
        let cases = (n * (n - 1)) as f64;
        let bce = per_case.clone().sum().into_scalar::<f64>() / cases;
        let mut loss = per_case.clone();
        if self.spec.channel.estimator == "reinforce" {
            let reward = -per_case.detach();
            let mean_reward = -bce;
            let advantage = reward - self.baseline;
            self.baseline = 0.9 * self.baseline + 0.1 * mean_reward;
            let log_pi = m.clone() * log_sigmoid(ds.clone()) + (-m + 1.0) * log_sigmoid(-ds);
            loss = loss - advantage * log_pi * mask;
        }
        (loss.sum().reshape([1]) / cases, bce)
    }
}

impl Trainer for OrderingTrainer<'_> {
    fn metric_names(&self) -> Vec<String> {
        ["train_error", "val_error", "heldout_error", "heldout_loss"]
            .map(String::from)
            .to_vec()
    }

    fn step(&mut self, progress: f64) -> Result<f64> {
        let (sender, receiver) = self.agents.take().expect("agents present between steps");
        let (loss, value) = if self.spec.train.all_pairs {
            self.all_pairs_loss(&sender, &receiver)
        } else {
            let cases = Cases::sample(self.n_train, self.spec.train.batch_size, &mut self.rng);
            let (per_case, bce) = self.loss(&sender, &receiver, &cases);
            (per_case.mean(), bce)
        };
        let agents = Agents { sender, receiver };
        let grads = GradientsParams::from_grads(loss.backward(), &agents);
        let lr = cosine_lr(self.spec.train.lr, self.spec.train.lr_final, progress);
        let agents = self.optim.step(lr, agents, grads);
        self.agents = Some((agents.sender, agents.receiver));
        Ok(value)
    }

    fn evaluate(&mut self) -> Result<Vec<f64>> {
        let (s, r) = self.agents.as_ref().expect("agents present");
        let (s, r) = (s.valid(), r.valid());
        let train = self.train_images.clone().inner();
        let heldout = self.heldout_images.clone().inner();
        let val = self.val_images.clone().inner();
        let (val_cases, _) =
            heldout_cases(self.n_val, s.is_structured(), 5_000, self.spec.seed ^ 1);
        let val_error = play(&s, &r, &val, &val_cases, None).error_rate(&val_cases);
        // Exhaustive for structured agents (cheap); generic agents need a
        // forward pass per case, so a fixed sample keeps epochs short (the
        // final evaluation is exhaustive for both).
        let (train_cases, _) =
            heldout_cases(self.n_train, s.is_structured(), 5_000, self.spec.seed ^ 2);
        let train_error = play(&s, &r, &train, &train_cases, None).error_rate(&train_cases);
        let (sample, _) = heldout_cases(self.n_heldout, s.is_structured(), 5_000, self.spec.seed);
        let d = play(&s, &r, &heldout, &sample, None);
        let heldout_loss = d
            .logit
            .iter()
            .zip(&sample.same)
            .map(|(&l, &y)| {
                let l = l as f64;
                l.max(0.0) - l * y as f64 + (-l.abs()).exp().ln_1p()
            })
            .sum::<f64>()
            / sample.len() as f64;
        Ok(vec![
            train_error,
            val_error,
            d.error_rate(&sample),
            heldout_loss,
        ])
    }
}

/// The held-out cases: exhaustive for structured agents (cheap through
/// per-image scores), else `samples` uniformly drawn cases from a fixed seed.
fn heldout_cases(n: usize, structured: bool, samples: usize, seed: u64) -> (Cases, &'static str) {
    if structured {
        (Cases::exhaustive(n), "exhaustive")
    } else {
        (
            Cases::sample(n, samples, &mut StdRng::seed_from_u64(seed ^ 0x4e1d)),
            "sampled",
        )
    }
}

/// Error counts of one evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorCount {
    pub cases: usize,
    pub errors: usize,
    pub error_rate: f64,
    /// How the cases were chosen: "exhaustive" or "sampled".
    pub method: String,
}

impl ErrorCount {
    fn new(cases: &Cases, d: &Decisions, method: &str) -> ErrorCount {
        let errors = d.errors(cases);
        ErrorCount {
            cases: cases.len(),
            errors,
            error_rate: errors as f64 / cases.len().max(1) as f64,
            method: method.into(),
        }
    }
}

/// Final numbers of an ordering run (`summary.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderingSummary {
    pub arch: String,
    pub estimator: String,
    pub randomised_bit: bool,
    pub parameters_sender: usize,
    pub parameters_receiver: usize,
    pub fit: FitOutcome,
    pub train: ErrorCount,
    /// Pairs of validation images (tuning only).
    #[serde(default)]
    pub val: Option<ErrorCount>,
    pub heldout: ErrorCount,
    /// Fraction of training cases where S sent 1.
    pub bit_one_rate: f64,
    /// Indices (into `data_batch_1.bin`) of the training images.
    pub train_indices: Vec<usize>,
    /// What the learned code depends on (structured agents only).
    pub protocol: Option<Protocol>,
}

/// How the learned ranking relates to simple image statistics, and how well S and R agree (B6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Protocol {
    /// Pearson correlation of S's score with each statistic over the training images.
    pub correlations: Vec<(String, f64)>,
    /// Spearman (rank) correlation of S's score with each statistic.
    pub rank_correlations: Vec<(String, f64)>,
    /// Kendall τ between S's and R's scores: training and held-out images.
    pub kendall_tau_train: f64,
    pub kendall_tau_heldout: f64,
    /// Per training image: (S's score, R's score, mean brightness).
    pub train_points: Vec<(f64, f64, f64)>,
    /// Training pairs whose S scores are closest, as `(i, j, |f_S(i) − f_S(j)| / std f_S)`.
    pub closest_pairs: Vec<(usize, usize, f64)>,
    /// Standard deviation of S's score over the training images: the scale
    /// of S's logits f_S(A) − f_S(B).
    #[serde(default)]
    pub score_sd: f64,
    /// What the held-out errors look like; absent in older runs.
    #[serde(default)]
    pub heldout_failures: Option<HeldoutFailures>,
}

/// The held-out image pairs that S and R order differently: exactly the
/// pairs R gets wrong (in both orders it is shown them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldoutFailures {
    /// Unordered held-out pairs, and how many of them S and R order differently.
    pub pairs: usize,
    pub discordant: usize,
    /// Median |f_S(A) − f_S(B)| / std f_S over all pairs and over the discordant ones.
    pub median_gap_all: f64,
    pub median_gap_discordant: f64,
    /// The discordant pairs with the widest S gap, as `(i, j, S gap, R gap)`,
    /// each gap signed and in units of that agent's score deviation.
    pub widest: Vec<(usize, usize, f64, f64)>,
}

/// Trains and evaluates one ordering experiment inside `run`.
pub fn execute(
    spec: &OrderingSpec,
    run: &Run,
    store: &DataStore,
    device: &Device,
) -> Result<OrderingSummary> {
    let d = &spec.data;
    let splits = cifar::load_splits(
        store,
        d.train_images,
        d.val_images,
        d.heldout_images,
        d.split_seed,
    )?;
    let train_device = device.clone().autodiff();
    train_device.seed(spec.seed);
    let sender = Sender::new(&spec.model, &train_device);
    let receiver = Receiver::new(&spec.model, &train_device);
    let (parameters_sender, parameters_receiver) = (sender.num_params(), receiver.num_params());
    let mut trainer = OrderingTrainer {
        spec,
        agents: Some((sender, receiver)),
        optim: AdamConfig::new().with_epsilon(1e-8).init(),
        rng: StdRng::seed_from_u64(spec.seed),
        train_images: image_tensor(&splits.train, &train_device),
        val_images: image_tensor(&splits.val, &train_device),
        heldout_images: image_tensor(&splits.heldout, &train_device),
        n_train: splits.train.len(),
        n_val: splits.val.len(),
        n_heldout: splits.heldout.len(),
        baseline: 0.0,
    };
    let t = &spec.train;
    let fit_outcome = fit(&mut trainer, run, t.epochs, t.steps_per_epoch, 0.0)?;
    let (s, r) = trainer.agents.take().expect("agents present");
    let (s, r) = (s.valid(), r.valid());
    Agents {
        sender: s.clone(),
        receiver: r.clone(),
    }
    .save_file(run.path("model.bpk"))
    .map_err(|e| anyhow::anyhow!("cannot save the weights: {e:?}"))?;

    let train = trainer.train_images.clone().inner();
    let heldout = trainer.heldout_images.clone().inner();
    let mut coin_rng = StdRng::seed_from_u64(spec.seed ^ 0xc017);
    let coin = spec.eval.randomise_bit;
    let all = Cases::exhaustive(splits.train.len());
    let dt = play(&s, &r, &train, &all, coin.then_some(&mut coin_rng));
    write_cases_csv(
        run,
        "train_cases.csv",
        &all,
        &dt,
        &splits.train,
        &splits.train,
    )?;
    let val_images = trainer.val_images.clone().inner();
    let (val_cases, val_method) =
        heldout_cases(splits.val.len(), s.is_structured(), 50_000, spec.seed ^ 1);
    let dv = play(
        &s,
        &r,
        &val_images,
        &val_cases,
        coin.then_some(&mut coin_rng),
    );
    let (heldout_cases, method) =
        heldout_cases(splits.heldout.len(), s.is_structured(), 50_000, spec.seed);
    let dh = play(
        &s,
        &r,
        &heldout,
        &heldout_cases,
        coin.then_some(&mut coin_rng),
    );
    if method == "exhaustive" {
        write_cases_csv(
            run,
            "heldout_cases.csv",
            &heldout_cases,
            &dh,
            &splits.heldout,
            &splits.heldout,
        )?;
    }
    write_examples(run, &splits.train)?;
    let protocol = match (
        s.score(train.clone()),
        r.score(train.clone()),
        s.score(heldout.clone()),
        r.score(heldout.clone()),
    ) {
        (Some(fs), Some(fr), Some(hs), Some(hr)) => {
            let v = |t: Tensor<1>| -> Vec<f64> {
                t.into_data()
                    .try_to_vec::<f32>()
                    .expect("float")
                    .into_iter()
                    .map(f64::from)
                    .collect()
            };
            let p = analyse_protocol(&splits.train, &v(fs), &v(fr), &v(hs), &v(hr));
            write_pairs(run, "closest_pairs.png", &splits.train, &p.closest_pairs)?;
            if let Some(h) = &p.heldout_failures {
                let widest: Vec<(usize, usize, f64)> =
                    h.widest.iter().map(|&(i, j, g, _)| (i, j, g)).collect();
                write_pairs(run, "heldout_failures.png", &splits.heldout, &widest)?;
            }
            Some(p)
        }
        _ => None,
    };

    let summary = OrderingSummary {
        arch: spec.model.arch.clone(),
        estimator: spec.channel.estimator.clone(),
        randomised_bit: coin,
        parameters_sender,
        parameters_receiver,
        fit: fit_outcome,
        train: ErrorCount::new(&all, &dt, "exhaustive"),
        val: Some(ErrorCount::new(&val_cases, &dv, val_method)),
        heldout: ErrorCount::new(&heldout_cases, &dh, method),
        bit_one_rate: dt.bit.iter().map(|&b| b as f64).sum::<f64>() / dt.bit.len().max(1) as f64,
        train_indices: splits.train.iter().map(|i| i.index).collect(),
        protocol,
    };
    run.write_json("summary.json", &summary)?;
    Ok(summary)
}

/// One row per evaluated case, so the error count can be recounted without the product.
fn write_cases_csv(
    run: &Run,
    file: &str,
    cases: &Cases,
    d: &Decisions,
    top: &[ColorImage],
    bottom: &[ColorImage],
) -> Result<()> {
    let mut w = csv::Writer::from_path(run.path(file))?;
    w.write_record([
        "first_index",
        "second_index",
        "shown_to_r",
        "s_bit",
        "r_decision",
        "correct",
    ])?;
    for k in 0..cases.len() {
        let same = cases.same[k] == 1.0;
        w.write_record([
            top[cases.first[k]].index.to_string(),
            bottom[cases.second[k]].index.to_string(),
            if same {
                "same".into()
            } else {
                "swapped".to_string()
            },
            d.bit[k].to_string(),
            d.decision[k].to_string(),
            ((d.decision[k] as f32 == cases.same[k]) as u8).to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// A grid of the first training images.
fn write_examples(run: &Run, images: &[ColorImage]) -> Result<()> {
    let rows: Vec<Vec<&[u8]>> = images
        .chunks(10)
        .take(2)
        .map(|c| c.iter().map(|i| i.bytes.as_slice()).collect())
        .collect();
    save_rgb_grid(&run.path("examples_train.png"), &rows)
}

/// Simple statistics of an image: mean brightness, channel means, contrast.
fn image_stats(img: &ColorImage) -> [f64; 5] {
    let px = img.to_f32();
    let mean = |c: usize| {
        px[c * 1024..(c + 1) * 1024]
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>()
            / 1024.0
    };
    let (r, g, b) = (mean(0), mean(1), mean(2));
    let lum: Vec<f64> = (0..1024)
        .map(|i| 0.299 * px[i] as f64 + 0.587 * px[1024 + i] as f64 + 0.114 * px[2048 + i] as f64)
        .collect();
    let lm = lum.iter().sum::<f64>() / 1024.0;
    let contrast = (lum.iter().map(|v| (v - lm).powi(2)).sum::<f64>() / 1024.0).sqrt();
    [(r + g + b) / 3.0, r, g, b, contrast]
}

const STAT_NAMES: [&str; 5] = [
    "mean brightness",
    "red mean",
    "green mean",
    "blue mean",
    "contrast (luminance std)",
];

/// Pearson correlation.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt().max(1e-300)
}

fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    for (rank, &i) in idx.iter().enumerate() {
        r[i] = rank as f64;
    }
    r
}

/// Kendall's τ-a: (concordant − discordant) / pairs.
pub fn kendall_tau(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            let a = (x[i] - x[j]).signum() * (y[i] - y[j]).signum();
            s += a as i64;
        }
    }
    s as f64 / (n * (n - 1) / 2).max(1) as f64
}

/// What the learned code depends on (B6): correlations of S's score with
/// image statistics, how alike S and R rank images, the training pairs
/// closest to a wrong decision and the held-out pairs decided wrongly.
fn analyse_protocol(
    train: &[ColorImage],
    fs: &[f64],
    fr: &[f64],
    hs: &[f64],
    hr: &[f64],
) -> Protocol {
    let stats: Vec<[f64; 5]> = train.iter().map(image_stats).collect();
    let column = |k: usize| stats.iter().map(|s| s[k]).collect::<Vec<_>>();
    let correlations = (0..5)
        .map(|k| (STAT_NAMES[k].to_string(), pearson(fs, &column(k))))
        .collect();
    let rank_correlations = (0..5)
        .map(|k| {
            (
                STAT_NAMES[k].to_string(),
                pearson(&ranks(fs), &ranks(&column(k))),
            )
        })
        .collect();
    let sd = std_dev(fs).max(1e-12);
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for i in 0..fs.len() {
        for j in i + 1..fs.len() {
            pairs.push((i, j, (fs[i] - fs[j]).abs() / sd));
        }
    }
    pairs.sort_by(|a, b| a.2.total_cmp(&b.2));
    pairs.truncate(5);
    Protocol {
        correlations,
        rank_correlations,
        kendall_tau_train: kendall_tau(fs, fr),
        kendall_tau_heldout: kendall_tau(hs, hr),
        train_points: (0..fs.len()).map(|i| (fs[i], fr[i], stats[i][0])).collect(),
        closest_pairs: pairs,
        score_sd: sd,
        heldout_failures: (hs.len() > 1).then(|| heldout_failures(hs, hr)),
    }
}

/// Standard deviation (population).
fn std_dev(x: &[f64]) -> f64 {
    let n = x.len().max(1) as f64;
    let m = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt()
}

fn median(mut x: Vec<f64>) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.sort_by(f64::total_cmp);
    x[x.len() / 2]
}

/// Finds the held-out pairs whose S and R scores are ordered differently.
fn heldout_failures(hs: &[f64], hr: &[f64]) -> HeldoutFailures {
    let (sd_s, sd_r) = (std_dev(hs).max(1e-12), std_dev(hr).max(1e-12));
    let mut gaps = Vec::with_capacity(hs.len() * (hs.len() - 1) / 2);
    let mut discordant = Vec::new();
    for i in 0..hs.len() {
        for j in i + 1..hs.len() {
            let (gs, gr) = ((hs[i] - hs[j]) / sd_s, (hr[i] - hr[j]) / sd_r);
            gaps.push(gs.abs());
            if gs.signum() * gr.signum() <= 0.0 {
                discordant.push((i, j, gs, gr));
            }
        }
    }
    let median_gap_discordant = median(discordant.iter().map(|d| d.2.abs()).collect());
    discordant.sort_by(|a, b| b.2.abs().total_cmp(&a.2.abs()));
    HeldoutFailures {
        pairs: gaps.len(),
        discordant: discordant.len(),
        median_gap_all: median(gaps),
        median_gap_discordant,
        widest: discordant.into_iter().take(5).collect(),
    }
}

/// Image pairs `(i, j, _)` of `images`, one pair per row.
fn write_pairs(
    run: &Run,
    file: &str,
    images: &[ColorImage],
    pairs: &[(usize, usize, f64)],
) -> Result<()> {
    let rows: Vec<Vec<&[u8]>> = pairs
        .iter()
        .map(|&(i, j, _)| vec![images[i].bytes.as_slice(), images[j].bytes.as_slice()])
        .collect();
    save_rgb_grid(&run.path(file), &rows)
}

#[cfg(test)]
mod tests {
    use super::heldout_failures;

    #[test]
    fn held_out_failures_are_the_pairs_ranked_differently() {
        // S and R agree on every pair but (1, 2), which R orders the other way.
        let s = [0.0, 1.0, 2.0, 3.0];
        let r = [0.0, 2.1, 2.0, 3.0];
        let h = heldout_failures(&s, &r);
        assert_eq!((h.pairs, h.discordant), (6, 1));
        let (i, j, gs, gr) = h.widest[0];
        assert_eq!((i, j), (1, 2));
        assert!(gs < 0.0 && gr > 0.0, "opposite signs: {gs} {gr}");
        assert!(h.median_gap_discordant < h.median_gap_all);
    }
}
