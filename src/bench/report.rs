//! The benchmark's JSON schema (`wgtrain-bench/1`, documented in the README), shared by
//! `wgtrain bench --json`, `bench --compare` and `scripts/bench-pytorch.py`. Figures another
//! engine cannot measure are null.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const SCHEMA: &str = "wgtrain-bench/1";

/// Where a report was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// The engine and its version, e.g. "wgtrain 0.1.0" or "pytorch 2.5.1".
    pub engine: String,
    /// The GPU adapter's name, backend and driver, where one was used.
    pub adapter: Option<String>,
    pub backend: Option<String>,
    pub driver: Option<String>,
    pub wgpu: Option<String>,
    pub cpu: String,
    pub cores: usize,
}

impl Machine {
    /// This host's CPU (from /proc/cpuinfo where there is one) and core count.
    pub fn host(engine: impl Into<String>) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { engine: engine.into(), adapter: None, backend: None, driver: None, wgpu: None, cpu, cores }
    }
}

/// A rate over repeats: median and the 10th and 90th percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

impl Rate {
    /// From one value per repeat (linear interpolation between order statistics).
    pub fn of(values: &[f64]) -> Self {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if v.is_empty() {
                return f64::NAN;
            }
            let x = q * (v.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
        };
        Self { median: at(0.5), p10: at(0.1), p90: at(0.9) }
    }
}

/// One (model, path, batch) measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub model: String,
    /// Widths, inputs first and classes last.
    pub layers: Vec<usize>,
    pub dropout: f32,
    /// "gpu" or "cpu" for wgtrain; e.g. "torch-cpu", "torch-cuda" for other engines.
    pub path: String,
    pub batch: usize,
    /// Training samples/s over repeats.
    pub train: Rate,
    /// Inference samples/s over repeats.
    pub infer: Rate,
    /// The first training step, from nothing built to its completion (pipeline compilation
    /// and first allocations included), in ms.
    pub first_step_ms: Option<f64>,
    /// Median wall time per training step in steady state, ms.
    pub step_ms: f64,
    /// Host time to record and submit one training step, ms (isolated steps, median).
    pub encode_ms: Option<f64>,
    /// From submit to completion of one training step, ms (isolated steps, median).
    pub device_ms: Option<f64>,
    pub dispatches_per_step: Option<f64>,
    pub submits_per_step: Option<f64>,
    pub readback_bytes_per_step: Option<f64>,
    pub infer_dispatches: Option<f64>,
    /// One inference batch from submit to its logits on the host, ms: median and 99th
    /// percentile over consecutive calls (nearest rank).
    #[serde(default)]
    pub latency_p50_ms: Option<f64>,
    #[serde(default)]
    pub latency_p99_ms: Option<f64>,
    /// Achieved GFLOP/s of the Dense layers' matmuls (median rate × FLOPs per sample).
    pub train_gflops: f64,
    pub infer_gflops: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub machine: Machine,
    pub rows: Vec<Row>,
}

impl Report {
    pub fn new(machine: Machine, rows: Vec<Row>) -> Self {
        Self { schema: SCHEMA.into(), machine, rows }
    }

    /// Parse a report, refusing other schemas by name.
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::config(format!("compare file {origin}"), format!("not JSON: {e}")))?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(Error::config(
                    format!("compare file {origin}"),
                    format!("schema {other:?}, expected {SCHEMA:?} (see README: bench JSON schema)"),
                ))
            }
            None => {
                return Err(Error::config(
                    format!("compare file {origin}"),
                    format!("no \"schema\" field; expected {SCHEMA:?} (see README: bench JSON schema)"),
                ))
            }
        }
        let report: Report = serde_json::from_value(value)
            .map_err(|e| Error::config(format!("compare file {origin}"), format!("does not fit {SCHEMA}: {e}")))?;
        // Ratios are taken against these rates: each must be a finite number above 0.
        for r in &report.rows {
            for (what, rate) in [("train", r.train.median), ("infer", r.infer.median)] {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(Error::config(
                        format!("compare file {origin}"),
                        format!("model {} at batch {}: {what} rate {rate} is not a finite number above 0", r.model, r.batch),
                    ));
                }
            }
        }
        Ok(report)
    }
}

/// One line of `bench --compare`: a row of ours beside the other engine's row for the same
/// model and batch, and our rates divided by theirs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub model: String,
    pub batch: usize,
    pub ours: String,
    pub theirs: String,
    pub train_ratio: f64,
    pub infer_ratio: f64,
}

/// Pair every row of `ours` with each row of `theirs` that has the same layers and batch.
pub fn compare(ours: &Report, theirs: &Report) -> Vec<Comparison> {
    let mut out = Vec::new();
    for a in &ours.rows {
        for b in theirs.rows.iter().filter(|b| b.layers == a.layers && b.batch == a.batch && b.dropout == a.dropout) {
            out.push(Comparison {
                model: a.model.clone(),
                batch: a.batch,
                ours: format!("{} {}", ours.machine.engine, a.path),
                theirs: format!("{} {}", theirs.machine.engine, b.path),
                train_ratio: a.train.median / b.train.median,
                infer_ratio: a.infer.median / b.infer.median,
            });
        }
    }
    out
}
