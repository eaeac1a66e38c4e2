//! Layers, initializers and the Sequential model, written once against the op set.

mod builder;
pub mod init;
pub mod layer;
pub mod layers;
mod model;
mod params;
mod precision;
pub mod spec;

pub use builder::{BatchNormAt, ModelBuilder};
pub use init::{Draw, FanMode, Initializer};
pub use layer::{register_layer, Backward, Build, CrossReplica, Forward, Layer, LayerKind, LayerSummary, UpdateNow};
pub use model::{validate, Mode, Sequential, Workspace};
pub use params::{Deferred, PackedParams, Param, ParamInit, ParamSet, Undeferred, DEFERRABLE_MIN, DEFERRABLE_ROWS};
pub use precision::Precision;
pub use spec::{LayerSpec, ModelSpec};
