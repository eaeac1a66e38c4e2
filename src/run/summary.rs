//! A model summary like Keras' `model.summary()`: per layer its kind, output width and
//! parameters, with the zero weights (pruning) and the rank (factorization) of weight
//! matrices, and the totals. Read from a checkpoint's tensors, so it needs no device.

use serde::Serialize;
use crate::nn::{LayerSpec, LayerSummary, ModelSpec};
use crate::train::checkpoint::Loaded;

#[derive(Debug, Serialize)]
pub struct LayerRow {
    /// From 1.
    pub layer: usize,
    pub kind: String,
    pub units: usize,
    pub params: usize,
    /// Exactly-zero weights of the layer's weight matrix.
    pub zeros: usize,
    pub weights: usize,
    /// For a Linear layer followed by a Dense one (a factorized Dense layer): its rank.
    pub rank: Option<usize>,
    /// Whether a pruning mask holds the zeros in place during training.
    pub masked: bool,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub inputs: usize,
    pub layers: Vec<LayerRow>,
    pub params: usize,
    pub zeros: usize,
    pub weights: usize,
}

impl Summary {
    /// The summary of a model about to be built: parameters from the shapes alone, each
    /// layer's line from its kind (`LayerKind::summary`).
    pub fn of_spec(spec: &ModelSpec) -> Self {
        let mut width = spec.inputs;
        let mut layers = Vec::new();
        for (i, l) in spec.layers.iter().enumerate() {
            let (line, units) = match l.kind() {
                Ok(kind) => (kind.summary(width), kind.units(width)),
                Err(_) => {
                    let name = match l {
                        LayerSpec::Custom { kind, .. } => format!("{kind} (not registered)"),
                        _ => "unknown".into(),
                    };
                    (LayerSummary { kind: name, params: 0, weights: 0, rank: None }, width)
                }
            };
            let LayerSummary { kind, params, weights, rank } = line;
            layers.push(LayerRow { layer: i + 1, kind, units, params, zeros: 0, weights, rank, masked: false });
            width = units;
        }
        let sum = |f: fn(&LayerRow) -> usize| layers.iter().map(f).sum();
        Summary { inputs: spec.inputs, params: sum(|r| r.params), zeros: 0, weights: sum(|r| r.weights), layers }
    }

    /// The summary of a saved model: `of_spec`, with the zero weights and masks read from the
    /// file's tensors.
    pub fn of(loaded: &Loaded) -> Self {
        let mut summary = Self::of_spec(&loaded.meta.model);
        for row in &mut summary.layers {
            let i = row.layer - 1;
            if let Some((_, w)) = loaded.tensor(&format!("model.layers.{i}.w")) {
                row.zeros = w.iter().filter(|v| **v == 0.0).count();
            }
            row.masked = loaded.tensor(&format!("mask.layers.{i}.w")).is_some();
        }
        summary.zeros = summary.layers.iter().map(|r| r.zeros).sum();
        summary
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{:<6} {:<24} {:>8} {:>10} {:>16} {:>6}", "layer", "kind", "output", "params", "zero weights", "rank")?;
        writeln!(f, "{:<6} {:<24} {:>8}", "", "input", self.inputs)?;
        for r in &self.layers {
            let zeros = if r.weights == 0 {
                String::new()
            } else {
                format!("{} ({:.1}%){}", r.zeros, 100.0 * r.zeros as f64 / r.weights as f64, if r.masked { "*" } else { "" })
            };
            let rank = r.rank.map_or(String::new(), |k| k.to_string());
            writeln!(f, "{:<6} {:<24} {:>8} {:>10} {:>16} {:>6}", r.layer, r.kind, r.units, r.params, zeros, rank)?;
        }
        let share = 100.0 * self.zeros as f64 / self.weights.max(1) as f64;
        writeln!(f, "total: {} parameters; {} of {} weights are zero ({share:.1}%)", self.params, self.zeros, self.weights)?;
        if self.layers.iter().any(|r| r.masked) {
            writeln!(f, "* held at zero by a pruning mask while training")?;
        }
        Ok(())
    }
}
