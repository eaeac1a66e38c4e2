//! Learning-rate schedules. Step-based schedules are pure functions of the step (so a resumed
//! run continues exactly); reduce-on-plateau keeps its small state in `PlateauState`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the learning rate (and for 1cycle, the momentum) moves during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// lr₀ · rate^(step / decay_steps).
    Exponential {
        rate: f32,
        decay_steps: u32,
    },
    /// `values[k]` from step `boundaries[k−1]` on (`values` has one more entry than `boundaries`).
    Piecewise {
        boundaries: Vec<u32>,
        values: Vec<f32>,
    },
    /// Multiply the rate by `factor` when the validation loss has not improved by more than
    /// `min_delta` for `patience` epochs, not below `min_lr`.
    ReduceOnPlateau {
        factor: f32,
        patience: u32,
        min_delta: f32,
        min_lr: f32,
    },
    /// PyTorch's OneCycleLR (Smith 2018), cosine annealing: from max_lr/div_factor up to
    /// max_lr over the first pct_start of `total_steps`, then down to
    /// max_lr/(div_factor·final_div_factor); momentum cycles the other way between
    /// max_momentum and base_momentum.
    OneCycle {
        max_lr: f32,
        total_steps: u32,
        pct_start: f32,
        div_factor: f32,
        final_div_factor: f32,
        base_momentum: f32,
        max_momentum: f32,
    },
}

/// Reduce-on-plateau's memory between epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    pub scale: f32,
    pub best: f32,
    pub wait: u32,
}

impl Default for PlateauState {
    fn default() -> Self {
        Self { scale: 1.0, best: f32::MAX, wait: 0 }
    }
}

fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
}

/// Finite and above zero: what a learning rate must be.
fn positive(v: f32) -> bool {
    v.is_finite() && v > 0.0
}

impl Schedule {
    /// PyTorch's OneCycleLR defaults around `max_lr`.
    pub fn one_cycle(max_lr: f32, total_steps: u32) -> Self {
        Self::OneCycle {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }

    /// Reject schedules that cannot run.
    pub fn validate(&self) -> Result<()> {
        let bad = |problem: String| Err(Error::config("schedule", problem));
        match self {
            Self::Exponential { rate, decay_steps } if !positive(*rate) || *decay_steps == 0 => {
                bad(format!("exponential needs rate > 0 and decay_steps ≥ 1, got {rate} and {decay_steps}"))
            }
            Self::Piecewise { boundaries, values } if values.len() != boundaries.len() + 1 => bad(format!(
                "piecewise needs one more value than boundaries, got {} and {}",
                values.len(),
                boundaries.len()
            )),
            Self::Piecewise { boundaries, .. } if boundaries.windows(2).any(|w| w[0] >= w[1]) => {
                bad("piecewise boundaries must increase".into())
            }
            Self::Piecewise { values, .. } if values.iter().any(|v| !positive(*v)) => bad(format!(
                "piecewise values are learning rates and must each be finite and > 0, got {values:?}"
            )),
            Self::ReduceOnPlateau { factor, .. } if !(*factor > 0.0 && *factor < 1.0) => {
                bad(format!("reduce-on-plateau factor {factor} is not in (0, 1)"))
            }
            Self::ReduceOnPlateau { min_delta, min_lr, .. }
                if !(min_delta.is_finite() && *min_delta >= 0.0 && min_lr.is_finite() && *min_lr >= 0.0) =>
            {
                bad(format!("reduce-on-plateau needs min_delta ≥ 0 and min_lr ≥ 0, got {min_delta} and {min_lr}"))
            }
            Self::OneCycle { max_lr, div_factor, final_div_factor, .. }
                if !(positive(*max_lr) && positive(*div_factor) && positive(*final_div_factor)) =>
            {
                bad(format!(
                    "1cycle needs max_lr, div_factor and final_div_factor finite and > 0, got {max_lr}, {div_factor} \
                     and {final_div_factor}"
                ))
            }
            Self::OneCycle { base_momentum, max_momentum, .. }
                if !((0.0..1.0).contains(base_momentum) && (0.0..1.0).contains(max_momentum)) =>
            {
                bad(format!("1cycle momenta must be in [0, 1), got {base_momentum} and {max_momentum}"))
            }
            Self::OneCycle { total_steps, pct_start, .. }
                if *total_steps < 2 || !(*pct_start > 0.0 && *pct_start < 1.0) =>
            {
                bad(format!("1cycle needs total_steps ≥ 2 and pct_start in (0, 1), got {total_steps} and {pct_start}"))
            }
            _ => Ok(()),
        }
    }

    /// Refuse a schedule whose learning rate, from base rate `lr`, leaves the range f32 can
    /// hold (reaches 0 or infinity) before step `steps`, the run's last: the run would stop
    /// there with nothing written.
    pub fn check_lasts(&self, lr: f32, steps: u32) -> Result<()> {
        let Self::Exponential { rate, decay_steps } = self else { return Ok(()) };
        let last = steps.saturating_sub(1);
        let end = self.lr(lr, last, &PlateauState::default());
        if end.is_finite() && end > 0.0 {
            return Ok(());
        }
        // The first step where it does, to say when.
        let (mut lo, mut hi) = (0u32, last);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let v = self.lr(lr, mid, &PlateauState::default());
            if v.is_finite() && v > 0.0 { lo = mid + 1 } else { hi = mid }
        }
        Err(Error::config(
            "schedule",
            format!(
                "the exponential schedule (× {rate} every {decay_steps} steps) takes the learning rate {lr} to {end} at \
                 step {lo} of the run's {steps}; {}",
                if *rate > 1.0 {
                    "a rate above 1 grows the learning rate: give a --decay-rate below 1"
                } else {
                    "decay more slowly (--decay-rate closer to 1, or a larger --decay-epochs) or train fewer epochs"
                }
            ),
        ))
    }

