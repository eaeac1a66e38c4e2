//! `mpirun -np N wgtrain bench --distributed`: each model's data-parallel step at each batch
//! per rank, against rank 0's step alone (`wgtrain::bench::distributed`). Every rank measures;
//! rank 0 prints the table (or the JSON) and writes `-o`.

use anyhow::{bail, Context, Result};
use serde_json::json;
use wgtrain::bench::distributed::{self, DistRow};
use wgtrain::train::Replicas;
use wgtrain::Backend;

use super::bench::BenchArgs;

/// The report's schema name (`-o`, `--json`).
pub const SCHEMA: &str = "wgtrain-bench-distributed/1";

pub fn run(args: &BenchArgs, b: &mut dyn Backend, replicas: Option<Box<dyn Replicas>>, json: bool) -> Result<()> {
    let Some(replicas) = replicas else {
        bail!("bench --distributed measures a data-parallel job: run it under mpirun, e.g. mpirun -np 2 wgtrain bench --distributed")
    };
    if args.repeats == 0 || args.batch.is_empty() || args.batch.contains(&0) {
        bail!("--repeats and every --batch must be at least 1");
    }
    if args.repeats > wgtrain::limits::MAX_BENCH_REPEATS {
        bail!("--repeats {}: at most {}", args.repeats, wgtrain::limits::MAX_BENCH_REPEATS);
    }
    let models = args.models()?;
    let leader = replicas.rank() == 0;
    let ranks = replicas.size();
    let mut replicas = Some(replicas);
    if leader && !json {
        outln!("# {} ranks · {} · batch per rank fixed (weak scaling)", ranks, b.describe());
        outln!("# alone = rank 0's step with no exchange; step and all-reduce (gradients read back, summed, written back) per rank, median over repeats");
        outln!(
            "{:<14} {:>6} {:>9} {:>22} {:>22} {:>11} {:>7} {:>10}",
            "model", "batch", "alone ms", "step ms (per rank)", "all-reduce ms", "KiB/step", "share", "efficiency"
        );
    }
    let mut rows = Vec::new();
    for m in &models {
        for &batch in &args.batch {
            let row = distributed::measure(b, &mut replicas, m, batch, args.repeats)
                .with_context(|| format!("benchmarking {} at batch {batch} per rank", m.name))?;
            if leader && !json {
                outln!("{}", line(&row));
            }
            rows.push(row);
        }
    }
    if !leader {
        return Ok(());
    }
    let report = json!({ "schema": SCHEMA, "ranks": ranks, "adapter": b.describe(), "rows": rows });
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    }
    if let Some(path) = &args.output {
        super::bench::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}

fn line(r: &DistRow) -> String {
    let each = |f: &dyn Fn(&distributed::RankStep) -> f64, digits: usize| {
        r.per_rank.iter().map(|p| format!("{:.digits$}", f(p))).collect::<Vec<_>>().join(" / ")
    };
    let share = r.per_rank.iter().map(|p| p.share()).fold(0.0, f64::max);
    format!(
        "{:<14} {:>6} {:>9.2} {:>22} {:>22} {:>11.0} {:>6.1}% {:>9.0}%",
        r.model,
        r.batch_per_rank,
        r.alone_ms,
        each(&|p| p.step_ms, 2),
        each(&|p| p.all_reduce_ms, 2),
        r.per_rank[0].all_reduce_bytes as f64 / 1024.0,
        100.0 * share,
        100.0 * r.efficiency
    )
}
