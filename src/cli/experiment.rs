//! `wgtrain experiment`: the seed's seven questions and the deep-net exercise, each answered by
//! measurement in a report of its own (the README's "Experiments" section lists what each asks).

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use wgtrain::experiment::{self, Ctx, Scale};
use wgtrain::Backend;

/// Run experiment `name` (or `all`) with outputs under `output` (`output/NAME` for `all`),
/// printing each answer as it comes.
pub fn run(name: &str, scale: Scale, output: &Path, data_dir: &str, dataset: &str, b: &mut dyn Backend) -> Result<()> {
    let names = experiment::named(name)?;
    let start = Instant::now();
    for n in &names {
        let out = if name == "all" { output.join(n) } else { output.to_path_buf() };
        let begun = Instant::now();
        eprintln!("== experiment {n} → {}", out.display());
        let fetch = Box::new(super::data::reporter());
        let mut ctx = Ctx { b: &mut *b, scale, out, data_dir: data_dir.into(), dataset: dataset.into(), fetch };
        let (report, path) = experiment::run(n, &mut ctx)?;
        println!("{}\n\n{}\n(wrote {} in {:.0} s)\n", n, report.answer, path.display(), begun.elapsed().as_secs_f64());
    }
    if names.len() > 1 {
        println!("{} experiments in {:.0} s", names.len(), start.elapsed().as_secs_f64());
    }
    Ok(())
}
