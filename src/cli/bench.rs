//! `wgtrain bench`: the suite as a table, JSON, an SVG chart, a per-kernel profile, and
//! ratios against figures measured elsewhere. The measuring is `wgtrain::bench`'s.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use plotters::prelude::*;
use wgtrain::bench::report::{compare, Comparison};
use wgtrain::bench::{self, BenchModel, Machine, Profile, Report, Row, MODEL_NAMES};
use wgtrain::Backend;

pub use wgtrain::gpu::tune::WGPU_VERSION;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Models: mlp (784-300-100-10), wide (784-2048-2048-10), deep (784, 20×100 ELU, 10)
    /// [default: mlp,wide,deep, or none when --layers is given]
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Benchmark this width list too (inputs, hidden…, classes), e.g. 784,512,10; alone
    /// unless --models is also given.
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// Dropout after each hidden layer.
    #[arg(long, default_value_t = 0.0)]
    dropout: f32,
    /// f32, or f16: mixed precision (as `train --precision`); f16 models are named NAME-f16.
    /// Several: each model in each, e.g. f32,f16.
    #[arg(long, value_delimiter = ',', default_values_t = [wgtrain::nn::Precision::F32])]
    precision: Vec<wgtrain::nn::Precision>,
    /// Batch sizes (per rank with --distributed).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 32, 128, 1024])]
    pub batch: Vec<usize>,
    /// Repeats per measurement (rates are the median and 10th–90th percentiles over them).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Write the report as JSON here (the schema in README: "Bench JSON").
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Draw samples/s against batch size (log axes) as SVG here.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Time each kernel of a training step and an inference batch instead (mean over
    /// --repeats steps), from timestamp queries where the adapter has them, else each kernel
    /// in its own submission timed on the host (the output says which).
    #[arg(long)]
    profile: bool,
    /// Print our rates divided by those in these reports (same schema), per model and batch.
    #[arg(long, num_args = 1..)]
    compare: Vec<PathBuf>,
    /// Under mpirun: the data-parallel step of each model at each batch per rank, against
    /// rank 0's step alone: step and all-reduce time and bytes per rank, scaling efficiency.
    #[arg(long, conflicts_with_all = ["profile", "compare", "chart"])]
    pub distributed: bool,
}

impl BenchArgs {
    pub fn models(&self) -> Result<Vec<BenchModel>> {
        let default: Vec<String> = match self.layers {
            None => MODEL_NAMES.map(String::from).to_vec(),
            Some(_) => Vec::new(),
        };
        let mut out = Vec::new();
        for name in self.models.as_ref().unwrap_or(&default) {
            out.push(BenchModel::named(name)?);
        }
        if let Some(layers) = &self.layers {
            out.push(BenchModel::custom(layers)?);
        }
        let mut all = Vec::new();
        for m in out {
            let m = m.with_dropout(self.dropout)?;
            for &p in &self.precision {
                all.push(m.clone().with_precision(p)?);
            }
        }
        Ok(all)
    }
}

/// Everything checked before anything runs or is written.
fn check(args: &BenchArgs, models: &[BenchModel], backends: &[(String, Box<dyn Backend>)]) -> Result<()> {
    if args.repeats == 0 {
        bail!("--repeats 0: measure at least once (the default is 5)");
    }
    if args.repeats > wgtrain::limits::MAX_BENCH_REPEATS {
        bail!(
            "--repeats {}: at most {} (each repeat lasts about 0.25 s per model, batch and path; the default is 5)",
            args.repeats,
            wgtrain::limits::MAX_BENCH_REPEATS
        );
    }
    if args.batch.is_empty() || args.batch.contains(&0) {
        bail!("--batch {:?}: every batch size must be at least 1", args.batch);
    }
    for (path, b) in backends {
        for m in models {
            let widest = *m.layers.iter().max().expect("two widths at least");
            for &batch in &args.batch {
                let bytes = (batch * widest * 4) as u64;
                if bytes > b.max_tensor_bytes() {
                    bail!(
                        "--batch {batch} is too large for model {} on {path}: a ({batch}, {widest}) tensor is {bytes} bytes \
                         and the adapter's largest is {}; use a batch of at most {}",
                        m.name,
                        b.max_tensor_bytes(),
                        b.max_tensor_bytes() / (widest as u64 * 4)
                    );
                }
            }
        }
    }
    Ok(())
}

