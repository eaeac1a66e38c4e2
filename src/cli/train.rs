//! `wgtrain train`: the library's `Run`, with what it reports printed (or, with `--json`, only
//! the metrics at the end) and Ctrl-C asking it to stop after the current step.

use std::path::Path;

use anyhow::Result;
use wgtrain::run::{Event, Observer, Outcome, Run, RunConfig, Summary, OUTPUT_FILES};
use wgtrain::train::{Callback, EpochRecord, Metrics};
use wgtrain::Backend;

use super::progress::Progress;
use super::signals::Signals;

/// What a person sees of a run: the resolved config, the model, progress bars, pruning and
/// rate cuts; and Ctrl-C.
struct Printed {
    device: String,
    progress: Option<Progress>,
    signals: Signals,
    fetch: Box<dyn FnMut(wgtrain::data::locate::Fetching)>,
}

impl Callback for Printed {
    fn on_epoch_start(&mut self, epoch: usize, batches: usize) {
        self.progress.iter_mut().for_each(|p| p.on_epoch_start(epoch, batches));
    }
    fn on_batch_end(&mut self, batch: usize, rows: usize) {
        self.progress.iter_mut().for_each(|p| p.on_batch_end(batch, rows));
    }
    fn on_progress(&mut self, metrics: Metrics) {
        self.progress.iter_mut().for_each(|p| p.on_progress(metrics));
    }
    fn on_epoch_end(&mut self, record: &EpochRecord) {
        self.progress.iter_mut().for_each(|p| p.on_epoch_end(record));
    }
    fn stop_requested(&self) -> bool {
        self.signals.stop_requested()
    }
}

impl Observer for Printed {
    fn event(&mut self, event: Event) {
        if let Event::Fetching(f) = event {
            return (self.fetch)(f);
        }
        if self.progress.is_none() {
            return;
        }
        match event {
            Event::Resolved { config, data } => {
                outln!("# wgtrain train on {}\n{}", self.device, config.to_toml());
                outln!(
                    "# data: {} train, {} validation, {} test samples of {} features, {} classes",
                    data.train, data.validation, data.test, data.features, data.classes
                );
            }
            Event::Resuming { epoch, epochs } if epoch >= epochs => eprintln!(
                "note: the run has trained {epoch} epochs already and --epochs {epochs} asks for no more: it is written \
                 as it stands (give --epochs above {epoch} to train it further)"
            ),
            Event::Resuming { epoch, epochs } => outln!("# resuming after epoch {epoch} of {epochs}"),
            Event::Model(spec) => outln!("# model\n{}", Summary::of_spec(spec)),
            Event::Pruned { epoch, zeros, target } => {
                outln!(
                    "# epoch {epoch} starts pruned to {:.1}% zero weights (target {:.1}%)",
                    100.0 * zeros,
                    100.0 * target
                )
            }
            Event::LrCut { epoch, loss } => {
                outln!("# epoch {epoch} diverged (loss {loss:.4e}); back to epoch {}, learning rates ÷10", epoch - 1)
            }
            Event::Fetching(_) => {}
        }
    }
}

/// Run `cfg` (continuing `resume` when given) on the backend `open` gives. The data is found
/// (and fetched) first, so a run that cannot start says so before a device is opened or tuned.
/// Under an MPI launcher, `job` makes this process one replica of the run; only rank 0 prints.
pub fn run(
    cfg: RunConfig,
    open: impl FnOnce() -> Result<Box<dyn Backend>>,
    json_out: bool,
    resume: Option<&Path>,
    job: Option<&super::dist::Job>,
) -> Result<()> {
    let epochs = cfg.epochs;
    let prints = job.is_none_or(|j| j.rank() == 0);
    let mut observer = Printed {
        device: String::new(),
        progress: (!json_out && prints).then(|| Progress::new(epochs)),
        // Under mpirun the launcher ends every rank on a signal; the last epoch is on disk.
        signals: if job.is_some() { Signals::none() } else { Signals::install()? },
        fetch: Box::new(super::data::reporter()),
    };
    let mut run = match resume {
        Some(checkpoint) => Run::new(cfg).resuming(checkpoint),
        None => Run::new(cfg),
    };
    if let Some(job) = job {
        run = run.replicated(job.replicas()?);
    }
    let prepared = run.prepare(&mut observer)?;
    let mut b = open()?;
    observer.device = b.describe();
    let outcome = prepared.train(b.as_mut(), &mut observer).map_err(|e| match e {
        wgtrain::Error::RunInterrupted { ref resume, .. } => {
            anyhow::anyhow!("{e}; continue it with: wgtrain train --resume {resume}")
        }
        e => e.into(),
    })?;
    match (prints, json_out) {
        (false, _) => {}
        (true, true) => outln!("{}", serde_json::to_string_pretty(&outcome.metrics)?),
        (true, false) => print_outcome(&outcome),
    }
    Ok(())
}

fn print_outcome(o: &Outcome) {
    if let Some(s) = o.early_stop {
        let restored = if s.restored {
            format!("; restored the weights of epoch {} (val_loss {:.4})", s.best_epoch, s.best_val_loss)
        } else {
            String::new()
        };
        outln!(
            "\nearly stopping: no better validation loss for {} epochs after epoch {}; stopped after epoch {}{restored}",
            s.patience, s.best_epoch, s.epoch
        );
    }
    outln!(
        "\ntest: loss {:.4} accuracy {:.2}% · {} epochs in {:.1}s",
        o.test.loss,
        100.0 * o.test.accuracy,
        o.history.epochs.len(),
        o.wall_seconds
    );
    if let Some(t) = o.history.throughput() {
        let after = t.after_first_epoch_samples_per_second.map_or(String::new(), |r| format!(", {r:.0} after it"));
        outln!(
            "training: {:.0} samples/s ({} samples in {:.1}s; first epoch {:.0} samples/s{after})",
            t.samples_per_second, t.samples, t.seconds, t.first_epoch_samples_per_second
        );
    }
    outln!("wrote {}/{{{OUTPUT_FILES}}}", o.output.display());
}
