//! The task-1 denoising autoencoder.
//!
//! `ResidualCnn` is DnCNN's design without batch norm: a stack of 3×3
//! convolutions with ReLU that predicts the noise, which is then subtracted
//! from the input (residual learning: the residual of Gaussian noise is
//! simpler to model than the image). The first convolution encodes the noisy
//! image into `features` channels, the middle ones transform that code, and
//! the last one decodes it back to one channel.
//!
//! An optional pixel-unshuffle (`unshuffle` > 1, as in FFDNet) folds each
//! f×f block into f² channels so the stack works at 1/f resolution, for a
//! larger receptive field at the same cost; on this project's 100-image,
//! few-minute budget it trained markedly slower than full resolution (the
//! validation split decided), so the reference runs use `unshuffle = 1`.

use burn::nn::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    PaddingConfig2d, PixelShuffle, PixelShuffleConfig, PixelUnshuffle, PixelUnshuffleConfig,
};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::config::DenoiserSpec;

/// (Pixel-unshuffle →) `depth` 3×3 convolutions (→ pixel-shuffle), predicting the noise.
#[derive(Module, Debug)]
pub struct ResidualCnn {
    convs: Vec<Conv2d>,
    down: PixelUnshuffle,
    up: PixelShuffle,
}

impl ResidualCnn {
    /// Builds the network described by `spec` on `device`.
    pub fn new(spec: &DenoiserSpec, device: &Device) -> Self {
        let folded = spec.unshuffle * spec.unshuffle;
        // He initialisation (gain √2) keeps the activations' scale through a
        // deep ReLU stack without batch norm; burn's default (PyTorch's
        // kaiming-uniform with a = √5) shrinks them layer after layer, and a
        // ten-layer net then outputs ~0 and learns nothing for many steps.
        // The last convolution starts at zero, so the untrained network is the
        // identity (it predicts no noise) and the first steps refine from
        // there instead of undoing a random initial output.
        let he = Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        };
        let conv = |c_in: usize, c_out: usize, init: Initializer| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(init)
                .init(device)
        };
        let mut convs = vec![conv(folded, spec.features, he.clone())];
        for _ in 0..spec.depth.saturating_sub(2) {
            convs.push(conv(spec.features, spec.features, he.clone()));
        }
        convs.push(conv(spec.features, folded, Initializer::Zeros));
        ResidualCnn {
            convs,
            down: PixelUnshuffleConfig::new(spec.unshuffle).init(),
            up: PixelShuffleConfig::new(spec.unshuffle).init(),
        }
    }

    /// Denoises a batch `[N, 1, H, W]`; H and W must be multiples of the unshuffle factor.
    pub fn forward(&self, noisy: Tensor<4>) -> Tensor<4> {
        let mut x = self.down.forward(noisy.clone());
        let last = self.convs.len() - 1;
        for (i, conv) in self.convs.iter().enumerate() {
            x = conv.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        noisy - self.up.forward(x)
    }

    /// Multiply-accumulate operations for one `size`×`size` image.
    pub fn macs_per_image(spec: &DenoiserSpec, size: usize) -> u64 {
        let positions = (size / spec.unshuffle).pow(2) as u64;
        let folded = (spec.unshuffle * spec.unshuffle) as u64;
        let f = spec.features as u64;
        let inner = spec.depth.saturating_sub(2) as u64;
        positions * 9 * (folded * f + inner * f * f + f * folded)
    }
}
