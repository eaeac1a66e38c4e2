//! The learning-rate range test (Smith 2015; fastai's `lr_find`, Lightning's `lr_finder`):
//! train from the initial weights while the rate grows exponentially from `start` to `end`,
//! one step per rate, and read the loss after each. The loss falls where the rate is useful
//! and climbs where it is too high; the suggested rate is where the smoothed loss falls
//! fastest (Lightning's suggestion), and the rate at its minimum over ten is given beside it
//! (fastai's classic rule, often used as 1cycle's peak).

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::data::DeviceData;
use crate::error::{Error, Result};
use crate::infer::Metrics;
use crate::nn::Sequential;
use crate::optim::{Optimizer, Schedule};

use super::{epoch_order, TrainConfig, Trainer};

/// The rates a range test sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub start: f32,
    pub end: f32,
    /// Steps (one rate each); an epoch's steps is the usual choice.
    pub steps: usize,
}

impl Range {
    /// fastai's and Lightning's default rates, 1e-7 to 10, over `steps` steps.
    pub fn over(steps: usize) -> Self {
        Self { start: 1e-7, end: 10.0, steps }
    }

    pub fn check(&self) -> Result<()> {
        if !(self.start > 0.0 && self.end > self.start && self.end.is_finite()) {
            return Err(Error::msg(format!(
                "the rate range must be 0 < start < end, got {} to {}; e.g. --start-lr 1e-7 --end-lr 10",
                self.start, self.end
            )));
        }
        if self.steps < 20 {
            return Err(Error::msg(format!(
                "a range test needs at least 20 steps to show a curve, got {}; use more data or a smaller batch",
                self.steps
            )));
        }
        Ok(())
    }

    /// The rate of step `t`.
    pub fn rate(&self, t: usize) -> f32 {
        let f = t as f64 / (self.steps - 1).max(1) as f64;
        (self.start as f64 * (self.end as f64 / self.start as f64).powf(f)) as f32
    }
}

/// Smoothing of the loss: an exponential moving average with bias correction (fastai's β).
const BETA: f64 = 0.98;
/// The test stops once the smoothed loss exceeds this many times its minimum (fastai's rule).
const DIVERGED: f32 = 4.0;
/// Points left out at the start and the end when looking for the steepest fall (Lightning's
/// `skip_begin`, `skip_end`): the first are the moving average's warm-up.
const SKIP_BEGIN: usize = 10;
const SKIP_END: usize = 1;

/// What a range test measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Curve {
    pub range: Range,
    pub rates: Vec<f32>,
    /// The mini-batch loss after each step.
    pub losses: Vec<f32>,
    pub smoothed: Vec<f32>,
    /// Where the smoothed loss falls fastest (per unit of ln rate), before its minimum.
    pub steepest: Option<f32>,
    /// The rate at the smoothed loss's minimum, divided by 10.
    pub min_over_ten: Option<f32>,
    /// Why the test stopped before its last step, if it did.
    pub stopped: Option<String>,
}

impl Curve {
    /// The suggested rate: the steepest fall, else the minimum over ten.
    pub fn suggestion(&self) -> Option<f32> {
        self.steepest.or(self.min_over_ten)
    }

    /// The curve as CSV: step, rate, loss, smoothed loss.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("step,lr,loss,smoothed_loss\n");
        for (i, ((r, l), m)) in self.rates.iter().zip(&self.losses).zip(&self.smoothed).enumerate() {
            s += &format!("{},{r},{l},{m}\n", i + 1);
        }
        s
    }
}

/// Run the range test on `model` (which it trains: rebuild it afterwards) with `opt`'s rule,
/// over `train` in batches of `batch` rows shuffled by `seed`.
pub fn find(
    b: &mut dyn Backend,
    model: &mut Sequential,
    opt: &mut Optimizer,
    train: &DeviceData,
    batch: usize,
    seed: u64,
    range: Range,
) -> Result<Curve> {
    range.check()?;
    let per_epoch = train.rows / batch;
    if per_epoch == 0 {
        return Err(Error::msg(format!("the training set has {} rows, fewer than one batch of {batch}", train.rows)));
    }
    // The test sets the rate itself, step by step.
    opt.config.schedule = Schedule::Constant;
    let mut trainer = Trainer::new(b, TrainConfig { epochs: 1, batch_size: batch, seed, ..TrainConfig::default() })?;
    trainer.begin(b, model, opt, train)?;
    let stats = trainer.running_metrics_tensor();
    let mut curve = Curve { range, rates: Vec::new(), losses: Vec::new(), smoothed: Vec::new(), steepest: None, min_over_ten: None, stopped: None };
    let (mut average, mut best) = (0.0f64, f32::INFINITY);
    for t in 0..range.steps {
        if t % per_epoch == 0 {
            b.write_u32(train.order, &epoch_order(seed, t / per_epoch, train.rows))?;
        }
        let lr = range.rate(t);
        opt.config.lr = lr;
        b.fill(stats, 0.0)?;
        trainer.step(b, model, opt, train, (t % per_epoch) * batch, batch)?;
        let loss = Metrics::from_stats(&b.read(stats)?).loss;
        if !loss.is_finite() {
            curve.stopped = Some(format!("the loss became {loss} at rate {lr:.3e}"));
            break;
        }
        average = BETA * average + (1.0 - BETA) * loss as f64;
        let smoothed = (average / (1.0 - BETA.powi(t as i32 + 1))) as f32;
        curve.rates.push(lr);
        curve.losses.push(loss);
        curve.smoothed.push(smoothed);
        best = best.min(smoothed);
        if smoothed > DIVERGED * best {
            curve.stopped = Some(format!("the smoothed loss passed {DIVERGED}× its minimum at rate {lr:.3e}"));
            break;
        }
    }
    (curve.steepest, curve.min_over_ten) = suggest(&curve.rates, &curve.smoothed);
    Ok(curve)
}

/// The steepest fall of `smoothed` against ln(rate) before its minimum, and the rate at the
/// minimum over ten.
pub fn suggest(rates: &[f32], smoothed: &[f32]) -> (Option<f32>, Option<f32>) {
    let n = smoothed.len();
    let Some(min) = (0..n).min_by(|&a, &b| smoothed[a].total_cmp(&smoothed[b])) else { return (None, None) };
    let min_over_ten = Some(rates[min] / 10.0);
    let (lo, hi) = (SKIP_BEGIN.max(1), min.min(n.saturating_sub(SKIP_END + 1)));
    let slope = |i: usize| {
        let dx = (rates[i + 1] as f64).ln() - (rates[i - 1] as f64).ln();
        (smoothed[i + 1] as f64 - smoothed[i - 1] as f64) / dx
    };
    let steepest = (lo..hi).filter(|&i| slope(i) < 0.0).min_by(|&a, &b| slope(a).total_cmp(&slope(b))).map(|i| rates[i]);
    (steepest, min_over_ten)
}