    /// The learning rate at `step` (0-based) for base rate `lr`.
    pub fn lr(&self, lr: f32, step: u32, plateau: &PlateauState) -> f32 {
        match self {
            Self::Constant => lr,
            Self::Exponential { rate, decay_steps } => lr * rate.powf(step as f32 / *decay_steps as f32),
            Self::Piecewise { boundaries, values } => values[boundaries.iter().take_while(|&&b| step >= b).count()],
            Self::ReduceOnPlateau { min_lr, .. } => (lr * plateau.scale).max(*min_lr),
            Self::OneCycle { max_lr, div_factor, final_div_factor, .. } => {
                let initial = *max_lr as f64 / *div_factor as f64;
                let min = initial / *final_div_factor as f64;
                self.one_cycle_phase(step, (initial, *max_lr as f64), (*max_lr as f64, min)) as f32
            }
        }
    }

    /// The momentum (β1) at `step` when the schedule cycles it, else `None`.
    pub fn momentum(&self, step: u32) -> Option<f32> {
        match self {
            Self::OneCycle { base_momentum, max_momentum, .. } => {
                let (base, max) = (*base_momentum as f64, *max_momentum as f64);
                Some(self.one_cycle_phase(step, (max, base), (base, max)) as f32)
            }
            _ => None,
        }
    }

    /// OneCycleLR's two phases: `up` = (start, end) over steps 0..=pct_start·total − 1,
    /// `down` = (start, end) from there to total − 1.
    fn one_cycle_phase(&self, step: u32, up: (f64, f64), down: (f64, f64)) -> f64 {
        let Self::OneCycle { total_steps, pct_start, .. } = self else { unreachable!("called for 1cycle only") };
        let up_end = (*pct_start as f64 * *total_steps as f64) - 1.0;
        let down_end = *total_steps as f64 - 1.0;
        let s = step as f64;
        if s <= up_end {
            cos_anneal(up.0, up.1, s / up_end)
        } else {
            cos_anneal(down.0, down.1, ((s - up_end) / (down_end - up_end)).min(1.0))
        }
    }

    /// Feed reduce-on-plateau the epoch's validation loss (other schedules ignore it).
    pub fn observe(&self, val_loss: f32, state: &mut PlateauState) {
        if let Self::ReduceOnPlateau { factor, patience, min_delta, .. } = self {
            if val_loss < state.best - min_delta {
                state.best = val_loss;
                state.wait = 0;
            } else {
                state.wait += 1;
                if state.wait > *patience {
                    state.scale *= factor;
                    state.wait = 0;
                }
            }
        }
    }
}
