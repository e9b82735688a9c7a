//! A declarative experiment runner on burn for a two-part coding test: a
//! denoising autoencoder for photographs, and a sender and a receiver that
//! agree on the order of two images through a single bit.
//!
//! Data flows `config` (TOML) → `data` (datasets, splits) → `models` →
//! `tasks` (one module per task, on the shared loop in `train`) → `runs`
//! (run folders) → `report` (tables, plots, Markdown and PDF).

pub mod backend;
pub mod baselines;
pub mod bench;
pub mod config;
pub mod data;
pub mod images;
pub mod metrics;
pub mod models;
pub mod report;
pub mod runs;
pub mod tasks;
pub mod train;
