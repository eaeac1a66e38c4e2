//! What an activation's smoothness is said to buy gradient descent, measured: over the first
//! steps of training, how much the global gradient norm and the mini-batch loss change from
//! one step to the next. A kink at zero (ReLU) flips units between slope 0 and 1 from one
//! batch to the next; a smooth activation (ELU, α = 1) changes its slope gradually, so the
//! gradient, and with it the step, should change less abruptly. Both runs see the same
//! batches (the seed fixes the order), so the batches' own noise enters both alike.

use crate::backend::Backend;
use crate::error::Result;
use crate::infer::Metrics;
use crate::nn::Sequential;
use crate::optim::Optimizer;
use crate::train::{epoch_order, TrainConfig, Trainer};

use super::lab::{Data, Variant};

/// The mean step-to-step change of a run's first steps.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Smoothness {
    /// Mean |ln(‖g_t‖ / ‖g_{t−1}‖)| of the global gradient norm.
    pub gradient_change: f64,
    /// Mean |ln L_{t+1} − 2 ln L_t + ln L_{t−1}| of the mini-batch loss: its roughness about
    /// its own trend (a first difference would also count how fast the loss falls).
    pub loss_change: f64,
    pub steps: usize,
    /// The gradient norm at each step (for the report's figure).
    pub gradient_norms: Vec<f32>,
}

/// Mean |ln(x_t / x_{t−1})| over consecutive positive values (NaN with fewer than two).
pub fn mean_log_change(values: &[f32]) -> f64 {
    let changes: Vec<f64> = values
        .windows(2)
        .filter(|w| w[0] > 0.0 && w[1] > 0.0 && w[0].is_finite() && w[1].is_finite())
        .map(|w| (w[1] as f64 / w[0] as f64).ln().abs())
        .collect();
    if changes.is_empty() { f64::NAN } else { changes.iter().sum::<f64>() / changes.len() as f64 }
}

/// Mean |ln x_{t+1} − 2 ln x_t + ln x_{t−1}| over consecutive positive values (NaN with fewer
/// than three).
pub fn mean_log_curvature(values: &[f32]) -> f64 {
    let curv: Vec<f64> = values
        .windows(3)
        .filter(|w| w.iter().all(|v| *v > 0.0 && v.is_finite()))
        .map(|w| ((w[2] as f64).ln() - 2.0 * (w[1] as f64).ln() + (w[0] as f64).ln()).abs())
        .collect();
    if curv.is_empty() { f64::NAN } else { curv.iter().sum::<f64>() / curv.len() as f64 }
}

/// Train `v` from `seed` for `steps` steps (at most one epoch), reading the gradient norm and
/// the loss after each.
pub fn trace(b: &mut dyn Backend, data: &Data, v: &Variant, seed: u64, steps: usize) -> Result<Smoothness> {
    let mut model = Sequential::new(b, &v.spec, seed)?;
    let mut opt = Optimizer::new(b, v.opt.clone())?;
    let batch = v.batch_size;
    let mut trainer = Trainer::new(
        b,
        TrainConfig { epochs: 1, batch_size: batch, seed, keep_gradients: true, ..TrainConfig::default() },
    )?;
    trainer.begin(b, &mut model, &mut opt, &data.train)?;
    let rows = data.train.rows;
    b.write_u32(data.train.order, &epoch_order(seed, 0, rows))?;
    let stats = trainer.running_metrics_tensor();
    let norm = b.zeros(1, 1)?;
    let (mut norms, mut losses) = (Vec::new(), Vec::new());
    for k in 0..steps.min(rows / batch) {
        b.fill(stats, 0.0)?;
        trainer.step(b, &mut model, &mut opt, &data.train, k * batch, batch)?;
        for (i, p) in model.params().iter().enumerate() {
            b.sum_squares(p.grad, norm, i > 0)?;
        }
        norms.push(b.read(norm)?[0].sqrt());
        losses.push(Metrics::from_stats(&b.read(stats)?).loss);
    }
    b.free(norm)?;
    Ok(Smoothness {
        gradient_change: mean_log_change(&norms),
        loss_change: mean_log_curvature(&losses),
        steps: norms.len(),
        gradient_norms: norms,
    })
}
