//! The task-2 section of the report.

use std::path::Path;

use anyhow::Result;

use super::denoise::column;
use super::doc::Block;
use super::plots::{Axes, Series, line_plot, scatter_plot};
use super::{Catalogue, FoundRun, f, grouped, sig3, signed};
use crate::config::{Experiment, OrderingSpec};
use crate::runs::read_metrics;
use crate::tasks::ordering::{HeldoutFailures, OrderingSummary, Protocol};

fn spec_of(run: &FoundRun) -> Result<OrderingSpec> {
    match run.experiment()? {
        Experiment::Ordering(s) => Ok(s),
        Experiment::Denoise(_) => anyhow::bail!("{} is not an ordering run", run.dir.display()),
    }
}

fn pct(v: f64) -> String {
    format!("{:.2} %", 100.0 * v)
}

/// The feasibility argument (T2.1): why one bit suffices, and what can fail.
fn feasibility() -> Vec<Block> {
    vec![
        Block::Heading(2, "Feasibility and strategy".into()),
        Block::Para(
            "R must answer one yes/no question — is my order the order S saw? — and S can send one bit, so the channel is exactly as wide as the answer. \
             What makes one bit enough is that R sees the same two images as S: S does not need to describe the images, only which of the two it saw on top. \
             If S and R share any strict ordering of images (a score f with f(A) ≠ f(B) for distinct images), the protocol is: S sends m = 1 when its top image ranks higher, m = 0 otherwise; R computes the same comparison c on its own order and answers \"same order\" exactly when c = m (an XNOR). \
             When S's and R's rankings agree on a pair, R is right whatever order it was shown, because swapping the images flips c and the truth together."
                .into(),
        ),
        Block::Para(
            "Without the bit no receiver can beat 50 %: R's input is the unordered pair presented in a uniformly random order, independent of the order S saw, so any decision rule is right with probability exactly one half. \
             The error of the protocol above is the fraction of pairs that S and R rank differently, plus ties. \
             It therefore fails when the two learned scores disagree — on pairs whose scores are nearly equal, where small differences between two separately trained networks decide the sign — and when S is not antisymmetric: a sender that sends the same bit for both orders of a pair tells R nothing about that pair. \
             A shared ranking is one protocol, not the only one: any comparison of two images that S and R share and that flips when the images swap would do, and a pair-by-pair lookup table memorised on the training pairs would fit them too. The difference shows on new images: a memorised table says nothing about a pair it never saw, a ranking of single images does, so the error on pairs of held-out images tells the two apart. Two identical images cannot be ordered by any protocol."
                .into(),
        ),
        Block::Para(
            "The structured design builds this protocol into the architectures, and keeps them minimal: each agent has a small CNN that maps one image to a scalar score; S's logit is f_S(top) − f_S(bottom) and R's logit is (2m − 1)·(f_R(top) − f_R(bottom)). \
             S's bit is antisymmetric by construction (swapping its images flips it), and R's output is the XNOR of its comparison and the bit, so the only thing training must achieve is that f_S and f_R rank images alike. \
             The generic design — a CNN on the raw 6-channel stack for S, and for R a CNN on its stack whose features meet the bit in a hidden layer — must discover all of this by itself; it is the ablation."
                .into(),
        ),
        Block::Para(
            "The message is a real bit: S's output is thresholded to 0 or 1 in every forward pass, in training and evaluation. Gradients reach S either through a straight-through estimator (the hard bit forward, the sigmoid's derivative backward) or through the score-function (REINFORCE) estimator, where the bit is sampled from S's Bernoulli policy and S is rewarded with R's log-likelihood of the right answer; at evaluation S sends the more likely bit."
                .into(),
        ),
    ]
}

