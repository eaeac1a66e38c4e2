//! Per-epoch metrics, as CSV and JSON.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    pub loss: f32,
    pub accuracy: f32,
    pub val_loss: Option<f32>,
    pub val_accuracy: Option<f32>,
    /// Learning rate at the end of the epoch.
    pub lr: f32,
    /// Wall time of the epoch's training steps (validation excluded).
    pub seconds: f64,
    pub samples_per_second: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
}

impl History {
    pub fn to_csv(&self) -> String {
        let opt = |v: Option<f32>| v.map_or(String::new(), |v| v.to_string());
        let mut out = String::from("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,samples_per_second\n");
        for r in &self.epochs {
            out += &format!(
                "{},{},{},{},{},{},{:.3},{:.1}\n",
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

    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }
}
