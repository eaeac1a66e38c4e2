//! The built-in layer kinds, one file each: Dense (and its bias-free Linear form), a
//! standalone activation, dropout (inverted and alpha), batch normalization.

mod activation;
mod batchnorm;
mod dense;
mod dropout;

pub use activation::ActivationKind;
pub use batchnorm::BatchNormKind;
pub use dense::DenseKind;
pub use dropout::DropoutKind;

use crate::backend::Activation;

/// RReLU's slope range, checked wherever an activation is configured.
fn activation_problem(act: Activation) -> Option<String> {
    match act {
        Activation::Rrelu { lower, upper } if lower.is_nan() || upper.is_nan() || lower > upper => {
            Some(format!("RReLU needs lower ≤ upper, got {lower} and {upper}"))
        }
        _ => None,
    }
}
