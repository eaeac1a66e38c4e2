//! wgtrain — training and inference of feed-forward networks on wgpu.
//!
//! Layers, bottom to top: WGSL kernels (`shaders/`), the GPU plumbing (`gpu`, the only
//! module that calls wgpu), the CPU twin (`cpu`, the reference), the op set both implement
//! (`backend`), and op host code (`ops`). See DESIGN.md for the whole house.

pub mod backend;
pub mod cpu;
pub mod data;
pub mod error;
pub mod gpu;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod shaders;
pub mod tensor;
pub mod train;

pub use backend::{
    Activation, ActivationArgs, Backend, BatchNorm, BatchNormTensors, Dropout, Gather, Hyper, Loss, Matmul, MatmulDims,
    Noise, StepCounters, UpdateRule, UpdateTensors,
};
pub use cpu::CpuBackend;
pub use error::{Error, Result};
pub use gpu::{GpuBackend, GpuContext};
pub use tensor::{DType, Tensor};
