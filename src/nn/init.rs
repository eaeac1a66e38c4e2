//! Weight initializers, drawn on the host with `rand` from an explicit seed.
//!
//! Variance scaling: Var(w) = gain / fan, with fan from the mode. He (Kaiming, He et al. 2015):
//! gain 2, fan-in; Glorot (Xavier, Glorot & Bengio 2010): gain 1, fan average; LeCun: gain 1,
//! fan-in. Normal draws are N(0, Var) (PyTorch's kaiming_normal_, not Keras' truncated normal);
//! uniform draws are U(−√(3·Var), √(3·Var)).

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

/// Which fan a variance-scaling initializer divides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    FanIn,
    FanOut,
    FanAvg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Draw {
    Normal,
    Uniform,
}

/// How a layer's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Initializer {
    He {
        draw: Draw,
        mode: FanMode,
    },
    Glorot {
        draw: Draw,
        mode: FanMode,
    },
    Lecun {
        draw: Draw,
        mode: FanMode,
    },
    Constant {
        value: f32,
    },
    Zeros,
    /// One value drawn from He normal (fan-in), used for every weight of the layer: the
    /// symmetric start of seed question 1.
    SameValue,
}

impl Initializer {
    pub const HE_NORMAL: Self = Self::He { draw: Draw::Normal, mode: FanMode::FanIn };
    pub const HE_UNIFORM: Self = Self::He { draw: Draw::Uniform, mode: FanMode::FanIn };
    pub const GLOROT_NORMAL: Self = Self::Glorot { draw: Draw::Normal, mode: FanMode::FanAvg };
    pub const GLOROT_UNIFORM: Self = Self::Glorot { draw: Draw::Uniform, mode: FanMode::FanAvg };
    pub const LECUN_NORMAL: Self = Self::Lecun { draw: Draw::Normal, mode: FanMode::FanIn };
    pub const LECUN_UNIFORM: Self = Self::Lecun { draw: Draw::Uniform, mode: FanMode::FanIn };

    /// The names `wgtrain` accepts in configs, with what they mean.
    pub const NAMES: &'static [(&'static str, Initializer)] = &[
        ("he_normal", Self::HE_NORMAL),
        ("he_uniform", Self::HE_UNIFORM),
        ("glorot_normal", Self::GLOROT_NORMAL),
        ("glorot_uniform", Self::GLOROT_UNIFORM),
        ("lecun_normal", Self::LECUN_NORMAL),
        ("lecun_uniform", Self::LECUN_UNIFORM),
        ("zeros", Self::Zeros),
        ("same_value", Self::SameValue),
    ];

    /// Variance of the draws for a (fan_in, fan_out) layer, for the variance-scaling kinds.
    pub fn variance(&self, fan_in: usize, fan_out: usize) -> Option<f64> {
        let fan = |mode: FanMode| match mode {
            FanMode::FanIn => fan_in as f64,
            FanMode::FanOut => fan_out as f64,
            FanMode::FanAvg => (fan_in + fan_out) as f64 / 2.0,
        };
        match *self {
            Self::He { mode, .. } => Some(2.0 / fan(mode)),
            Self::Glorot { mode, .. } | Self::Lecun { mode, .. } => Some(1.0 / fan(mode)),
            _ => None,
        }
    }

    /// `fan_in × fan_out` weights, row-major (IN, OUT).
    pub fn sample(&self, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Vec<f32> {
        let n = fan_in * fan_out;
        match *self {
            Self::Constant { value } => vec![value; n],
            Self::Zeros => vec![0.0; n],
            Self::SameValue => {
                let value = Self::HE_NORMAL.sample(fan_in, fan_out, rng)[0];
                vec![value; n]
            }
            Self::He { draw, .. } | Self::Glorot { draw, .. } | Self::Lecun { draw, .. } => {
                let var = self.variance(fan_in, fan_out).expect("variance-scaling kind");
                match draw {
                    Draw::Normal => {
                        let d = Normal::new(0.0, var.sqrt()).expect("finite variance");
                        (0..n).map(|_| d.sample(rng) as f32).collect()
                    }
                    Draw::Uniform => {
                        let limit = (3.0 * var).sqrt();
                        let d = Uniform::new_inclusive(-limit, limit).expect("finite limit");
                        (0..n).map(|_| d.sample(rng) as f32).collect()
                    }
                }
            }
        }
    }
}
