//! The `wgtrain` command line: parse, call the library, print.

pub mod bench;
pub mod bench_dist;
pub mod compress;
pub mod data;
pub mod device;
pub mod dist;
pub mod eval;
pub mod experiment;
pub mod info;
pub mod lr_find;
pub mod out;
pub mod predict;
pub mod progress;
pub mod signals;
pub mod train;
pub mod train_args;
