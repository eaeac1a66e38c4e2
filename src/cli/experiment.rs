//! `wgtrain experiment`: the seed's seven questions and the deep-net exercise, each answered by
//! measurement in a report of its own (the README's "Experiments" section lists what each asks).
//! Under mpirun the runs of each experiment are spread over the ranks; rank 0 prints and writes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use wgtrain::experiment::{self, ledger::Ledger, Ctx, Pool, Scale, Start, Sweep};
use wgtrain::train::Replicas;
use wgtrain::Backend;

/// What the command line asked for.
pub struct Asked {
    pub name: String,
    pub dir: Option<PathBuf>,
    pub resume: bool,
    pub quick: bool,
    pub seeds: Option<usize>,
    pub epochs: Option<usize>,
    pub train_rows: Option<usize>,
    pub output: Option<PathBuf>,
    pub dataset: String,
    pub data_dir: String,
}

/// One experiment command (`NAME` or `all`) to run.
pub struct Request {
    pub name: String,
    /// Each experiment's scale (one for `NAME`, eight for `all`).
    pub scales: Vec<Scale>,
    pub output: PathBuf,
    pub data_dir: String,
    pub dataset: String,
    pub start: Start,
}

impl Asked {
    /// The commands asked for: one, or for `report` of the output of `all`, one per
    /// experiment found there.
    pub fn jobs(self) -> Result<Vec<Request>> {
        if self.name != "report" {
            if let Some(dir) = &self.dir {
                bail!("only `experiment report DIR` takes a directory (got {}); an experiment's output is set with -o DIR", dir.display());
            }
            let scales = experiment::named(&self.name)?
                .iter()
                .map(|n| Scale::given(n, self.quick, self.seeds, self.epochs, self.train_rows))
                .collect::<wgtrain::error::Result<Vec<_>>>()?;
            let output = self.output.unwrap_or_else(|| {
                if self.name == "all" { "experiments".into() } else { PathBuf::from("experiments").join(&self.name) }
            });
            let start = if self.resume { Start::Resume } else { Start::Fresh };
            return Ok(vec![Request { name: self.name, scales, output, data_dir: self.data_dir, dataset: self.dataset, start }]);
        }
        let Some(dir) = self.dir else { bail!("`experiment report DIR` needs the output directory of an experiment (or of `all`)") };
        if self.resume || self.quick || self.seeds.is_some() || self.epochs.is_some() || self.train_rows.is_some() || self.output.is_some() {
            bail!("`experiment report` rebuilds the report with the settings {} records; it takes no --resume, scale or -o options", dir.join("results.json").display());
        }
        let report = |dir: &Path| -> Result<Request> {
            let r = experiment::recorded(dir)?;
            Ok(Request { name: r.name.into(), scales: vec![r.scale], output: dir.into(), data_dir: self.data_dir.clone(), dataset: r.dataset, start: Start::Rebuild })
        };
        if dir.join("results.json").exists() {
            return Ok(vec![report(&dir)?]);
        }
        // The output of `all`: one directory per experiment.
        let found: Vec<Request> = experiment::EXPERIMENTS
            .iter()
            .map(|(name, _)| dir.join(name))
            .filter(|d| d.join("results.json").exists())
            .map(|d| report(&d))
            .collect::<Result<_>>()?;
        if found.is_empty() {
            bail!("{} holds no experiment's results.json (nor does any experiment's directory in it)", dir.display());
        }
        Ok(found)
    }
}

/// Run experiment `name` (or `all`) with outputs under `output` (`output/NAME` for `all`),
/// printing each answer as it comes; `replicas` spread the runs over an MPI job.
pub fn run(req: Request, b: &mut dyn Backend, replicas: &mut Option<Box<dyn Replicas>>) -> Result<()> {
    let names = experiment::named(&req.name)?;
    if req.start == Start::Rebuild && replicas.is_some() {
        bail!("`experiment report` trains nothing, so it has nothing to spread over ranks: run it without mpirun");
    }
    let leader = replicas.as_ref().is_none_or(|r| r.rank() == 0);
    // Under mpirun the launcher ends every rank on a signal.
    if replicas.is_none() {
        let message = match req.start {
            Start::Rebuild => "interrupted: the report was not rebuilt; the output was left as it was",
            _ => "interrupted: the experiment stopped; its output was left as it was, and the runs it finished are kept: the same command with --resume continues",
        };
        super::signals::install_immediate_saying(message)?;
    }
    let say = |line: String| {
        if leader {
            eprintln!("{line}");
        }
    };
    let start = Instant::now();
    for (n, &scale) in names.iter().zip(&req.scales) {
        let out = if req.name == "all" { req.output.join(n) } else { req.output.clone() };
        let begun = Instant::now();
        let verb = if req.start == Start::Rebuild { "rebuilding the report of" } else { "experiment" };
        say(format!("== {verb} {n} → {}", out.display()));
        let pool = match replicas.as_deref_mut() {
            Some(r) => {
                let what = format!("experiment {n}\n{:?}\ndataset {} in {}\n{:?}", scale, req.dataset, req.data_dir, req.start);
                Pool::spread(r, &what)?
            }
            None => Pool::local(),
        };
        let fetch = Box::new(super::data::reporter());
        let mut ctx = Ctx {
            b: &mut *b,
            scale,
            out,
            data_dir: req.data_dir.clone(),
            dataset: req.dataset.clone(),
            fetch,
            pool,
            sweep: Sweep::new(req.start),
        };
        let (report, path) = experiment::run(n, &mut ctx)?;
        if leader {
            let ledger: &Ledger = ctx.sweep.ledger();
            outln!(
                "{}\n\n{}\n(wrote {} in {:.0} s; {} unit(s) measured, {} taken from the record)\n",
                n,
                report.answer,
                path.display(),
                begun.elapsed().as_secs_f64(),
                ledger.measured(),
                ledger.reused()
            );
        }
    }
    if names.len() > 1 && leader {
        outln!("{} experiments in {:.0} s", names.len(), start.elapsed().as_secs_f64());
    }
    Ok(())
}
