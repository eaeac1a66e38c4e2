//! Optimizers (SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW, Nadam), ℓ1/ℓ2
//! penalties, clipping, and learning-rate schedules.

mod optimizer;
mod schedule;
pub mod settings;

pub use optimizer::{Optimizer, OptimizerConfig, OptimizerKind, OptimizerState};
pub use schedule::{PlateauState, Schedule};
pub use settings::{Setting, SETTINGS};