/// Builds the section; copies the run's pictures into `out`.
pub fn section(c: &Catalogue, out: &Path) -> Result<Vec<Block>> {
    let mut b = vec![Block::Heading(
        1,
        "Task 2 — encoding the order of two images in one bit".into(),
    )];
    b.extend(feasibility());
    let Some(run) = c.primary("ordering") else {
        b.push(Block::Para(
            "No finished ordering run was found under runs/. Run make ordering, then make report."
                .into(),
        ));
        return Ok(b);
    };
    let spec = spec_of(run)?;
    let s: OrderingSummary = run.json("summary.json")?;
    let (header, rows) = read_metrics(&run.dir.join("metrics.csv"))?;
    let d = &spec.data;
    let t = &spec.train;

    b.push(Block::Heading(2, "Data, architecture and training".into()));
    b.push(Block::Para(format!(
        "{} images are drawn uniformly at random (seed {}) from the first {} CIFAR-10 training images (the official training batches are in random order, so these are themselves a uniform sample of the training set), without looking at labels or classes. From the same draw, {} further images form a validation set (used only to choose hyperparameters) and {} others a held-out set, never used in training or tuning, that tests whether the protocol generalises to new pairs. \
         S sees a pair stacked in the channel axis (6×32×32: the top image in channels 0–2, the bottom image in 3–5); R sees the same two images stacked in a random order, and the bit.",
        d.train_images, d.split_seed, grouped(crate::config::CIFAR_TRAIN_RECORDS), d.val_images, d.heldout_images
    )));
    run.copy_artifact("examples_train.png", out, "ordering_examples_train.png")?;
    b.push(Block::Figure {
        path: "ordering_examples_train.png".into(),
        caption: "The first 20 of the training images.".into(),
        width: 0.8,
        pixelated: true,
    });
    b.push(Block::Para(format!(
        "Architecture \"{}\": each agent's image network is two 3×3 convolutions of stride 2 with {} channels and ReLU, a global average and a linear layer to one number: {} parameters for S and {} for R. \
         Both agents are trained jointly by Adam on R's binary cross-entropy, with the {} estimator for the bit, learning rate {} decayed by a cosine schedule to {}, {} epochs of {} steps; {} (a case is an ordered pair and the order shown to R). Training took {:.0} s.",
        s.arch,
        spec.model.channels,
        grouped(s.parameters_sender),
        grouped(s.parameters_receiver),
        s.estimator.replace('_', "-"),
        t.lr,
        t.lr_final,
        s.fit.epochs_done,
        t.steps_per_epoch,
        if t.all_pairs {
            format!(
                "every step uses all {} training cases at once: S's logit for [A; B] is f_S(A) − f_S(B), so one scoring pass over the {} images gives every pair's logit, and no pair is left rarely seen",
                grouped(d.train_images * (d.train_images - 1) * 2),
                d.train_images
            )
        } else {
            format!("each step uses {} random cases", t.batch_size)
        },
        s.fit.train_seconds
    )));

    let steps = column(&header, &rows, "step");
    let epochs = column(&header, &rows, "epoch");
    let zip = |x: &[f64], y: &[f64]| -> Vec<(f64, f64)> {
        x.iter().copied().zip(y.iter().copied()).collect()
    };
    line_plot(
        &out.join("ordering_loss.svg"),
        &Axes {
            title: "Receiver loss over training iterations",
            x_label: "iteration (optimisation step)",
            y_label: "binary cross-entropy (nats)",
            log_y: true,
        },
        &[
            train_loss_series(run, &steps, &column(&header, &rows, "train_loss")),
            Series::new(
                "held-out pairs",
                zip(&steps, &column(&header, &rows, "heldout_loss")),
            ),
        ],
    )?;
    b.push(Block::Figure {
        path: "ordering_loss.svg".into(),
        caption: "R's binary cross-entropy (log scale) against training iterations: on the training cases and on held-out pairs.".into(),
        width: 0.8,
        pixelated: false,
    });
    let to_pct = |v: Vec<f64>| v.into_iter().map(|x| 100.0 * x).collect::<Vec<_>>();
    line_plot(
        &out.join("ordering_error.svg"),
        &Axes {
            title: "Receiver error rate after each epoch",
            x_label: "epoch",
            y_label: "error rate (%)",
            log_y: false,
        },
        &[
            Series::new(
                "training set, all cases",
                zip(&epochs, &to_pct(column(&header, &rows, "train_error"))),
            ),
            Series::new(
                "validation images",
                zip(&epochs, &to_pct(column(&header, &rows, "val_error"))),
            ),
            Series::new(
                "held-out images",
                zip(&epochs, &to_pct(column(&header, &rows, "heldout_error"))),
            ),
        ],
    )?;
    b.push(Block::Figure {
        path: "ordering_error.svg".into(),
        caption: "R's error rate (%) with hard bits after each epoch: all training cases, and pairs of validation and held-out images.".into(),
        width: 0.8,
        pixelated: false,
    });

    b.push(Block::Heading(2, "Final error rate".into()));
    b.push(Block::Table {
        caption: "Final classification error of R with hard bits. Training: every ordered pair of the training images, each shown to R in both orders. Held-out: pairs of images never used in training or tuning. Validation: pairs of the images used to choose hyperparameters.".into(),
        header: ["evaluation", "cases", "method", "errors", "error rate"].map(String::from).to_vec(),
        rows: [
            vec![format!("training set ({} images)", d.train_images), grouped(s.train.cases), s.train.method.clone(), grouped(s.train.errors), pct(s.train.error_rate)],
            vec![format!("held-out ({} images)", d.heldout_images), grouped(s.heldout.cases), s.heldout.method.clone(), grouped(s.heldout.errors), pct(s.heldout.error_rate)],
        ]
        .into_iter()
        .chain(s.val.iter().map(|v| {
            vec![format!("validation ({} images, tuning only)", d.val_images), grouped(v.cases), v.method.clone(), grouped(v.errors), pct(v.error_rate)]
        }))
        .collect(),
    });
    if let Some(para) = seed_spread(c, &run.info.experiment, run.info.seed) {
        b.push(para);
    }
    b.extend(ablations(c, run));
    if let Some(p) = &s.protocol {
        b.extend(protocol(run, p, s.train.errors, out)?);
    }

    b.push(Block::Heading(2, "Analysis".into()));
    b.push(Block::Para(format!(
        "**How well it is solved.** R misclassifies {} of the {} training cases ({}) and {} of {} held-out cases ({}). \
         S sends a 1 in {} of the training cases, as it must when its bit encodes order: for every pair it sends 1 in one order and 0 in the other. \
         An error needs S's and R's rankings to disagree on a pair, so the errors concentrate on pairs whose two scores are nearly equal.{}",
        grouped(s.train.errors),
        grouped(s.train.cases),
        pct(s.train.error_rate),
        grouped(s.heldout.errors),
        grouped(s.heldout.cases),
        pct(s.heldout.error_rate),
        pct(s.bit_one_rate),
        overconfidence(&header, &rows),
    )));
    let coin = c
        .of_task("ordering")
        .into_iter()
        .filter_map(|r| r.json::<OrderingSummary>("summary.json").ok())
        .find(|s| s.randomised_bit);
    let coin_text = match coin {
        Some(k) => format!(
            "with S's bit replaced by a fair coin, the same trained agents err on {} of the training cases and {} of the held-out cases — chance, as the feasibility argument predicts",
            pct(k.train.error_rate),
            pct(k.heldout.error_rate)
        ),
        None => "the coin ablation (experiments/ablations/coin.toml) has not been run".to_string(),
    };
    b.push(Block::Para(format!(
        "**A real protocol.** The bit carries the information: {coin_text}. \
         What is built in and what is learned: the antisymmetric bit and R's XNOR are part of the structured architecture, so with the coin the error is at chance by construction, a check that R really reads the bit rather than evidence of learning. What training finds is the ranking itself, on each side separately and from R's loss alone: any shared ranking would do — mean brightness with no parameters at all would make no error either — and the agents converge on one close to it. \
         The structured agents generalise to images they never saw because what they share is a ranking of single images, not a memorised list of pairs. \
         The exhaustive per-case evaluation is in the run folder (train_cases.csv, and heldout_cases.csv when exhaustive), one row per case with S's bit and R's decision, so the counts above can be recounted without this program."
    )));
    Ok(b)
}

