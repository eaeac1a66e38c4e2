//! Op host code: for each kernel family, its pipelines and how to dispatch them. Ops record
//! into a `gpu::Recorder`; they never poll or map.

pub mod matmul;
