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

/// Check that every replica runs what replica 0 runs. Every replica returns the same verdict
/// and, on a difference, the same sentence naming the first differing replica and line (so
/// whichever replica ends the job first, the message says what differs).
pub(super) fn same_run(r: &mut dyn Replicas, cfg: &RunConfig, splits: &Splits) -> Result<()> {
    let mine = description(cfg, splits);
    let mut first = mine.clone().into_bytes();
    r.broadcast_bytes(0, &mut first)?;
    let zero = String::from_utf8_lossy(&first).into_owned();
    // Which replicas differ from replica 0: every replica learns the whole list.
    let mut differ = vec![0.0f32; r.size()];
    differ[r.rank()] = if zero != mine { 1.0 } else { 0.0 };
    r.all_reduce_sum(&mut differ)?;
    let Some(other) = differ.iter().position(|d| *d > 0.0) else { return Ok(()) };
    let mut theirs = mine.into_bytes();
    r.broadcast_bytes(other, &mut theirs)?;
    let theirs = String::from_utf8_lossy(&theirs).into_owned();
    let (there, here) = theirs
        .lines()
        .zip(zero.lines())
        .find(|(a, b)| a != b)
        .map_or(("(more lines)".to_string(), "(fewer lines)".to_string()), |(a, b)| (a.to_string(), b.to_string()));
    let count = differ.iter().filter(|d| **d > 0.0).count();
    Err(Error::msg(format!(
        "replica {other} runs something other than replica 0: `{there}` on replica {other}, `{here}` on replica 0 \
         ({count} replica(s) differ); every rank must be given the same command, config, data and wgtrain build"
    )))
}