/// The gap between the final training and held-out losses: with unbounded
/// scores, R grows certain of every training pair, and as certain of the few
/// held-out pairs it gets wrong, which the held-out loss then charges in full.
fn overconfidence(header: &[String], rows: &[Vec<f64>]) -> String {
    let last = |name: &str| column(header, rows, name).last().copied();
    let best = column(header, rows, "heldout_loss")
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    match (last("train_loss"), last("heldout_loss")) {
        (Some(train), Some(held)) if train > 0.0 && held > train => format!(
            " At the end the training loss is {} nats and the held-out loss {} ({:.0} times higher; its lowest was {}): the stretched scores make R nearly certain of every answer, including its wrong ones on held-out pairs, which the loss charges in full. The error rate, not the loss, measures the protocol; dividing R's logit by a temperature would calibrate the loss without changing any decision, since it changes no sign.",
            sig3(train),
            sig3(held),
            held / train,
            sig3(best)
        ),
        _ => String::new(),
    }
}

/// The training loss over iterations: every step's batch loss from
/// `steps.csv` when the run has it (the first epoch holds most of the fall,
/// which a per-epoch mean hides in one point), else the per-epoch means.
fn train_loss_series(run: &FoundRun, epoch_steps: &[f64], epoch_means: &[f64]) -> Series {
    if let Ok((h, r)) = read_metrics(&run.dir.join("steps.csv")) {
        let (step, loss) = (column(&h, &r, "step"), column(&h, &r, "train_loss"));
        if !step.is_empty() && step.len() == loss.len() {
            return Series::new(
                "training cases (every step)",
                step.into_iter().zip(loss).collect(),
            );
        }
    }
    Series::new(
        "training (mean over the epoch's steps)",
        epoch_steps
            .iter()
            .copied()
            .zip(epoch_means.iter().copied())
            .collect(),
    )
}

