//! Replicas of one data-parallel run must run the same thing: the same resolved config, the
//! same data, the same build. Each replica compares its own description with replica 0's
//! before the first step; any difference stops every replica with the difference named
//! (rather than a run whose replicas silently train different models, or wait for ever).

use super::config::RunConfig;
use super::dataset::Splits;
use crate::error::{Error, Result};
use crate::train::Replicas;

/// What must be equal on every replica, one fact a line.
fn description(cfg: &RunConfig, splits: &Splits) -> String {
    let digest = |d: &crate::data::Dataset| {
        let labels: u64 = d.labels.iter().enumerate().map(|(i, &l)| (i as u64 + 1) * (l as u64 + 1)).sum();
        format!("{} rows of {} features, {} classes, label digest {labels}", d.rows, d.cols, d.classes)
    };
    let mut text = format!("wgtrain {}\n{}", env!("CARGO_PKG_VERSION"), cfg.to_toml());
    text += &format!("train data: {}\n", digest(&splits.train));
    if let Some(v) = &splits.val {
        text += &format!("validation data: {}\n", digest(v));
    }
    text += &format!("test data: {}\n", digest(&splits.test));
    text
}

/// Check that every replica runs what replica 0 runs; every replica returns the same verdict.
pub(super) fn same_run(r: &mut dyn Replicas, cfg: &RunConfig, splits: &Splits) -> Result<()> {
    let mine = description(cfg, splits);
    let mut first = mine.clone().into_bytes();
    r.broadcast_bytes(&mut first)?;
    let theirs = String::from_utf8_lossy(&first).into_owned();
    let differs = theirs != mine;
    let mut count = [if differs { 1.0 } else { 0.0 }];
    r.all_reduce_sum(&mut count)?;
    if count[0] == 0.0 {
        return Ok(());
    }
    let rank = r.rank();
    if !differs {
        return Err(Error::msg(format!(
            "{} replica(s) run something other than replica 0 (their errors say what); every rank must be given \
             the same command, config, data and wgtrain build",
            count[0]
        )));
    }
    let (here, there) = mine
        .lines()
        .zip(theirs.lines())
        .find(|(a, b)| a != b)
        .map_or(("(more lines)".to_string(), "(fewer lines)".to_string()), |(a, b)| (a.to_string(), b.to_string()));
    Err(Error::msg(format!(
        "replica {rank} runs something other than replica 0: `{here}` here, `{there}` on replica 0; every rank \
         must be given the same command, config, data and wgtrain build"
    )))
}
