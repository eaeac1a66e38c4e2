//! A progress bar per epoch (indicatif) with live loss, accuracy and samples/s.
//!
//! The rate counts completed work only: steps are submitted faster than the device runs
//! them, so samples over time at submission overstates it (77,733 samples/s on a run that
//! trained at 15,000). Each `on_progress` comes right after a readback that waited for the
//! device, so the samples submitted by then are done.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use wgtrain::train::{Callback, EpochRecord, Metrics};

pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
    start: Instant,
    /// Samples submitted this epoch.
    samples: usize,
    /// (samples, seconds since the epoch began) at the last point all submitted work was done.
    done: Option<(usize, f64)>,
    metrics: Option<Metrics>,
}

impl Progress {
    pub fn new(epochs: usize) -> Self {
        Self { bar: None, epochs, start: Instant::now(), samples: 0, done: None, metrics: None }
    }

    fn message(&self) -> String {
        let rate = match self.done {
            Some((samples, seconds)) if seconds > 0.0 => format!("{:.0}/s", samples as f64 / seconds),
            _ => "…/s".into(),
        };
        match self.metrics {
            Some(m) => format!("loss {:.4} acc {:.4} {rate}", m.loss, m.accuracy),
            None => rate,
        }
    }
}

impl Callback for Progress {
    fn on_epoch_start(&mut self, epoch: usize, batches: usize) {
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            // At most 80 columns: "epoch 10/10 [================] 422/422 5s<12s loss 0.4321 acc 0.8765 12345/s".
            ProgressStyle::with_template("{prefix} [{bar:16}] {pos}/{len} {elapsed}<{eta} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
        (self.start, self.samples, self.done, self.metrics) = (Instant::now(), 0, None, None);
        self.bar = Some(bar);
    }

    fn on_batch_end(&mut self, _batch: usize, rows: usize) {
        self.samples += rows;
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(self.message());
        }
    }

    fn on_progress(&mut self, metrics: Metrics) {
        self.metrics = Some(metrics);
        self.done = Some((self.samples, self.start.elapsed().as_secs_f64()));
    }

    fn on_epoch_end(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let val = match (r.val_loss, r.val_accuracy) {
            (Some(l), Some(a)) => format!(" val_loss {l:.4} val_acc {a:.4}"),
            _ => String::new(),
        };
        outln!(
            "epoch {:>3}/{}: loss {:.4} acc {:.4}{val} lr {:.3e} {:.1}s ({:.0} samples/s)",
            r.epoch, self.epochs, r.loss, r.accuracy, r.lr, r.seconds, r.samples_per_second
        );
    }
}
