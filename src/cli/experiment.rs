//! `wgtrain experiment`: the seed's seven questions and the deep-net exercise, each answered by
//! measurement in a report of its own (the README's "Experiments" section lists what each asks).
//! Under mpirun the runs of each experiment are spread over the ranks; rank 0 prints and writes.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use wgtrain::experiment::{self, Ctx, Pool, Scale};
use wgtrain::train::Replicas;
use wgtrain::Backend;

/// What an experiment command asked for.
pub struct Request<'a> {
    pub name: &'a str,
    pub scale: Scale,
    pub output: &'a Path,
    pub data_dir: &'a str,
    pub dataset: &'a str,
}

/// Run experiment `name` (or `all`) with outputs under `output` (`output/NAME` for `all`),
/// printing each answer as it comes; `replicas` spread the runs over an MPI job.
pub fn run(req: Request, b: &mut dyn Backend, mut replicas: Option<Box<dyn Replicas>>) -> Result<()> {
    let names = experiment::named(req.name)?;
    let leader = replicas.as_ref().is_none_or(|r| r.rank() == 0);
    // Under mpirun the launcher ends every rank on a signal.
    if replicas.is_none() {
        super::signals::install_immediate("the experiment")?;
    }
    let say = |line: String| {
        if leader {
            eprintln!("{line}");
        }
    };
    let start = Instant::now();
    for n in &names {
        let out = if req.name == "all" { req.output.join(n) } else { req.output.to_path_buf() };
        let begun = Instant::now();
        say(format!("== experiment {n} → {}", out.display()));
        let pool = match replicas.as_deref_mut() {
            Some(r) => {
                let what = format!("experiment {n}\n{:?}\ndataset {} in {}", req.scale, req.dataset, req.data_dir);
                Pool::spread(r, &what)?
            }
            None => Pool::local(),
        };
        let fetch = Box::new(super::data::reporter());
        let mut ctx = Ctx {
            b: &mut *b,
            scale: req.scale,
            out,
            data_dir: req.data_dir.into(),
            dataset: req.dataset.into(),
            fetch,
            pool,
        };
        let (report, path) = experiment::run(n, &mut ctx)?;
        if leader {
            outln!(
                "{}\n\n{}\n(wrote {} in {:.0} s)\n",
                n,
                report.answer,
                path.display(),
                begun.elapsed().as_secs_f64()
            );
        }
    }
    if names.len() > 1 && leader {
        outln!("{} experiments in {:.0} s", names.len(), start.elapsed().as_secs_f64());
    }
    Ok(())
}
