//! Replicas of one data-parallel run must run the same thing: the same resolved config, the
//! same data, the same build. Each replica compares its own description with replica 0's
//! before the first step; any difference stops every replica with the difference named
//! (rather than a run whose replicas silently train different models, or wait for ever).

use super::config::RunConfig;
use super::dataset::Splits;
use crate::error::Result;
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

/// Check that every replica runs what replica 0 runs (see `train::agree`).
pub(super) fn same_run(r: &mut dyn Replicas, cfg: &RunConfig, splits: &Splits) -> Result<()> {
    crate::train::agree(r, &description(cfg, splits))
}
