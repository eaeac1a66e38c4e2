//! The only code that calls wgpu: adapter choice, device and limits, buffers and their
//! pool, pipelines built once per device, and the recorder that submits one encoder per step.

mod adapter;
mod backend;
mod buffer;
mod context;
mod kernel;
mod op_set;
mod recorder;

pub use adapter::{list_adapters, AdapterRequest, AdapterSummary};
pub use backend::GpuBackend;
pub use buffer::{BufferPool, GpuBuffer};
pub use context::{DeviceKind, DeviceLimits, GpuContext};
pub use kernel::Kernel;
pub use recorder::{GpuStats, Recorder, MAX_BINDINGS, MAX_PARAMS};
