//! The `wgtrain` command line: train, eval, predict, bench, info.

pub mod bench;
pub mod compress;
pub mod config;
pub mod data;
pub mod dataset;
pub mod eval;
pub mod experiment;
pub mod info;
pub mod output;
pub mod plot;
pub mod predict;
pub mod progress;
pub mod resume;
pub mod summary;
pub mod train;
pub mod train_args;
