use burn::nn::conv::Conv2dConfig;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::Distribution;

fn check(cin: usize, cout: usize, h: usize) {
    let dev = Device::flex();
    let conv = Conv2dConfig::new([cin, cout], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&dev);
    let x = Tensor::<4>::random([2, cin, h, h], Distribution::Normal(0.0, 1.0), &dev);
    let out: Vec<f32> = conv.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
    let xs: Vec<f32> = x.into_data().try_to_vec::<f32>().unwrap();
    let w: Vec<f32> = conv.weight.val().into_data().try_to_vec::<f32>().unwrap();
    let b: Vec<f32> = conv.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap();
    let mut maxd = 0f32;
    for n in 0..2 { for o in 0..cout { for y in 0..h { for xx in 0..h {
        let mut s = b[o];
        for i in 0..cin { for ky in 0..3 { for kx in 0..3 {
            let (sy, sx) = (y as i32 + ky as i32 - 1, xx as i32 + kx as i32 - 1);
            if sy >= 0 && sy < h as i32 && sx >= 0 && sx < h as i32 {
                s += w[((o * cin + i) * 3 + ky) * 3 + kx] * xs[((n * cin + i) * h + sy as usize) * h + sx as usize];
            }
        }}}
        maxd = maxd.max((s - out[((n * cout + o) * h + y) * h + xx]).abs());
    }}}}
    println!("cin {cin} cout {cout} h {h}: max diff {maxd}");
}
fn main() {
    check(1, 32, 48); check(4, 32, 24); check(4, 64, 24); check(32, 4, 24); check(64, 64, 24); check(32, 32, 24); check(32, 1, 48);
}
