//! Datasets in memory: IDX (MNIST family), CSV, the UCI digits, synthetic sets; splits and
//! standardization. Nothing here touches the device.

mod dataset;
pub mod idx;
pub mod sources;

pub use dataset::{Dataset, Features, Standardizer};
