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

/// He initialisation (gain √2): it keeps the activations' scale through a
/// deep ReLU stack without batch norm. burn's default (PyTorch's
/// kaiming-uniform with a = √5) shrinks them layer after layer, and a
/// ten-layer net then outputs ~0 and learns nothing for many steps. Every
/// network here ends in a convolution initialised at zero instead, so the
/// untrained network is the identity (it predicts no noise) and the first
/// steps refine from there instead of undoing a random initial output.
fn he() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: false,
    }
}

/// A 3×3 convolution with one pixel of zero padding (size-preserving).
fn conv3x3(c_in: usize, c_out: usize, init: Initializer, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_initializer(init)
        .init(device)
}

/// The denoiser an experiment names in `model.arch`.
// A run holds one or two of these at a time, so the size difference between
// the variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Denoiser {
    Plain(ResidualCnn),
    UNet(UNet),
}

impl Denoiser {
    /// Builds the architecture `spec.arch` on `device`.
    pub fn new(spec: &DenoiserSpec, device: &Device) -> Self {
        match spec.arch.as_str() {
            "unet" => Denoiser::UNet(UNet::new(spec, device)),
            _ => Denoiser::Plain(ResidualCnn::new(spec, device)),
        }
    }

    /// Denoises a batch `[N, 1, H, W]`.
    pub fn forward(&self, noisy: Tensor<4>) -> Tensor<4> {
        match self {
            Denoiser::Plain(m) => m.forward(noisy),
            Denoiser::UNet(m) => m.forward(noisy),
        }
    }

    /// Side in pixels of the input neighbourhood that one output pixel sees.
    pub fn receptive_field(spec: &DenoiserSpec) -> usize {
        let u = spec.unshuffle.max(1);
        if spec.arch != "unet" {
            return (2 * spec.depth + 1) * u;
        }
        // Each k×k convolution widens the field by (k − 1) × the current
        // stride in input pixels; a 2×2 stride-2 convolution adds one stride
        // and doubles it; the way up adds its convolutions at finer strides.
        let conv3 = 2;
        let mut field = u + conv3 * u; // the fold, then the head
        let mut stride = u;
        let units = 2 * spec.depth; // 3×3 convolutions per block
        for _ in 1..spec.levels {
            field += units * conv3 * stride + stride;
            stride *= 2;
        }
        field += units * conv3 * stride; // the bottleneck
        for _ in 1..spec.levels {
            stride /= 2;
            field += units * conv3 * stride;
        }
        field + conv3 * stride // the tail
    }

    /// Multiply-accumulate operations for one `size`×`size` image.
    pub fn macs_per_image(spec: &DenoiserSpec, size: usize) -> u64 {
        match spec.arch.as_str() {
            "unet" => UNet::macs_per_image(spec, size),
            _ => ResidualCnn::macs_per_image(spec, size),
        }
    }
}

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
        let mut convs = vec![conv3x3(folded, spec.features, he(), device)];
        for _ in 0..spec.depth.saturating_sub(2) {
            convs.push(conv3x3(spec.features, spec.features, he(), device));
        }
        convs.push(conv3x3(spec.features, folded, Initializer::Zeros, device));
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

/// A small U-Net that predicts the noise, after DRUNet (Zhang et al., 2021)
/// without its residual blocks: `levels` resolutions, channels doubling at
/// each halving, `depth` 3×3 convolutions with ReLU per level on the way down
/// and again on the way up, skips added (not concatenated) to keep the
/// decoder as cheap as the encoder.
///
/// Why a U-Net here: a 3×3 convolution at half resolution with twice the
/// channels costs the same multiply-adds as one at full resolution, but sees
/// twice as far and runs as a larger, more efficient matrix product. With
/// three levels the receptive field covers most of a 64×64 image for about
/// the cost of a ten-layer full-resolution stack, which is what a few minutes
/// of CPU training can afford.
#[derive(Module, Debug)]
pub struct UNet {
    /// Folds each u×u block into u² channels first (u = `unshuffle`), as
    /// FFDNet does: the network then runs at 1/u resolution.
    fold: PixelUnshuffle,
    /// u² → `features` channels.
    head: Conv2d,
    /// One block per level; the last is the bottleneck.
    encoders: Vec<Block>,
    /// 2×2 stride-2 convolutions, level l → l + 1 (channels doubling).
    downs: Vec<Conv2d>,
    /// 1×1 convolutions to 4× the lower level's channels, then a
    /// pixel-shuffle: a learned 2× up-sampling (a 2×2 transposed convolution).
    ups: Vec<Conv2d>,
    shuffle: PixelShuffle,
    /// One block per level above the bottleneck, after the skip is added.
    decoders: Vec<Block>,
    /// `features` → u²: the predicted noise, initialised at zero.
    tail: Conv2d,
    /// Unfolds the u² channels back into u×u blocks.
    unfold: PixelShuffle,
}

