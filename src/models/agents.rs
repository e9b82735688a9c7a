//! The task-2 agents: a sender S that turns an ordered pair of images into
//! one bit, and a receiver R that reads the pair in a random order plus the
//! bit and decides whether its order is the one S saw.
//!
//! Two architectures:
//! - `score` (structured, minimal): each agent owns a small CNN `f` that maps
//!   one image to a scalar. S's logit is `f_S(A) − f_S(B)`, so its bit is
//!   "A scores higher than B" and swapping the images flips the bit
//!   (antisymmetry by construction). R computes `d = f_R(X) − f_R(Y)` on its
//!   own order and answers "same order" with logit `(2m − 1)·d`: the XNOR of
//!   its own comparison and the bit. If `f_S` and `f_R` order images the same
//!   way, R is always right; the only thing to learn is a shared ordering.
//! - `generic`: S is a CNN on the raw 6-channel stack; R is a CNN on its
//!   stack whose features are concatenated with the bit and fed to a
//!   two-layer head. Nothing forces antisymmetry or a shared ordering; it is
//!   the ablation that shows what the structure buys.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::config::AgentsSpec;

/// Two stride-2 3×3 convolutions and a global average: `[N, c_in, 32, 32]` → `[N, C]`.
#[derive(Module, Debug)]
pub struct Trunk {
    c1: Conv2d,
    c2: Conv2d,
}

impl Trunk {
    fn new(c_in: usize, c: usize, device: &Device) -> Self {
        let conv = |a: usize, b: usize| {
            Conv2dConfig::new([a, b], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Trunk {
            c1: conv(c_in, c),
            c2: conv(c, c),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.c1.forward(x));
        let x = relu(self.c2.forward(x));
        let [n, c, h, w] = x.dims();
        x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
    }
}

/// Splits a `[N, 6, H, W]` stack into its top (channels 0–2) and bottom (3–5) images.
pub fn split_stack(stack: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    (stack.clone().narrow(1, 0, 3), stack.narrow(1, 3, 3))
}

/// Scores top and bottom images in one batched pass and returns `f(top) − f(bottom)`.
fn score_difference(trunk: &Trunk, head: &Linear, stack: Tensor<4>) -> Tensor<1> {
    let n = stack.dims()[0];
    let (top, bottom) = split_stack(stack);
    let scores = head
        .forward(trunk.forward(Tensor::cat(vec![top, bottom], 0)))
        .reshape([2 * n]);
    scores.clone().narrow(0, 0, n) - scores.narrow(0, n, n)
}

/// The sender S: 6-channel stack → logit of the bit (bit = logit > 0).
#[derive(Module, Debug)]
pub struct Sender {
    trunk: Trunk,
    head: Linear,
    structured: bool,
}

impl Sender {
    pub fn new(spec: &AgentsSpec, device: &Device) -> Self {
        let structured = spec.arch == "score";
        Sender {
            trunk: Trunk::new(if structured { 3 } else { 6 }, spec.channels, device),
            head: LinearConfig::new(spec.channels, 1).init(device),
            structured,
        }
    }

    /// Logit of the bit for each pair in the batch, `[N]`.
    pub fn forward(&self, stack: Tensor<4>) -> Tensor<1> {
        if self.structured {
            score_difference(&self.trunk, &self.head, stack)
        } else {
            let n = stack.dims()[0];
            self.head.forward(self.trunk.forward(stack)).reshape([n])
        }
    }

    /// Whether this is the structured (score-difference) sender.
    pub fn is_structured(&self) -> bool {
        self.structured
    }

    /// The scalar score of single images `[N, 3, H, W]` (structured sender only).
    pub fn score(&self, images: Tensor<4>) -> Option<Tensor<1>> {
        let n = images.dims()[0];
        self.structured
            .then(|| self.head.forward(self.trunk.forward(images)).reshape([n]))
    }
}

/// The receiver R: its 6-channel stack and the bit → logit of "same order as S saw".
#[derive(Module, Debug)]
pub struct Receiver {
    trunk: Trunk,
    head: Linear,
    /// Generic receiver only: mixes the image features with the bit.
    mix: Option<Linear>,
}

impl Receiver {
    pub fn new(spec: &AgentsSpec, device: &Device) -> Self {
        let structured = spec.arch == "score";
        let c = spec.channels;
        Receiver {
            trunk: Trunk::new(if structured { 3 } else { 6 }, c, device),
            head: LinearConfig::new(c, 1).init(device),
            mix: (!structured).then(|| LinearConfig::new(c + 1, c).init(device)),
        }
    }

    /// Logit of "my order is S's order", `[N]`; `bit` holds 0/1 values, `[N]`.
    pub fn forward(&self, stack: Tensor<4>, bit: Tensor<1>) -> Tensor<1> {
        let n = stack.dims()[0];
        match &self.mix {
            None => {
                let d = score_difference(&self.trunk, &self.head, stack);
                // XNOR of R's own comparison and the bit: m = 1 keeps d's sign, m = 0 flips it.
                (bit * 2.0 - 1.0) * d
            }
            Some(mix) => {
                let features = self.trunk.forward(stack);
                let joined = Tensor::cat(vec![features, bit.reshape([n, 1])], 1);
                self.head.forward(relu(mix.forward(joined))).reshape([n])
            }
        }
    }

    /// The scalar score of single images (structured receiver only).
    pub fn score(&self, images: Tensor<4>) -> Option<Tensor<1>> {
        let n = images.dims()[0];
        self.mix
            .is_none()
            .then(|| self.head.forward(self.trunk.forward(images)).reshape([n]))
    }
}
