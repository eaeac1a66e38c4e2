//! Datasets in memory: IDX (MNIST family), CSV, the UCI digits, synthetic sets; splits and
//! standardization; and `DeviceData`, a dataset uploaded to a backend for a whole run.

pub mod csv;
mod dataset;
mod device;
pub mod idx;
pub mod sources;

pub use dataset::{Dataset, Features, Standardizer};
pub use device::DeviceData;
