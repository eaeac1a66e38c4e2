//! Device plumbing: adapter choice, device and limits, buffers and their pool, pipelines built
//! once per device, and the recorder that batches one step's dispatches into one encoder.

pub(crate) mod adapter;
pub(crate) mod buffer;
pub(crate) mod context;
pub(crate) mod kernel;
pub(crate) mod recorder;
pub(crate) mod timestamps;
