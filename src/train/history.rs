//! Per-epoch metrics, as CSV and JSON.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// NaN when the epoch diverged (JSON has no NaN: it is written as null and read back).
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f32,
    pub accuracy: f32,
    pub val_loss: Option<f32>,
    pub val_accuracy: Option<f32>,
    /// The mean of the learning rates the epoch's steps used.
    pub lr: f32,
    /// Wall time of the epoch's training steps (validation excluded).
    pub seconds: f64,
    pub samples_per_second: f64,
    /// Training samples processed in the epoch.
    #[serde(default)]
    pub samples: usize,
    /// Weights near zero at the epoch's end, when the run tracks it
    /// (`TrainConfig::sparsity_threshold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<Sparsity>,
}

/// The fraction of weights with |w| below a threshold: over all weight matrices and per matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sparsity {
    pub threshold: f32,
    pub total: f32,
    pub layers: Vec<f32>,
}

/// Training throughput over a whole run, from completed epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub samples: usize,
    pub seconds: f64,
    /// Total samples ÷ total training time (not a mean of per-epoch rates).
    pub samples_per_second: f64,
    /// The first epoch alone: it pays for pipeline compilation and first-use allocations.
    pub first_epoch_samples_per_second: f64,
    /// Every epoch after the first, where there is one.
    pub after_first_epoch_samples_per_second: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
}

impl History {
    pub fn to_csv(&self) -> String {
        let opt = |v: Option<f32>| v.map_or(String::new(), |v| v.to_string());
        let tracked = self.epochs.iter().any(|r| r.sparsity.is_some());
        let mut out = String::from("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,samples_per_second");
        out += if tracked { ",sparsity\n" } else { "\n" };
        for r in &self.epochs {
            let sparsity = match (&r.sparsity, tracked) {
                (Some(s), _) => format!(",{}", s.total),
                (None, true) => ",".into(),
                (None, false) => String::new(),
            };
            out += &format!(
                "{},{},{},{},{},{},{:.3},{:.1}{sparsity}\n",
                r.epoch,
                r.loss,
                r.accuracy,
                opt(r.val_loss),
                opt(r.val_accuracy),
                r.lr,
                r.seconds,
                r.samples_per_second
            );
        }
        out
    }

    /// Samples per second over the run, warm-up epoch reported apart; `None` before any epoch.
    pub fn throughput(&self) -> Option<Throughput> {
        let first = self.epochs.first()?;
        let samples: usize = self.epochs.iter().map(|r| r.samples).sum();
        let seconds: f64 = self.epochs.iter().map(|r| r.seconds).sum();
        let rest_seconds = seconds - first.seconds;
        let after =
            (self.epochs.len() > 1 && rest_seconds > 0.0).then(|| (samples - first.samples) as f64 / rest_seconds);
        Some(Throughput {
            samples,
            seconds,
            samples_per_second: samples as f64 / seconds.max(1e-12),
            first_epoch_samples_per_second: first.samples as f64 / first.seconds.max(1e-12),
            after_first_epoch_samples_per_second: after,
        })
    }

    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }
}

/// An f32 that JSON may hold as null (how serde_json writes NaN and infinities).
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}
