//! The task-1 denoising autoencoder.
//!
//! `UnshuffleCnn` follows FFDNet's idea: a pixel-unshuffle folds each 2×2
//! block of the noisy image into four channels, a plain stack of 3×3
//! convolutions with ReLU works at half resolution (four times fewer
//! positions, so a wider and deeper network fits the same CPU budget and sees
//! a larger receptive field), and a pixel-shuffle unfolds the result. As in
//! DnCNN, the network predicts the noise and subtracts it (residual learning):
//! the residual of Gaussian noise is simpler to model than the image.
//!
//! Encoder and decoder in the autoencoder sense are the unshuffle with the
//! first convolutions (a 4-channel, half-resolution code widened to
//! `features` channels) and the last convolution with the shuffle.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    PaddingConfig2d, PixelShuffle, PixelShuffleConfig, PixelUnshuffle, PixelUnshuffleConfig,
};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::config::DenoiserSpec;

/// Pixel-unshuffle → `depth` 3×3 convolutions → pixel-shuffle, predicting the noise.
#[derive(Module, Debug)]
pub struct UnshuffleCnn {
    convs: Vec<Conv2d>,
    down: PixelUnshuffle,
    up: PixelShuffle,
}

impl UnshuffleCnn {
    /// Builds the network described by `spec` on `device`.
    pub fn new(spec: &DenoiserSpec, device: &Device) -> Self {
        let folded = spec.unshuffle * spec.unshuffle;
        let conv = |c_in: usize, c_out: usize| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let mut convs = vec![conv(folded, spec.features)];
        for _ in 0..spec.depth.saturating_sub(2) {
            convs.push(conv(spec.features, spec.features));
        }
        convs.push(conv(spec.features, folded));
        UnshuffleCnn {
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
