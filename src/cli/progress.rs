//! A progress bar per epoch (indicatif) with live loss, accuracy and samples/s.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use wgtrain::train::{Callback, EpochRecord, Metrics};

pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
    start: Instant,
    samples: usize,
    metrics: Option<Metrics>,
}

impl Progress {
    pub fn new(epochs: usize) -> Self {
        Self { bar: None, epochs, start: Instant::now(), samples: 0, metrics: None }
    }

    fn message(&self) -> String {
        let rate = self.samples as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        match self.metrics {
            Some(m) => format!("loss {:.4} acc {:.4} · {rate:.0} samples/s", m.loss, m.accuracy),
            None => format!("{rate:.0} samples/s"),
        }
    }
}

impl Callback for Progress {
    fn on_epoch_start(&mut self, epoch: usize, batches: usize) {
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
        (self.start, self.samples, self.metrics) = (Instant::now(), 0, None);
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
    }

    fn on_epoch_end(&mut self, r: &EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let val = match (r.val_loss, r.val_accuracy) {
            (Some(l), Some(a)) => format!(" val_loss {l:.4} val_acc {a:.4}"),
            _ => String::new(),
        };
        println!(
            "epoch {:>3}/{}: loss {:.4} acc {:.4}{val} lr {:.3e} {:.1}s ({:.0} samples/s)",
            r.epoch, self.epochs, r.loss, r.accuracy, r.lr, r.seconds, r.samples_per_second
        );
    }
}