/// The training-loss column of a run, to tell whether two runs trained identically.
fn train_losses(run: &FoundRun) -> Vec<f64> {
    read_metrics(&run.dir.join("metrics.csv"))
        .map(|(h, r)| column(&h, &r, "train_loss"))
        .unwrap_or_default()
}

/// The spread over training seeds of the reference experiment, from the
/// latest `<experiment>-seeds` sweep: one seed's error rate alone can be a
/// lucky or an unlucky draw.
fn seed_spread(c: &Catalogue, experiment: &str, seed: u64) -> Option<Block> {
    let summaries: Vec<OrderingSummary> = c
        .latest_sweep(&format!("{experiment}-seeds"))
        .into_iter()
        .filter_map(|r| r.json("summary.json").ok())
        .collect();
    if summaries.len() < 2 {
        return None;
    }
    let stat = |v: Vec<f64>| super::sweeps::mean_std(&v);
    let (train_mean, _) = stat(summaries.iter().map(|s| s.train.errors as f64).collect());
    let (held_mean, held_std) = stat(
        summaries
            .iter()
            .map(|s| 100.0 * s.heldout.error_rate)
            .collect(),
    );
    let worst_train = summaries.iter().map(|s| s.train.errors).max().unwrap_or(0);
    Some(Block::Para(format!(
        "Over {} training seeds of the same experiment (the seed sweep below), R misclassifies {} and {:.2} ± {:.2} % of the held-out cases (mean ± standard deviation over seeds); the reference run above has seed {}.",
        summaries.len(),
        if worst_train == 0 {
            "none of the training cases with any seed".to_string()
        } else {
            format!("{train_mean:.1} training cases on average (at most {worst_train})")
        },
        held_mean,
        held_std,
        seed,
    )))
}