pub fn run(args: BenchArgs, backends: Vec<(String, Box<dyn Backend>)>, machine: Machine, json: bool) -> Result<()> {
    let models = args.models()?;
    let mut backends = backends;
    check(&args, &models, &backends)?;
    let others: Vec<Report> = args
        .compare
        .iter()
        .map(|p| {
            let text =
                wgtrain::files::read_text(p, wgtrain::files::bound::TEXT).with_context(|| format!("cannot read compare file {}", p.display()))?;
            Ok(Report::from_json(&text, &p.display().to_string())?)
        })
        .collect::<Result<_>>()?;

    if args.profile {
        return profile(&args, &models, &mut backends, &machine, json);
    }
    if !json {
        outln!("{}", header(&machine));
    }
    let mut rows = Vec::new();
    for m in &models {
        for (path, b) in backends.iter_mut() {
            for &batch in &args.batch {
                let row = bench::measure(b.as_mut(), path, m, batch, args.repeats)
                    .with_context(|| format!("benchmarking {} at batch {batch} on {path}", m.name))?;
                if !json {
                    outln!("{}", table_line(&row));
                }
                rows.push(row);
            }
        }
    }
    let report = Report::new(machine, rows);
    let comparisons: Vec<Comparison> = others.iter().flat_map(|o| compare(&report, o)).collect();
    if json {
        let mut value = serde_json::to_value(&report)?;
        if !comparisons.is_empty() {
            value["comparisons"] = serde_json::to_value(&comparisons)?;
        }
        outln!("{}", serde_json::to_string_pretty(&value)?);
    } else if !args.compare.is_empty() {
        print_comparisons(&comparisons);
    }
    if let Some(path) = &args.output {
        write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    if let Some(path) = &args.chart {
        chart(&report, path)?;
    }
    Ok(())
}

fn header(m: &Machine) -> String {
    let adapter = match (&m.adapter, &m.backend, &m.driver) {
        (Some(a), Some(b), Some(d)) => format!("{a} ({b}, {d})"),
        _ => "no GPU adapter".into(),
    };
    format!(
        "# {} · {adapter} · wgpu {} · {} ({} cores)\n# rates: samples/s, median [p10–p90] over repeats; step = wall per training step; \
         encode/device = host recording vs submit→done of an isolated step; lat = one inference batch, submit → logits on the host\n\
         {:<14} {:>4} {:>5} {:>26} {:>26} {:>8} {:>7} {:>8} {:>6} {:>6} {:>9} {:>7} {:>7} {:>9} {:>15}",
        m.engine,
        m.wgpu.as_deref().unwrap_or("-"),
        m.cpu,
        m.cores,
        "model",
        "path",
        "batch",
        "train samples/s",
        "infer samples/s",
        "step ms",
        "enc ms",
        "dev ms",
        "disp",
        "subm",
        "readback",
        "tr GF/s",
        "in GF/s",
        "first ms",
        "lat p50/p99 ms"
    )
}

fn table_line(r: &Row) -> String {
    let rate = |x: &bench::Rate| format!("{:.0} [{:.0}–{:.0}]", x.median, x.p10, x.p90);
    let opt = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    format!(
        "{:<14} {:>4} {:>5} {:>26} {:>26} {:>8.2} {:>7} {:>8} {:>6} {:>6} {:>9} {:>7.2} {:>7.2} {:>9} {:>15}",
        r.model,
        r.path,
        r.batch,
        rate(&r.train),
        rate(&r.infer),
        r.step_ms,
        opt(r.encode_ms, 2),
        opt(r.device_ms, 2),
        opt(r.dispatches_per_step, 0),
        opt(r.submits_per_step, 0),
        opt(r.readback_bytes_per_step, 0),
        r.train_gflops,
        r.infer_gflops,
        opt(r.first_step_ms, 0),
        format!("{}/{}", opt(r.latency_p50_ms, 2), opt(r.latency_p99_ms, 2))
    )
}

fn print_comparisons(c: &[Comparison]) {
    if c.is_empty() {
        outln!("\nno row of the compare files has the same layers and batch as a row measured here");
        return;
    }
    outln!("\n{:<14} {:>5} {:<22} {:<22} {:>11} {:>11}", "model", "batch", "ours", "theirs", "train ×", "infer ×");
    for x in c {
        outln!(
            "{:<14} {:>5} {:<22} {:<22} {:>11.2} {:>11.2}",
            x.model, x.batch, x.ours, x.theirs, x.train_ratio, x.infer_ratio
        );
    }
}

fn profile(
    args: &BenchArgs,
    models: &[BenchModel],
    backends: &mut [(String, Box<dyn Backend>)],
    machine: &Machine,
    json: bool,
) -> Result<()> {
    let mut all = Vec::new();
    for m in models {
        for (path, b) in backends.iter_mut() {
            for &batch in &args.batch {
                let p = bench::profile(b.as_mut(), m, batch, args.repeats)?;
                if !json {
                    print_profile(&format!("{} · {path} · batch {batch}", m.name), &p);
                }
                all.push(serde_json::json!({"model": m.name, "path": path, "batch": batch, "profile": p}));
            }
        }
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&serde_json::json!({"machine": machine, "profiles": all}))?);
    }
    Ok(())
}

