//! `bench --distributed`: what data parallelism costs a training step. Under an MPI job, for
//! one model and a batch per rank: rank 0's step alone (the one-replica baseline, the others
//! waiting), then every rank's step with the global batch split over the ranks and the
//! gradients all-reduced, with the all-reduce's share (time and bytes per step) on each rank.
//! The batch per rank is held fixed (weak scaling), so the scaling efficiency is the
//! baseline's step time over the slowest rank's: 1 when the exchange costs nothing.

use std::time::Instant;

use serde::Serialize;

use super::measure::Setup;
use super::BenchModel;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::train::Replicas;

/// Warm-up steps before any timing (pipelines, workspaces, the first all-reduce).
const WARM_UP: usize = 3;
/// Target length of one repeat, in seconds of the baseline's steps.
const REPEAT_SECONDS: f64 = 0.25;

/// One rank's data-parallel step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankStep {
    pub rank: usize,
    /// Median over the repeats of the step's wall time.
    pub step_ms: f64,
    /// Of which: reading the gradients back, the all-reduce and writing the sum back.
    pub all_reduce_ms: f64,
    /// Bytes each rank sends into the all-reduce per step (the gradients, and a stop flag).
    pub all_reduce_bytes: u64,
}

impl RankStep {
    /// The exchange's share of the step.
    pub fn share(&self) -> f64 {
        self.all_reduce_ms / self.step_ms
    }
}

/// One model at one batch per rank.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistRow {
    pub model: String,
    pub layers: Vec<usize>,
    pub batch_per_rank: usize,
    pub ranks: usize,
    /// Rank 0's step at the batch per rank, alone (no exchange).
    pub alone_ms: f64,
    pub per_rank: Vec<RankStep>,
    /// `alone_ms` over the slowest rank's step: the fraction of N times one replica's
    /// throughput that N replicas reach.
    pub efficiency: f64,
}

/// Measure `model` at `batch` rows per rank over `repeats` repeats on every rank of
/// `replicas` (which every rank must call together); every rank returns the same row.
pub fn measure(
    b: &mut dyn Backend,
    replicas: &mut Option<Box<dyn Replicas>>,
    model: &BenchModel,
    batch: usize,
    repeats: usize,
) -> Result<DistRow> {
    let r = replicas
        .as_deref_mut()
        .ok_or_else(|| Error::msg("bench --distributed runs under mpirun, with at least 2 ranks"))?;
    let (rank, size) = (r.rank(), r.size());
    if repeats == 0 {
        return Err(Error::config("bench repeats", "0; it must be at least 1"));
    }
    // The baseline: rank 0 alone; then a broadcast shares it.
    let mut alone = [0.0f32];
    if rank == 0 {
        let mut s = Setup::new(b, model, batch)?;
        for i in 0..WARM_UP {
            s.train_step(b, i)?;
        }
        b.sync()?;
        let steps = steps_for(one_step(b, &mut s)?);
        alone[0] = median(timed(b, &mut s, repeats, steps)?) as f32;
    }
    // The others sleep meanwhile (a spinning wait would take a core from rank 0 on a shared
    // machine).
    r.idle_barrier()?;
    r.broadcast(&mut alone)?;
    let alone_s = alone[0] as f64;

    // Every rank: the global batch is `batch` rows per rank, split by the trainer.
    let mut s = Setup::new(b, model, batch * size)?;
    s.trainer.set_replicas(replicas.take().expect("checked above"));
    let result = (|| {
        for i in 0..WARM_UP {
            s.train_step(b, i)?;
        }
        b.sync()?;
        let steps = steps_for(alone_s);
        let (sync_s0, sync_bytes0, sync_steps0) = s.trainer.gradient_sync();
        let step_s = median(timed(b, &mut s, repeats, steps)?);
        let (sync_s, sync_bytes, sync_steps) = s.trainer.gradient_sync();
        let n = (sync_steps - sync_steps0).max(1) as f64;
        Ok::<_, Error>((step_s, (sync_s - sync_s0) / n, (sync_bytes - sync_bytes0) as f64 / n))
    })();
    *replicas = s.trainer.take_replicas();
    let (step_s, reduce_s, bytes) = result?;

    // Every rank's figures to every rank: one slot of three per rank, summed.
    let r = replicas.as_deref_mut().expect("given back above");
    let mut all = vec![0.0f32; 3 * size];
    all[3 * rank..3 * rank + 3].copy_from_slice(&[step_s as f32, reduce_s as f32, bytes as f32]);
    r.all_reduce_sum(&mut all)?;
    let per_rank: Vec<RankStep> = all
        .chunks(3)
        .enumerate()
        .map(|(rank, f)| RankStep {
            rank,
            step_ms: f[0] as f64 * 1e3,
            all_reduce_ms: f[1] as f64 * 1e3,
            all_reduce_bytes: f[2].round() as u64,
        })
        .collect();
    let slowest = per_rank.iter().map(|p| p.step_ms).fold(0.0, f64::max);
    Ok(DistRow {
        model: model.name.clone(),
        layers: model.layers.clone(),
        batch_per_rank: batch,
        ranks: size,
        alone_ms: alone_s * 1e3,
        efficiency: alone_s * 1e3 / slowest,
        per_rank,
    })
}

/// One step, synchronized, in seconds.
fn one_step(b: &mut dyn Backend, s: &mut Setup) -> Result<f64> {
    let start = Instant::now();
    s.train_step(b, 0)?;
    b.sync()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Steps per repeat so that one repeat lasts about `REPEAT_SECONDS` of `seconds_per_step`
/// (the same count on every rank: it comes from the shared baseline).
fn steps_for(seconds_per_step: f64) -> usize {
    ((REPEAT_SECONDS / seconds_per_step.max(1e-6)).ceil() as usize).clamp(2, 500)
}

/// Seconds per step of each of `repeats` repeats of `steps` steps.
fn timed(b: &mut dyn Backend, s: &mut Setup, repeats: usize, steps: usize) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        for i in 0..steps {
            s.train_step(b, i)?;
        }
        b.sync()?;
        out.push(start.elapsed().as_secs_f64() / steps as f64);
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
