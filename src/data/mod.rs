//! Datasets in memory: IDX (MNIST family), CSV, the UCI digits, synthetic sets; splits and
//! standardization; and `DeviceData`, a dataset uploaded to a backend for a whole run.

mod dataset;
mod device;
pub mod idx;
pub mod sources;

pub use dataset::{Dataset, Features, Standardizer};
pub use device::DeviceData;
