//! Magnitude pruning: zero the weights of smallest magnitude, one-shot (Han et al. 2015) or
//! gradually along Zhu & Gupta's (2017) cubic schedule, and keep them zero while the rest
//! fine-tune (masks applied by the optimizer after every update, on the device).
//!
//! Only weight matrices (Dense and Linear layers) are pruned; biases, batch-norm parameters and
//! PReLU slopes never are.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::nn::Sequential;
use crate::optim::Optimizer;

/// Where the magnitude threshold is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// One threshold over all weight matrices together: layers lose different fractions.
    Global,
    /// Each weight matrix loses the same fraction.
    PerLayer,
}

/// One weight matrix's count of weights, exact zeros, and weights below a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSparsity {
    /// The parameter's name (`layers.{i}.w`).
    pub name: String,
    pub weights: usize,
    pub zeros: usize,
    /// Weights with |w| below the threshold asked for.
    pub below: usize,
}

impl LayerSparsity {
    pub fn below_fraction(&self) -> f64 {
        self.below as f64 / self.weights.max(1) as f64
    }
}

/// Check a target sparsity.
pub fn check_sparsity(sparsity: f64) -> Result<()> {
    if !(0.0..1.0).contains(&sparsity) {
        return Err(Error::config(
            "sparsity",
            format!("{sparsity} is not in [0, 1): it is the fraction of weights set to zero, e.g. 0.9"),
        ));
    }
    Ok(())
}

/// Masks (1 keeps, 0 prunes) that prune exactly ⌊sparsity·n⌋ weights of smallest magnitude:
/// n over all matrices together (`Global`) or per matrix (`PerLayer`). Ties are broken by
/// position, so the count is exact even among equal magnitudes (already-pruned zeros are the
/// smallest of all, so they stay pruned).
pub fn magnitude_masks(weights: &[&[f32]], sparsity: f64, scope: Scope) -> Result<Vec<Vec<f32>>> {
    check_sparsity(sparsity)?;
    let mut masks: Vec<Vec<f32>> = weights.iter().map(|w| vec![1.0; w.len()]).collect();
    let groups: Vec<Vec<usize>> = match scope {
        Scope::Global => vec![(0..weights.len()).collect()],
        Scope::PerLayer => (0..weights.len()).map(|l| vec![l]).collect(),
    };
    for layers in groups {
        let mut order: Vec<(f32, usize, usize)> =
            layers.iter().flat_map(|&l| weights[l].iter().enumerate().map(move |(i, w)| (w.abs(), l, i))).collect();
        let k = (sparsity * order.len() as f64).floor() as usize;
        if k == 0 {
            continue;
        }
        let by_magnitude = |a: &(f32, usize, usize), b: &(f32, usize, usize)| {
            a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
        };
        order.select_nth_unstable_by(k - 1, by_magnitude);
        for &(_, l, i) in &order[..k] {
            masks[l][i] = 0.0;
        }
    }
    Ok(masks)
}

/// Zhu & Gupta's cubic schedule: the sparsity to reach by the end of `epoch` (counted from 1)
/// when pruning from 0 to `target` over epochs `start..=end`: target·(1 − (1 − t)³) with
/// t = (epoch − start + 1)/(end − start + 1); 0 before `start`, `target` from `end` on.
pub fn cubic(target: f64, start: usize, end: usize, epoch: usize) -> f64 {
    if epoch < start {
        return 0.0;
    }
    let t = ((epoch - start + 1) as f64 / (end.saturating_sub(start) + 1) as f64).min(1.0);
    target * (1.0 - (1.0 - t).powi(3))
}

/// Indices of the model's prunable parameters: the weight matrices.
pub fn prunable(model: &Sequential) -> Vec<usize> {
    model.params().iter().enumerate().filter(|(_, p)| p.penalized).map(|(i, _)| i).collect()
}

/// Prune `model` to `sparsity` by magnitude and give `opt` the masks, so the pruned weights
/// stay exactly 0 through further training. Reads the weights back once.
pub fn prune(
    b: &mut dyn Backend,
    model: &Sequential,
    opt: &mut Optimizer,
    sparsity: f64,
    scope: Scope,
) -> Result<Vec<LayerSparsity>> {
    check_sparsity(sparsity)?;
    let indices = prunable(model);
    if indices.is_empty() {
        return Err(Error::config("pruning", "the model has no Dense layers: nothing to prune"));
    }
    let values: Vec<Vec<f32>> = indices.iter().map(|&i| b.read(model.params()[i].value)).collect::<Result<_>>()?;
    let slices: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let masks = magnitude_masks(&slices, sparsity, scope)?;
    for (&i, mask) in indices.iter().zip(&masks) {
        opt.set_mask(b, &model.params()[i], mask)?;
    }
    measure(b, model, 0.0)
}

/// Per weight matrix: weights, exact zeros, and weights with |w| < `threshold` (reads the
/// weights back).
pub fn measure(b: &mut dyn Backend, model: &Sequential, threshold: f32) -> Result<Vec<LayerSparsity>> {
    prunable(model)
        .into_iter()
        .map(|i| {
            let p = &model.params()[i];
            let w = b.read(p.value)?;
            Ok(LayerSparsity {
                name: p.name.clone(),
                weights: w.len(),
                zeros: w.iter().filter(|v| **v == 0.0).count(),
                below: w.iter().filter(|v| v.abs() < threshold).count(),
            })
        })
        .collect()
}

/// The fraction of all weights that are exactly zero.
pub fn total_zero_fraction(layers: &[LayerSparsity]) -> f64 {
    let (zeros, weights) = layers.iter().fold((0, 0), |(z, n), l| (z + l.zeros, n + l.weights));
    zeros as f64 / weights.max(1) as f64
}