fn print_profile(title: &str, p: &Profile) {
    outln!("# {title}\n# timing: {}", p.method);
    for (what, kernels, wall, ratio) in [
        ("training step", &p.train, p.train_wall_ms, p.train_wall_over_device),
        ("inference batch", &p.infer, p.infer_wall_ms, p.infer_wall_over_device),
    ] {
        let total: f64 = kernels.iter().map(|k| k.ms).sum();
        outln!(
            "{what}: {total:.3} ms in {} dispatches; wall {wall:.3} ms unprofiled, {ratio:.2}× the device time (median \
             of the rounds' ratios)",
            kernels.iter().map(|k| k.calls).sum::<usize>(),
        );
        for k in kernels {
            outln!("  {:>6.1}%  {:>9.3} ms  {:>3}×  {}", 100.0 * k.share, k.ms, k.calls, k.kernel);
        }
    }
    if let Some(m) = &p.memory {
        outln!(
            "memory speed: a plain copy kernel over the {} parameters moves {:.2} GB/s ({:.3} ms, 8 B a float); the \
             update ({}) moves {:.1} B a parameter at {:.2} GB/s, {:.0}% of the copy",
            m.floats,
            m.copy_gb_per_s,
            m.copy_ms,
            m.update_kernel,
            m.update_bytes_per_param,
            m.update_gb_per_s,
            100.0 * m.of_copy
        );
    }
}

/// Write `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    wgtrain::files::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Samples/s against batch size, log axes, one line per (model, path, train|infer), in the
/// Okabe–Ito palette with a marker shape per phase.
fn chart(report: &Report, path: &Path) -> Result<()> {
    use wgtrain::run::plot::OKABE_ITO;
    let rows = &report.rows;
    if rows.is_empty() {
        bail!("no rows to chart");
    }
    let (bmin, bmax) = rows.iter().fold((usize::MAX, 0), |(lo, hi), r| (lo.min(r.batch), hi.max(r.batch)));
    let rates = rows.iter().flat_map(|r| [r.train.median, r.infer.median]).filter(|v| v.is_finite() && *v > 0.0);
    let (rmin, rmax) = rates.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut c = ChartBuilder::on(&root)
            .caption("wgtrain bench: samples/s against batch size", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                ((bmin as f64) * 0.8..(bmax as f64) * 1.25).log_scale(),
                (rmin * 0.5..rmax * 2.0).log_scale(),
            )?;
        c.configure_mesh().x_desc("batch size (samples)").y_desc("samples per second").draw()?;
        let mut keys: Vec<(String, String)> = Vec::new();
        for r in rows {
            let k = (r.model.clone(), r.path.clone());
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for (i, (model, path)) in keys.iter().enumerate() {
            let color = OKABE_ITO[i % OKABE_ITO.len()];
            let series: Vec<&Row> = rows.iter().filter(|r| &r.model == model && &r.path == path).collect();
            let train: Vec<(f64, f64)> = series.iter().map(|r| (r.batch as f64, r.train.median)).collect();
            let infer: Vec<(f64, f64)> = series.iter().map(|r| (r.batch as f64, r.infer.median)).collect();
            c.draw_series(LineSeries::new(train.clone(), color.stroke_width(2)))?
                .label(format!("{model} {path} train"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            c.draw_series(train.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
            c.draw_series(LineSeries::new(infer.clone(), color.stroke_width(1)))?
                .label(format!("{model} {path} infer"))
                .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, color.filled()));
            c.draw_series(infer.iter().map(|&p| TriangleMarker::new(p, 5, color.filled())))?;
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
    }
    write_atomic(path, svg.as_bytes())
}