/// One row per ordering experiment (the reference and its ablations), and what they show.
fn ablations(c: &Catalogue, reference: &FoundRun) -> Vec<Block> {
    // Seed and tuning sweeps have their own tables; here only the
    // reference and the single-run ablations.
    let runs: Vec<&FoundRun> = c
        .of_task("ordering")
        .into_iter()
        .filter(|r| r.info.swept.is_empty())
        .collect();
    if runs.len() < 2 {
        return vec![];
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .filter_map(|r| {
            let s: OrderingSummary = r.json("summary.json").ok()?;
            Some(vec![
                r.info.experiment.clone(),
                s.arch.clone(),
                s.estimator.replace('_', "-"),
                if s.randomised_bit {
                    "coin".into()
                } else {
                    "S's bit".into()
                },
                grouped(s.parameters_sender + s.parameters_receiver),
                pct(s.train.error_rate),
                format!("{} ({})", pct(s.heldout.error_rate), s.heldout.method),
                f(s.fit.train_seconds, 0),
            ])
        })
        .collect();
    let mut notes = Vec::new();
    let summaries: Vec<(&FoundRun, OrderingSummary)> = runs
        .iter()
        .filter_map(|r| {
            r.json::<OrderingSummary>("summary.json")
                .ok()
                .map(|s| (*r, s))
        })
        .collect();
    for (r, s) in &summaries {
        if s.randomised_bit {
            let same = !train_losses(r).is_empty() && train_losses(r) == train_losses(reference);
            notes.push(format!(
                "{}: the reference experiment with S's bit replaced by a fair coin when R is evaluated{}; R's error is {} on training cases and {} on held-out pairs, chance level, as the feasibility argument predicts for a receiver without the bit.",
                r.info.experiment,
                if same { " (its training curve is identical to the reference run's, so these are the same trained agents)" } else { "" },
                pct(s.train.error_rate),
                pct(s.heldout.error_rate)
            ));
        } else if s.arch == "generic" {
            let bit = if s.bit_one_rate == 0.0 || s.bit_one_rate == 1.0 {
                format!(
                    "S ended up sending the same bit ({}) for every pair, so the bit carries no information and R cannot beat chance",
                    if s.bit_one_rate == 1.0 { 1 } else { 0 }
                )
            } else {
                format!("S sends 1 in {} of cases", pct(s.bit_one_rate))
            };
            notes.push(format!(
                "{}: the generic agents, which must discover antisymmetry and the XNOR themselves, reach {} training error and {} held-out error within their budget ({} steps of {} sampled cases); {}. \
                 A likely reason is the chicken-and-egg problem of emergent communication: R has no reason to read a bit that does not yet depend on the order, and S gets no useful gradient from an R that ignores it.",
                r.info.experiment,
                pct(s.train.error_rate),
                pct(s.heldout.error_rate),
                grouped(s.fit.steps_done),
                spec_of(r).map(|o| o.train.batch_size).unwrap_or(0),
                bit
            ) + &generic_tuning(c));
        } else if s.estimator == "reinforce" {
            notes.push(format!(
                "{}: the score-function (REINFORCE) estimator on the structured agents also reaches {} training error and {} held-out error (straight-through reference: {} and {}). With the protocol built into the architecture, both estimators only have to align two rankings.",
                r.info.experiment,
                pct(s.train.error_rate),
                pct(s.heldout.error_rate),
                summaries.iter().find(|(x, _)| x.id() == reference.id()).map(|(_, s)| pct(s.train.error_rate)).unwrap_or_default(),
                summaries.iter().find(|(x, _)| x.id() == reference.id()).map(|(_, s)| pct(s.heldout.error_rate)).unwrap_or_default()
            ));
        }
    }
    vec![
        Block::Heading(2, "Ablations".into()),
        Block::Table {
            caption: "Every ordering experiment: architecture, gradient estimator, what R receives as the bit, parameters of S and R together, error rates and training seconds. Held-out errors of structured agents are exhaustive over all ordered pairs; generic agents need a forward pass per case and are scored on a fixed sample.".into(),
            header: ["experiment", "arch", "estimator", "bit", "params", "train error", "held-out error", "train s"].map(String::from).to_vec(),
            rows,
        },
        Block::Para(
            "The structured design builds the protocol's form into the architecture — antisymmetric bit, XNOR receiver — so what training has to find is only a ranking of images that S and R share; the ablations show what that buys."
                .into(),
        ),
        Block::Bullets(notes),
    ]
}

/// A signed value to two significant digits, small ones in scientific
/// notation, so that the sign of a tiny gap stays visible.
fn sci(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:+.1e}").replacen('-', "−", 1)
    } else {
        signed(v, 3)
    }
}

