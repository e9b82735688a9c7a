//! Writing images and arrays that a person (or another program) can open:
//! PNG grids of examples and float32 NumPy `.npy` arrays.

use std::path::Path;

use anyhow::{Context, Result};
use image::{GrayImage, RgbImage};

/// Gap between tiles in a grid, in pixels.
const GAP: u32 = 2;

/// Writes a grid of `size`×`size` grayscale tiles with values in [0, 1]
/// (clipped) to a PNG; `rows[r][c]` is the tile at row r, column c.
pub fn save_gray_grid(path: &Path, rows: &[Vec<&[f32]>], size: usize) -> Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let s = size as u32;
    let width = cols * s + cols.saturating_sub(1) * GAP;
    let height = rows.len() as u32 * s + (rows.len() as u32).saturating_sub(1) * GAP;
    let mut img = GrayImage::from_pixel(width.max(1), height.max(1), image::Luma([255]));
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            let (x0, y0) = (c as u32 * (s + GAP), r as u32 * (s + GAP));
            for y in 0..s {
                for x in 0..s {
                    let v = tile[(y * s + x) as usize].clamp(0.0, 1.0);
                    img.put_pixel(x0 + x, y0 + y, image::Luma([(v * 255.0).round() as u8]));
                }
            }
        }
    }
    img.save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes a grid of 32×32 RGB tiles given as CHW bytes.
pub fn save_rgb_grid(path: &Path, rows: &[Vec<&[u8]>]) -> Result<()> {
    const S: u32 = 32;
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let width = cols * S + cols.saturating_sub(1) * GAP;
    let height = rows.len() as u32 * S + (rows.len() as u32).saturating_sub(1) * GAP;
    let mut img = RgbImage::from_pixel(width.max(1), height.max(1), image::Rgb([255, 255, 255]));
    for (r, row) in rows.iter().enumerate() {
        for (c, tile) in row.iter().enumerate() {
            let (x0, y0) = (c as u32 * (S + GAP), r as u32 * (S + GAP));
            for y in 0..S {
                for x in 0..S {
                    let i = (y * S + x) as usize;
                    img.put_pixel(
                        x0 + x,
                        y0 + y,
                        image::Rgb([tile[i], tile[1024 + i], tile[2048 + i]]),
                    );
                }
            }
        }
    }
    img.save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `data` (row-major) as a little-endian float32 `.npy` of `shape`.
pub fn save_npy(path: &Path, data: &[f32], shape: &[usize]) -> Result<()> {
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "npy: data does not match the shape"
    );
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a float32 `.npy` written by [`save_npy`]: `(shape, data)`.
pub fn load_npy(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(
        bytes.len() > 10 && bytes.starts_with(b"\x93NUMPY"),
        "{} is not a .npy file",
        path.display()
    );
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len])?;
    anyhow::ensure!(
        header.contains("'<f4'"),
        "{} does not hold float32 values",
        path.display()
    );
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .context("npy header without a shape")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((shape, data))
}
