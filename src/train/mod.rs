//! Training: the device-resident dataset, the loop, metrics history, checkpoints.

pub mod checkpoint;
mod data;
mod history;
mod trainer;

pub use data::DeviceData;
pub use history::{EpochRecord, History};
pub use trainer::{epoch_order, Callback, EarlyStopping, Metrics, TrainConfig, Trainer, TrainerState};
