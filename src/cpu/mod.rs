//! The CPU twin: every kernel in plain Rust over `&[f32]`, with the GPU's function names
//! and argument order. It is the definition of correct for the GPU path.

pub mod activation;
mod backend;
pub mod batchnorm;
mod batchnorm_ops;
pub mod data;
pub mod dropout;
pub mod loss;
pub mod matmul;
mod op_set;
pub mod optim;
pub mod random;
pub mod reduce;

pub use backend::CpuBackend;