/// Whether the generic agents fail only for want of tuning: what the
/// `tune-ordering-generic` sweep (learning rates × estimators) reached on
/// the validation pairs, if it has been run.
fn generic_tuning(c: &Catalogue) -> String {
    // Every run of the sweep (of_task keeps only the latest run of each experiment).
    let tuned: Vec<(OrderingSpec, OrderingSummary)> = c
        .latest_sweep("tune-ordering-generic")
        .into_iter()
        .filter_map(|r| {
            Some((
                spec_of(r).ok()?,
                r.json::<OrderingSummary>("summary.json").ok()?,
            ))
        })
        .collect();
    let val_error = |s: &OrderingSummary| s.val.as_ref().map_or(f64::INFINITY, |v| v.error_rate);
    let Some((best_spec, best)) = tuned
        .iter()
        .min_by(|a, b| val_error(&a.1).total_cmp(&val_error(&b.1)))
    else {
        return String::new();
    };
    let constant = tuned
        .iter()
        .filter(|(_, s)| s.bit_one_rate == 0.0 || s.bit_one_rate == 1.0)
        .count();
    let verdict = if val_error(best) >= 0.4 {
        "Tuning does not rescue it"
    } else {
        "With tuning it does learn a protocol"
    };
    format!(
        " {verdict}: over the {} settings of tune-ordering-generic (learning rate × estimator, {} steps each), the best validation error is {} ({}, learning rate {}; training error {}, held-out {}), and S's bit is the same for every training case in {} of them.",
        tuned.len(),
        grouped(
            tuned
                .iter()
                .map(|(_, s)| s.fit.steps_done)
                .max()
                .unwrap_or(0)
        ),
        pct(val_error(best)),
        best.estimator.replace('_', "-"),
        best_spec.train.lr,
        pct(best.train.error_rate),
        pct(best.heldout.error_rate),
        constant
    )
}

/// What the learned code depends on and whether S and R agree (B6).
fn protocol(run: &FoundRun, p: &Protocol, train_errors: usize, out: &Path) -> Result<Vec<Block>> {
    let mut b = vec![Block::Heading(2, "The learned protocol".into())];
    let rows = p
        .correlations
        .iter()
        .zip(&p.rank_correlations)
        .map(|((name, r), (_, rho))| vec![name.clone(), f(*r, 3), f(*rho, 3)])
        .collect();
    b.push(Block::Table {
        caption: "Correlation of S's learned score with simple statistics of the 100 training images (Pearson r, and Spearman ρ of the ranks).".into(),
        header: ["image statistic", "Pearson r", "Spearman ρ"].map(String::from).to_vec(),
        rows,
    });
    let strongest = p
        .rank_correlations
        .iter()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .map(|(n, v)| format!("{n} (ρ = {})", f(*v, 2)))
        .unwrap_or_default();
    scatter_plot(
        &out.join("ordering_scores.svg"),
        &Axes {
            title: "Learned scores of the training images",
            x_label: "S's score f_S",
            y_label: "R's score f_R",
            log_y: false,
        },
        &[Series::new(
            "training image",
            p.train_points.iter().map(|&(s, r, _)| (s, r)).collect(),
        )],
    )?;
    scatter_plot(
        &out.join("ordering_brightness.svg"),
        &Axes {
            title: "S's score against mean brightness",
            x_label: "mean brightness (0–1)",
            y_label: "S's score f_S",
            log_y: false,
        },
        &[Series::new(
            "training image",
            p.train_points.iter().map(|&(s, _, m)| (m, s)).collect(),
        )],
    )?;
    b.push(Block::Figure {
        path: "ordering_brightness.svg".into(),
        caption: "S's score of each training image against its mean brightness.".into(),
        width: 0.7,
        pixelated: false,
    });
    b.push(Block::Figure {
        path: "ordering_scores.svg".into(),
        caption: "R's score against S's score for each training image: a monotone relation means the two agents rank images alike.".into(),
        width: 0.7,
        pixelated: false,
    });
    b.push(Block::Para(format!(
        "The statistic that best explains S's ranking is {strongest}. S and R have separate weights and share nothing but the bit, yet their scores rank images alike: Kendall τ between f_S and f_R is {:.4} on the training images and {:.4} on the held-out images (1 means identical rankings; without ties, R's error rate on a set of images is exactly (1 − τ)/2, the fraction of pairs the two scores order differently). \
         So the agents agree on a single ordering of images — a protocol — rather than on a table of training pairs.",
        p.kendall_tau_train, p.kendall_tau_heldout
    )));
    run.copy_artifact("closest_pairs.png", out, "ordering_closest_pairs.png")?;
    let gaps: Vec<String> = p
        .closest_pairs
        .iter()
        .map(|(_, _, g)| format!("{g:.4}"))
        .collect();
    b.push(Block::Grid {
        path: "ordering_closest_pairs.png".into(),
        caption: format!(
            "The five training pairs closest to a wrong decision (one pair per row): their S scores differ by only {} standard deviations of the score.",
            gaps.join(", ")
        ),
        width: 0.25,
        columns: ["image A", "image B"].map(String::from).to_vec(),
    });
    b.push(Block::Para(score_scale(p, train_errors)));
    if let Some(h) = &p.heldout_failures {
        b.extend(heldout_failures(run, h, out)?);
    }
    Ok(b)
}