/// `depth` residual units of constant width: x + conv(relu(conv(x))), then
/// ReLU. The second convolution of each unit starts at zero (as in Fixup and
/// the zero-γ trick of Goyal et al., 2017), so the untrained network is a
/// shallow path through the heads, samplers and tail, and deep stacks train
/// at the learning rates a shallow one takes. Without this a 14-layer plain
/// ReLU stack at Adam's learning rate 3e-3 stayed at the identity here
/// (validation PSNR equal to the noisy input after 50 steps).
#[derive(Module, Debug)]
pub struct Block {
    units: Vec<[Conv2d; 2]>,
}

impl Block {
    fn new(channels: usize, depth: usize, device: &Device) -> Self {
        Block {
            units: (0..depth)
                .map(|_| {
                    [
                        conv3x3(channels, channels, he(), device),
                        conv3x3(channels, channels, Initializer::Zeros, device),
                    ]
                })
                .collect(),
        }
    }

    fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        for [first, second] in &self.units {
            x = relu(x.clone() + second.forward(relu(first.forward(x))));
        }
        x
    }
}

impl UNet {
    /// Builds the U-Net described by `spec` on `device`.
    pub fn new(spec: &DenoiserSpec, device: &Device) -> Self {
        let width = |level: usize| spec.features << level;
        let lower = 0..spec.levels.saturating_sub(1);
        let folded = spec.unshuffle * spec.unshuffle;
        UNet {
            fold: PixelUnshuffleConfig::new(spec.unshuffle).init(),
            head: conv3x3(folded, width(0), he(), device),
            encoders: (0..spec.levels)
                .map(|l| Block::new(width(l), spec.depth, device))
                .collect(),
            downs: lower
                .clone()
                .map(|l| {
                    Conv2dConfig::new([width(l), width(l + 1)], [2, 2])
                        .with_stride([2, 2])
                        .with_initializer(he())
                        .init(device)
                })
                .collect(),
            ups: lower
                .clone()
                .map(|l| {
                    Conv2dConfig::new([width(l + 1), 4 * width(l)], [1, 1])
                        .with_initializer(he())
                        .init(device)
                })
                .collect(),
            shuffle: PixelShuffleConfig::new(2).init(),
            decoders: lower
                .map(|l| Block::new(width(l), spec.depth, device))
                .collect(),
            tail: conv3x3(width(0), folded, Initializer::Zeros, device),
            unfold: PixelShuffleConfig::new(spec.unshuffle).init(),
        }
    }

    /// Denoises a batch `[N, 1, H, W]`; H and W must be multiples of
    /// u·2^(levels − 1).
    pub fn forward(&self, noisy: Tensor<4>) -> Tensor<4> {
        let mut x = relu(self.head.forward(self.fold.forward(noisy.clone())));
        let mut skips = Vec::with_capacity(self.downs.len());
        for (block, down) in self.encoders.iter().zip(&self.downs) {
            x = block.forward(x);
            skips.push(x.clone());
            x = relu(down.forward(x));
        }
        if let Some(bottleneck) = self.encoders.last() {
            x = bottleneck.forward(x);
        }
        for ((up, block), skip) in self.ups.iter().zip(&self.decoders).zip(skips).rev() {
            x = block.forward(self.shuffle.forward(up.forward(x)) + skip);
        }
        noisy - self.unfold.forward(self.tail.forward(x))
    }

    /// Multiply-accumulate operations for one `size`×`size` image.
    pub fn macs_per_image(spec: &DenoiserSpec, size: usize) -> u64 {
        let u = spec.unshuffle.max(1);
        let full = ((size / u) * (size / u)) as u64;
        let folded = (u * u) as u64;
        let c = spec.features as u64;
        let levels = spec.levels.max(1) as u64;
        // Every 3×3 level convolution costs full·9·c² (positions fall by 4
        // per level as channels² rise by 4); each down and up costs full·2·c².
        let blocks = (2 * levels - 1) * 2 * spec.depth as u64;
        full * 9 * c * 2 * folded + blocks * full * 9 * c * c + (levels - 1) * 2 * full * 2 * c * c
    }
}
