//! The CPU twin: every kernel in plain Rust over `&[f32]`, with the GPU's function names
//! and argument order. It is the definition of correct for the GPU path.

mod backend;
pub mod matmul;

pub use backend::CpuBackend;