/// How large the learned logits are: R's logit for a pair is the gap
/// between its two scores, so the gaps' size says how saturated R's sigmoid
/// is and which cases the loss still comes from.
fn score_scale(p: &Protocol, train_errors: usize) -> String {
    let r: Vec<f64> = p.train_points.iter().map(|&(_, r, _)| r).collect();
    let mut gaps: Vec<f64> = Vec::new();
    for i in 0..r.len() {
        for j in i + 1..r.len() {
            gaps.push((r[i] - r[j]).abs());
        }
    }
    gaps.sort_by(f64::total_cmp);
    let at = |q: f64| {
        gaps.get(((gaps.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let saturated = gaps.iter().filter(|&&g| g > 10.0).count() as f64 / gaps.len().max(1) as f64;
    format!(
        "**Scale of the logits.** R's logit for a pair is the gap between its scores of the two images (signed by the bit). Over the training pairs that gap has a median of {} nats (10 % of pairs below {}, 90 % below {}), and {} of the pairs have a gap above 10 nats, where the sigmoid is within 5·10⁻⁵ of certainty. Nothing in the loss bounds the scores{}",
        f(at(0.5), 1),
        f(at(0.1), 1),
        f(at(0.9), 1),
        pct(saturated),
        if train_errors == 0 {
            ", so once every training pair is ordered right, training keeps lowering the loss by stretching them apart: the loss of the training cases falls towards zero while the error is already 0, and only the closest pairs still contribute to it."
        } else {
            "; the loss is dominated by the training cases R still gets wrong."
        }
    )
}

/// R's errors on held-out images: which pairs they are, and a figure of the
/// failed pairs that the two agents' scores separate most.
fn heldout_failures(run: &FoundRun, h: &HeldoutFailures, out: &Path) -> Result<Vec<Block>> {
    let mut b = vec![Block::Para(format!(
        "**Where R fails.** Of the {} pairs of held-out images, S and R order {} differently ({}); R is wrong on exactly these pairs, in both orders it is shown them. They are near ties: the median gap between a failed pair's two S scores is {} standard deviations of the score, against {} over all held-out pairs.{}",
        grouped(h.pairs),
        grouped(h.discordant),
        pct(h.discordant as f64 / h.pairs.max(1) as f64),
        f(h.median_gap_discordant, 3),
        f(h.median_gap_all, 2),
        if h.widest.is_empty() {
            ""
        } else {
            " The figure shows the failed pairs that S separates most."
        }
    ))];
    if !h.widest.is_empty() && run.dir.join("heldout_failures.png").is_file() {
        run.copy_artifact("heldout_failures.png", out, "ordering_heldout_failures.png")?;
        let gaps: Vec<String> = h
            .widest
            .iter()
            .map(|&(_, _, gs, gr)| format!("{} / {}", sci(gs), sci(gr)))
            .collect();
        b.push(Block::Grid {
            path: "ordering_heldout_failures.png".into(),
            caption: format!(
                "Held-out pairs R gets wrong, the {} with the widest S gap (one pair per row). S and R score gaps f(A) − f(B), in standard deviations of each agent's score: {}; opposite signs are the disagreement.",
                h.widest.len(),
                gaps.join(", ")
            ),
            width: 0.25,
            columns: ["image A", "image B"].map(String::from).to_vec(),
        });
    }
    Ok(b)
}
