//! Sparse and compressed models: magnitude pruning (one-shot or along a schedule, global or per
//! layer, masks kept on the device) and low-rank factorization of Dense layers. ℓ1
//! regularization, the third way, is an optimizer penalty (`OptimizerConfig::l1`); `measure`
//! puts all three on the same axis (the fraction of weights at or near zero).

pub mod lowrank;
pub mod prune;

pub use lowrank::{factorize, Factorized, Rank};
pub use prune::{cubic, magnitude_masks, measure, prune, LayerSparsity, Scope};
