//! Stopping a run on Ctrl-C or SIGTERM after the current step: the run's last complete epoch
//! is on disk, so `wgtrain train --resume` continues it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use wgtrain::train::Callback;

/// Ctrl-C and SIGTERM: the first asks the training loop to stop after its current step; a
/// second exits at once.
#[derive(Clone)]
pub struct Signals {
    count: Arc<AtomicUsize>,
}

impl Signals {
    /// No handler: the signals keep their default action (ending the process). For a rank of
    /// an MPI job, where a step waits for every rank: a rank asked to finish its step would
    /// wait for ever for ranks the launcher has already ended, holding the output's lock.
    pub fn none() -> Self {
        Self { count: Arc::new(AtomicUsize::new(0)) }
    }

    /// Install the handler (once per process).
    pub fn install() -> Result<Self> {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        ctrlc::set_handler(move || {
            if seen.fetch_add(1, Ordering::SeqCst) >= 1 {
                eprintln!("\nsecond interrupt: exiting now (the output was left as it was; the last epoch's checkpoint is kept)");
                wgtrain::run::output::abandon_all();
                std::process::exit(130);
            }
            eprintln!("\ninterrupt: finishing the current step (press Ctrl-C again to exit at once)");
        })
        .context("cannot install the Ctrl-C handler")?;
        Ok(Self { count })
    }
}

/// Ctrl-C and SIGTERM for a command with no step to finish (`experiment`, `prune`,
/// `factorize`): stop at once, saying so, with what was being staged removed and every output
/// as it was.
pub fn install_immediate(what: &'static str) -> Result<()> {
    install(format!("interrupted: {what} stopped; nothing was written, and its outputs were left as they were"))
}

/// As `install_immediate`, saying `message` (for a command that keeps work it finished).
pub fn install_immediate_saying(message: &'static str) -> Result<()> {
    install(message.to_string())
}

fn install(message: String) -> Result<()> {
    ctrlc::set_handler(move || {
        eprintln!("\n{message}");
        wgtrain::run::output::abandon_all();
        std::process::exit(130);
    })
    .context("cannot install the Ctrl-C handler")
}

impl Callback for Signals {
    /// On Ctrl-C or SIGTERM, and when the reader of standard output went away.
    fn stop_requested(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0 || super::out::closed()
    }
}
