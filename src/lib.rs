//! wgtrain — training and inference of feed-forward networks on wgpu.
//!
//! Layers, bottom to top (data flows down, no module imports one above it):
//! - `shaders/`: the WGSL kernels;
//! - `gpu` (the only module that calls wgpu: device plumbing and each kernel family's host
//!   half) and `cpu` (the twin, the reference), side by side, one file per family in each;
//! - `backend`: the op set both implement;
//! - `nn`, `optim`: layers, models, optimizers, written once against the op set;
//! - `train`, `infer`: the training loop and checkpoints; evaluation and prediction;
//! - `run`: a whole run as one call (config, data, policies, the run directory), over `train`;
//! - `dist`: data-parallel runs over MPI (feature `mpi`), below `run`;
//! - `data`: datasets, used by `train` and `infer`;
//! - the `wgtrain` binary (`src/main.rs`, `src/cli/`), which only translates.
//!
//! `tests/suite/layering.rs` checks the order over the `use` lines.

pub mod backend;
pub mod bench;
pub mod build;
pub mod cpu;
pub mod data;
pub mod dist;
pub mod error;
pub mod files;
pub mod experiment;
pub mod gpu;
pub mod infer;
pub mod limits;
pub mod nn;
pub mod optim;
pub mod run;
pub mod shaders;
pub mod sparse;
pub mod tensor;
pub mod train;

pub use build::BUILD;

pub use backend::{
    Activation, ActivationArgs, Backend, BatchNorm, BatchNormTensors, Counters, Derivative, Dropout, Gather, Gradient, Hyper,
    InputGradient, Loss, Matmul,
    MatmulDims, Noise, Packed, StepCounters, UpdateRule, UpdateTensors,
};
pub use cpu::CpuBackend;
pub use error::{Error, Result};
pub use gpu::{GpuBackend, GpuContext};
pub use tensor::{DType, Tensor};
