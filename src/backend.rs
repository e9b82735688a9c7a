//! The compute backend: one code path, the device chosen at run time.
//!
//! burn 0.22 tensors carry no backend type; a `Device` value selects it. The
//! CPU default is burn-flex with rayon and SIMD, which trains this project's
//! models about 35 times faster than burn-ndarray on the reference machine
//! (see the README for the measurement); ndarray and CUDA are cargo features.

use anyhow::{Result, bail};
use burn::prelude::Device;

use crate::config::Backend;

/// The device for `backend`, or an error saying how to build with it.
pub fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Flex => Ok(Device::flex()),
        Backend::Ndarray => ndarray(),
        Backend::Cuda => cuda(),
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // burn marks ndarray deprecated in favour of flex; the card still names it.
fn ndarray() -> Result<Device> {
    Ok(Device::ndarray())
}

#[cfg(not(feature = "ndarray"))]
fn ndarray() -> Result<Device> {
    bail!(
        "backend \"ndarray\" is not in this build; rebuild with `cargo build --release --features ndarray`"
    )
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device> {
    bail!(
        "backend \"cuda\" is not in this build; rebuild with `cargo build --release --features cuda` on a machine with the CUDA toolkit"
    )
}
