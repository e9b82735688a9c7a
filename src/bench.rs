//! Throughput of the reference models: training steps per second and
//! inference images per second, on the backend the runner would use.
//!
//! The steps are the same operations the tasks run (forward, backward, Adam
//! update), on random inputs of the reference shapes, after a warm-up.

use std::time::Instant;

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::log_sigmoid;
use serde::Serialize;

use crate::config::{DenoiseSpec, OrderingSpec};
use crate::models::agents::{Receiver, Sender};
use crate::models::denoiser::Denoiser;

/// One line of the benchmark table.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub model: String,
    pub train_steps_per_s: f64,
    pub train_batch: String,
    pub inference_images_per_s: f64,
}

/// Repeats `f` after two warm-up calls until `seconds` have passed (at least 3 times); calls per second.
fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let start = Instant::now();
    let mut n = 0;
    while n < 3 || start.elapsed().as_secs_f64() < seconds {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Training and inference speed of the reference denoiser.
pub fn denoise(spec: &DenoiseSpec, device: &Device, seconds: f64) -> Result<Throughput> {
    let ad = device.clone().autodiff();
    ad.seed(0);
    let (b, c, size) = (spec.train.batch_size, spec.train.crop, spec.data.image_size);
    let mut model = Some(Denoiser::new(&spec.model, &ad));
    let mut optim = AdamConfig::new().init();
    let noisy = Tensor::<4>::random([b, 1, c, c], Distribution::Uniform(0.0, 1.0), &ad);
    let clean = Tensor::<4>::random([b, 1, c, c], Distribution::Uniform(0.0, 1.0), &ad);
    let steps = rate(seconds, || {
        let m = model.take().expect("model");
        // The task's loss exactly (tasks::denoise): a squared difference by
        // multiplication, whose backward pass is cheaper than a power's.
        let diff = m.forward(noisy.clone()) - clean.clone();
        let loss = (diff.clone() * diff).mean();
        let _ = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        model = Some(optim.step(1e-3, m, grads));
    });
    let valid = model.expect("model").valid();
    let batch = 32;
    let images = Tensor::<4>::random(
        [batch, 1, size, size],
        Distribution::Uniform(0.0, 1.0),
        device,
    );
    let infer = rate(seconds, || {
        let _ = valid.forward(images.clone()).into_data();
    });
    Ok(Throughput {
        model: format!(
            "denoiser \"{}\" of {} ({}, width {}, depth {}, {}×{} images)",
            spec.model.arch,
            spec.name,
            if spec.model.arch == "unet" {
                format!("{} levels", spec.model.levels)
            } else {
                format!("unshuffle {}", spec.model.unshuffle)
            },
            spec.model.features,
            spec.model.depth,
            size,
            size
        ),
        train_steps_per_s: steps,
        train_batch: format!("{b} crops of {c}×{c}"),
        inference_images_per_s: infer * batch as f64,
    })
}

/// Training and inference speed of the reference ordering agents (all-pairs steps when configured).
pub fn ordering(spec: &OrderingSpec, device: &Device, seconds: f64) -> Result<Throughput> {
    let ad = device.clone().autodiff();
    ad.seed(0);
    let n = spec.data.train_images;
    let mut agents = Some((
        Sender::new(&spec.model, &ad),
        Receiver::new(&spec.model, &ad),
    ));
    let mut optim = AdamConfig::new().init();
    let images = Tensor::<4>::random([n, 3, 32, 32], Distribution::Uniform(0.0, 1.0), &ad);
    let structured = spec.model.arch == "score";
    let steps = rate(seconds, || {
        let (s, r) = agents.take().expect("agents");
        let loss = if structured {
            let fs = s.score(images.clone()).expect("structured");
            let fr = r.score(images.clone()).expect("structured");
            let ds = fs.clone().reshape([n, 1]) - fs.reshape([1, n]);
            let dr = fr.clone().reshape([n, 1]) - fr.reshape([1, n]);
            let hard = ds.clone().greater_elem(0.0).float();
            let soft = burn::tensor::activation::sigmoid(ds);
            let m = soft.clone() + (hard - soft.detach());
            (-log_sigmoid((m * 2.0 - 1.0) * dr)).mean()
        } else {
            let stack = Tensor::cat(vec![images.clone(), images.clone()], 1);
            let bit = s.forward(stack.clone()).greater_elem(0.0).float();
            (-log_sigmoid(r.forward(stack, bit))).mean()
        };
        let _ = loss.clone().into_scalar::<f64>();
        let agents_module = crate::tasks::ordering::Agents {
            sender: s,
            receiver: r,
        };
        let grads = GradientsParams::from_grads(loss.backward(), &agents_module);
        let a = optim.step(1e-3, agents_module, grads);
        agents = Some((a.sender, a.receiver));
    });
    let (s, _) = agents.expect("agents");
    let s = s.valid();
    let batch = 1000;
    let eval_images =
        Tensor::<4>::random([batch, 3, 32, 32], Distribution::Uniform(0.0, 1.0), device);
    let infer = rate(seconds, || {
        let _ = match s.score(eval_images.clone()) {
            Some(t) => t.into_data(),
            None => s
                .forward(Tensor::cat(
                    vec![eval_images.clone(), eval_images.clone()],
                    1,
                ))
                .into_data(),
        };
    });
    Ok(Throughput {
        model: format!(
            "ordering agents \"{}\" ({} channels)",
            spec.model.arch, spec.model.channels
        ),
        train_steps_per_s: steps,
        train_batch: if spec.train.all_pairs {
            format!("all pairs of {n} images")
        } else {
            format!("{} cases", spec.train.batch_size)
        },
        inference_images_per_s: infer * batch as f64,
    })
}

/// Time of one 3×3 convolution (stride 1, zero padding) at one level of the
/// denoiser, forward alone and forward + backward.
#[derive(Debug, Clone, Serialize)]
pub struct ConvCost {
    pub channels: usize,
    pub size: usize,
    pub batch: usize,
    pub forward_ms: f64,
    pub train_ms: f64,
    /// Multiply-adds of one forward pass, in millions.
    pub mmacs: f64,
}

impl ConvCost {
    /// Training throughput in GFLOP/s: a forward and a backward pass cost
    /// three forward passes of two FLOPs per multiply-add.
    pub fn train_gflops(&self) -> f64 {
        6.0 * self.mmacs * 1e6 / (self.train_ms * 1e-3) / 1e9
    }
}

/// The shapes of the 3×3 convolutions of the denoiser's levels for one
/// training batch: `(channels, side)` from full resolution down.
pub fn level_shapes(spec: &DenoiseSpec) -> Vec<(usize, usize)> {
    let m = &spec.model;
    let side = spec.train.crop / m.unshuffle.max(1);
    let levels = if m.arch == "unet" { m.levels } else { 1 };
    (0..levels)
        .map(|l| (m.features << l, side >> l))
        .filter(|&(_, s)| s > 0)
        .collect()
}

/// Where a denoiser's training step spends its time: each level's 3×3
/// convolution timed alone. A profile of the training step (`make profile`)
/// shows the convolutions' matrix products and their im2col copies taking
/// nearly all of it, so these timings explain the step time.
pub fn conv_costs(spec: &DenoiseSpec, device: &Device, seconds: f64) -> Vec<ConvCost> {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    let ad = device.clone().autodiff();
    ad.seed(0);
    let batch = spec.train.batch_size;
    level_shapes(spec)
        .into_iter()
        .map(|(c, s)| {
            let x = Tensor::<4>::random([batch, c, s, s], Distribution::Normal(0.0, 1.0), &ad)
                .require_grad();
            let w = Tensor::<4>::random([c, c, 3, 3], Distribution::Normal(0.0, 0.1), &ad)
                .require_grad();
            let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            let forward = rate(seconds, || {
                let y = conv2d(
                    x.clone().detach(),
                    w.clone().detach(),
                    None,
                    options.clone(),
                );
                let _ = y.sum().into_scalar::<f64>();
            });
            let train = rate(seconds, || {
                let y = conv2d(x.clone(), w.clone(), None, options.clone());
                let grads = y.sum().backward();
                let _ = w.grad(&grads).map(|g| g.sum().into_scalar::<f64>());
            });
            ConvCost {
                channels: c,
                size: s,
                batch,
                forward_ms: 1e3 / forward,
                train_ms: 1e3 / train,
                mmacs: (batch * s * s * c * c * 9) as f64 / 1e6,
            }
        })
        .collect()
}
