//! Layers, initializers and the Sequential model, written once against the op set.

mod builder;
pub mod init;
mod model;
pub mod spec;

pub use builder::{BatchNormAt, ModelBuilder};
pub use init::{Draw, FanMode, Initializer};
pub use model::{validate, Mode, Param, Sequential, Workspace};
pub use spec::{LayerSpec, ModelSpec};
