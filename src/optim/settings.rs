//! Each optimizer setting declared once: its name (the TOML key, the flag without `--`'s
//! dashes, the saved config's key), what it is, the values it takes, and each rule's default
//! (`None` where the rule does not use it). `OptimizerConfig::new` and `validate`, the run
//! config's optimizer section, the settings a saved config writes, and the command line's
//! flags are all derived from `SETTINGS`.

use super::optimizer::{OptimizerConfig, OptimizerKind};
use crate::error::{Error, Result};

/// The values a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// A finite number above 0.
    Positive,
    /// In [0, 1).
    Unit,
    /// A finite number ≥ 0.
    NonNegative,
    /// ≥ 0, with 0 turning the feature off.
    OffAtZero,
}

impl Range {
    pub fn contains(self, v: f32) -> bool {
        match self {
            Range::Positive => v > 0.0 && v.is_finite(),
            Range::Unit => (0.0..1.0).contains(&v),
            Range::NonNegative => v >= 0.0 && v.is_finite(),
            Range::OffAtZero => v >= 0.0,
        }
    }

    /// The values, in a few words: "in [0, 1)".
    pub fn short(self) -> &'static str {
        match self {
            Range::Positive => "> 0",
            Range::Unit => "in [0, 1)",
            Range::NonNegative => "≥ 0",
            Range::OffAtZero => "≥ 0, 0 turns it off",
        }
    }

    /// What `contains` asks, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Range::Positive => "must be > 0",
            Range::Unit => "must be in [0, 1)",
            Range::NonNegative => "must be ≥ 0",
            Range::OffAtZero => "must be ≥ 0 (0 turns it off)",
        }
    }
}

/// One setting of the optimizers.
pub struct Setting {
    pub name: &'static str,
    /// One line for `--help` and the docs.
    pub help: &'static str,
    pub range: Range,
    /// The default of each rule, in `OptimizerKind::NAMES` order (sgd, momentum, nesterov,
    /// adagrad, rmsprop, adam, adamw, nadam); `None` where the rule does not use it.
    defaults: [Option<f32>; 8],
    pub get: fn(&OptimizerConfig) -> f32,
    pub set: fn(&mut OptimizerConfig, f32),
}

impl Setting {
    /// `kind`'s default; `None` where `kind` does not use this setting.
    pub fn default_for(&self, kind: OptimizerKind) -> Option<f32> {
        self.defaults[kind.index()]
    }

    pub fn used_by(&self, kind: OptimizerKind) -> bool {
        self.default_for(kind).is_some()
    }

    /// Whether the default depends on the rule (so a run that changes rule takes the new
    /// rule's, not the old one's value).
    pub fn per_rule(&self) -> bool {
        self.defaults.iter().any(|d| *d != self.defaults[0])
    }

    /// Refuse `value` outside the range, naming the setting.
    pub fn check(&self, value: f32) -> Result<()> {
        if self.range.contains(value) {
            Ok(())
        } else {
            Err(Error::config(format!("optimizer {}", self.name), format!("{value} {}", self.range.describe())))
        }
    }

    /// The defaults `default` gives each rule, in words: "0.9 (momentum, nesterov, adam,
    /// adamw, nadam)", or one number where every rule has the same.
    pub fn describe_defaults(&self, default: impl Fn(OptimizerKind) -> Option<f32>) -> String {
        let mut groups: Vec<(f32, Vec<&str>)> = Vec::new();
        for &(name, kind) in OptimizerKind::NAMES {
            let Some(d) = default(kind) else { continue };
            match groups.iter_mut().find(|(v, _)| *v == d) {
                Some((_, names)) => names.push(name),
                None => groups.push((d, vec![name])),
            }
        }
        // 1e-8, not 0.00000001.
        let number = |v: f32| if v != 0.0 && v.abs() < 1e-3 { format!("{v:e}") } else { format!("{v}") };
        if let [(v, names)] = groups.as_slice() {
            if names.len() == OptimizerKind::NAMES.len() {
                return number(*v);
            }
        }
        groups.iter().map(|(v, names)| format!("{} ({})", number(*v), names.join(", "))).collect::<Vec<_>>().join("; ")
    }
}

/// Every optimizer setting. Defaults are PyTorch's (RMSProp's ρ = 0.9 as in Keras).
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "lr",
        help: "Learning rate",
        range: Range::Positive,
        defaults: [Some(0.01), Some(0.01), Some(0.01), Some(0.01), Some(0.001), Some(0.001), Some(0.001), Some(0.002)],
        get: |c| c.lr,
        set: |c, v| c.lr = v,
    },
    Setting {
        name: "momentum",
        help: "Momentum β, or Adam's β1",
        range: Range::Unit,
        defaults: [None, Some(0.9), Some(0.9), None, None, Some(0.9), Some(0.9), Some(0.9)],
        get: |c| c.momentum,
        set: |c, v| c.momentum = v,
    },
    Setting {
        name: "beta2",
        help: "Adam's β2, RMSProp's ρ",
        range: Range::Unit,
        defaults: [None, None, None, None, Some(0.9), Some(0.999), Some(0.999), Some(0.999)],
        get: |c| c.beta2,
        set: |c, v| c.beta2 = v,
    },
    Setting {
        name: "eps",
        help: "The ε of AdaGrad, RMSProp and the Adam family (> 0: it keeps the update finite where a gradient is 0)",
        range: Range::Positive,
        defaults: [None, None, None, Some(1e-10), Some(1e-8), Some(1e-8), Some(1e-8), Some(1e-8)],
        get: |c| c.eps,
        set: |c, v| c.eps = v,
    },
    Setting {
        name: "weight_decay",
        help: "AdamW's decoupled weight decay",
        range: Range::NonNegative,
        defaults: [None, None, None, None, None, None, Some(0.01), None],
        get: |c| c.weight_decay,
        set: |c, v| c.weight_decay = v,
    },
    Setting {
        name: "l1",
        help: "ℓ1 penalty on Dense weights (drives weights to zero: a sparse model)",
        range: Range::NonNegative,
        defaults: [Some(0.0); 8],
        get: |c| c.l1,
        set: |c, v| c.l1 = v,
    },
    Setting {
        name: "l2",
        help: "ℓ2 penalty on Dense weights",
        range: Range::NonNegative,
        defaults: [Some(0.0); 8],
        get: |c| c.l2,
        set: |c, v| c.l2 = v,
    },
    Setting {
        name: "clip_value",
        help: "Clip every gradient value to ±this",
        range: Range::OffAtZero,
        defaults: [Some(0.0); 8],
        get: |c| c.clip_value,
        set: |c, v| c.clip_value = v,
    },
    Setting {
        name: "clip_norm",
        help: "Rescale gradients whose global norm is above this",
        range: Range::OffAtZero,
        defaults: [Some(0.0); 8],
        get: |c| c.clip_norm,
        set: |c, v| c.clip_norm = v,
    },
];

/// The setting called `name`.
pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}
