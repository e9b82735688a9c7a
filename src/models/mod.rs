//! Model architectures, one type per architecture, each built from its spec
//! in the experiment file.

pub mod agents;
pub mod denoiser;
