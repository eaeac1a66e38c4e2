//! Training: the device-resident dataset, the loop, metrics history, checkpoints.

pub mod checkpoint;
pub mod lr_find;
mod config;
mod history;
mod replicas;
mod trainer;

pub use crate::data::DeviceData;
pub use crate::infer::Metrics;
pub use history::{EpochRecord, History, Throughput};
pub use replicas::{agree, shard, Replicas};
pub use config::{EarlyStopping, TrainConfig, TrainerState};
pub use trainer::{epoch_order, BatchSlice, Callback, Trainer};
