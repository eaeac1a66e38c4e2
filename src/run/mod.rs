//! Runs: a whole training run as a library call, and the contract a run leaves behind.
//!
//! - `RunConfig` (`config`): every setting of a run, TOML-serializable, resolved into the
//!   engine's types with errors that name the value and the fix;
//! - `dataset`: datasets by name, split, standardized, with the `InputTransform` that
//!   evaluation and prediction replay;
//! - `Run` (`train`): resolve, build or resume, train under the run's policies (pruning,
//!   divergence, a resume checkpoint per epoch), evaluate, write the run directory;
//! - `compress`: prune or factorize a trained run into a new one, with fine-tuning;
//! - `saved`: what a checkpoint stores for the run, and reading it back;
//! - `output` and `resume`: the all-or-nothing run directory and the epoch checkpoints beside it;
//! - `plot`: a run's curves as SVG.

mod agree;
mod compress;
pub mod config;
pub mod dataset;
mod evaluate;
pub mod lr_find;
mod lock;
mod observe;
pub mod output;
pub mod plot;
pub mod resume;
mod saved;
pub mod settings;
pub mod summary;
mod train;
mod write;

pub use compress::{Change, Compressed, Compression};
pub use config::{EarlyStoppingSection, ModelConfig, OnDivergence, OptimizerSection, PruneSchedule, PruneSection, RunConfig};
pub use dataset::{InputTransform, Splits};
pub use evaluate::{evaluate, predict, Evaluation, Predictions, Split};
pub use observe::{DataSummary, EarlyStop, Event, Observer, Outcome, Quiet, OUTPUT_FILES};
pub use saved::{checkpoint_in, metadata, resumed_output, INPUT_TRANSFORM_KEY, RUN_CONFIG_KEY};
pub use summary::Summary;
pub use train::{Prepared, Run};
