//! `wgtrain experiment`: the seed's seven questions and the deep-net exercise, each answered by
//! measurement in a report of its own. Each experiment trains its variants over seeds
//! (`lab`), measures them (`measure`), and writes a report (`report`) whose answer is generated
//! from the numbers (`answer`).

mod activations;
mod deepnet;
mod dropout;
pub mod figure;
mod init;
pub mod answer;
pub mod lab;
pub mod ledger;
pub mod measure;
mod momentum;
mod scale;
pub mod pool;
pub mod report;
pub mod stats;
pub mod smoothness;
mod sparsity;
mod sweep;

use std::path::PathBuf;

use crate::backend::Backend;
use crate::data::locate::Fetching;
use crate::error::Result;
use crate::fail;
pub use crate::run::output::Start;
pub use pool::Pool;
pub use scale::{Scale, MAX_EPOCHS, MAX_SEEDS};
pub use sweep::Sweep;

use crate::run::output::{Holds, Staging};

/// Every experiment: its name and what it measures.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    ("init-symmetry", "Q1: all weights one He-drawn value vs He init, with and without dropout: distinct neurons per layer, accuracy"),
    ("bias-init", "Q2: biases 0, 0.01, 0.1 and random: accuracy, dead ReLU units"),
    ("elu-vs-relu", "Q3: a 20×100 net with ELU vs ReLU: dead units and mean activation per layer over epochs, epochs to target, time per epoch"),
    ("activations", "Q4: every activation on the same net: accuracy, epochs to target, time per epoch; logistic vs softmax outputs"),
    ("momentum", "Q5: momentum β ∈ {0, 0.9, 0.99, 0.999, 0.99999}: loss curves, overshoot, oscillation, final loss, divergence"),
    ("sparsity", "Q6: accuracy vs zero weights for magnitude pruning (one-shot, iterative) and ℓ1; parameters, accuracy, speed vs rank"),
    ("dropout-cost", "Q7: time per step and epochs to target with and without dropout; inference with dropout layers; MC dropout cost"),
    ("deep-net", "The exercise: 20×100 ELU He Nadam early stopping; + batch norm; SELU; + alpha dropout; MC dropout; 1cycle"),
];

/// What an experiment runs with.
pub struct Ctx<'a> {
    pub b: &'a mut dyn Backend,
    pub scale: Scale,
    /// The experiment's output directory.
    pub out: PathBuf,
    pub data_dir: String,
    /// The dataset of the deep-net exercise (Fashion-MNIST unless asked).
    pub dataset: String,
    /// Hears of a dataset fetched on first use.
    pub fetch: Box<dyn FnMut(Fetching) + 'a>,
    /// Where the runs train: here, or spread over the ranks of an MPI job.
    pub pool: Pool<'a>,
    /// The units already measured, and how the output starts.
    pub sweep: Sweep,
}

impl Ctx<'_> {
    /// Fashion-MNIST at this scale, standardized when asked.
    pub fn fashion_mnist(&mut self, standardize: bool) -> Result<lab::Data> {
        lab::Data::load(self.b, "fashion-mnist", &self.data_dir, self.scale.train_rows, standardize, &mut self.fetch)
    }

    /// The setup lines every report starts with (the adapter is the one the units were
    /// measured on, when the report is rebuilt).
    pub fn setup(&mut self, data: &lab::Data) -> Result<Vec<String>> {
        let device = self.once("device", "", |b, _| Ok(b.describe()))?;
        let machine = self.once("machine", "", |_, _| Ok(machine()))?;
        let mut lines = vec![
            format!("data: {}", data.describe()),
            format!("device: {device}"),
            format!("machine: {machine}"),
            self.scale.describe(self.sweep.name()),
            "batch 128; seeds give the weights, the shuffling and the dropout masks".into(),
        ];
        lines.extend(self.pool.describe());
        Ok(lines)
    }

    /// The seeds of this scale, as a list.
    pub fn seeds(&self) -> Vec<u64> {
        self.scale.seeds().collect()
    }
}

/// The machine in words: CPU model, cores, memory (what Linux's /proc says; less elsewhere).
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| format!(", {:.0} GiB", kb / (1 << 20) as f64))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores{memory}, {}", std::env::consts::OS)
}

/// The text of `wgtrain experiment list`.
pub fn list() -> String {
    EXPERIMENTS.iter().map(|(name, what)| format!("{name:<14} {what}\n")).collect()
}


/// The experiments `name` stands for: itself, or every one for `all`.
pub fn named(name: &str) -> Result<Vec<&'static str>> {
    match name {
        "all" => Ok(EXPERIMENTS.iter().map(|e| e.0).collect()),
        n => match EXPERIMENTS.iter().find(|e| e.0 == n) {
            Some(e) => Ok(vec![e.0]),
            None => fail!(
                "no experiment {n:?}; `wgtrain experiment list` names them: {}",
                EXPERIMENTS.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
            ),
        },
    }
}

/// Run experiment `name` (one of `EXPERIMENTS`) into `ctx.out`, and write its report there;
/// returns the report and the path of its `report.md`.
///
/// The output is replaced as a run's is (`run::output::Staging`): written beside it and put in
/// place whole when the report is done, so a failure or a kill leaves the earlier report as it
/// was; a directory holding files an experiment does not write (the user's own) is refused
/// before anything runs, as are `.` and `/`. Under an MPI job every rank runs the experiment
/// (its share of the runs) but only rank 0 writes: the path returned elsewhere is a scratch
/// one, removed with the pool.
pub fn run(name: &str, ctx: &mut Ctx) -> Result<(report::Report, PathBuf)> {
    let Some(&(name, _)) = EXPERIMENTS.iter().find(|e| e.0 == name) else { fail!("no experiment {name:?}") };
    let target = ctx.out.clone();
    let start = ctx.sweep.start();
    let staging = match ctx.pool.leader() {
        true => Some(Staging::resumable(&target, Holds::Experiment, start, &[ledger::UNITS, "runs"])?),
        false => None,
    };
    ctx.out = match &staging {
        Some(s) => s.dir().to_path_buf(),
        None => ctx.pool.output(&ctx.out),
    };
    std::fs::create_dir_all(&ctx.out).map_err(|e| crate::error::Error::io(&ctx.out, e))?;
    ctx.sweep.open(name, &ctx.out);
    let mut report = match measure_and_report(name, ctx) {
        Ok(report) => report,
        Err(e) if start != Start::Rebuild && ctx.pool.leader() => {
            let kept = ctx.sweep.ledger().measured() + ctx.sweep.ledger().reused();
            return Err(crate::error::Error::msg(format!(
                "{e}\n({kept} finished unit(s) of this experiment are kept in {}; the same command with --resume continues from them)",
                ctx.out.display()
            )));
        }
        Err(e) => return Err(e),
    };
    let command = ctx.scale.command(name, &ctx.dataset);
    let seeds: Vec<u64> = ctx.scale.seeds().collect();
    let ledger = ctx.sweep.ledger();
    let mut provenance = vec![
        format!("command: `{command}`"),
        format!("seeds: {}", seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
        format!("report written by wgtrain {}; {}", crate::build::BUILD, ledger.provenance()),
    ];
    provenance.append(&mut report.setup);
    report.setup = provenance;
    let mut limits = ctx.scale.limits();
    limits.append(&mut report.limits);
    report.limits = limits;
    report.run = serde_json::json!({
        "command": command, "build": crate::build::BUILD, "scale": ctx.scale, "dataset": ctx.dataset, "seeds": seeds,
        "units_measured": ledger.measured(), "units_reused": ledger.reused(),
    });
    let mut path = report.write(&ctx.out)?;
    if let Some(s) = staging {
        path = s.commit()?.join("report.md");
    }
    ctx.out = target;
    ctx.pool.finish()?;
    Ok((report, path))
}

fn measure_and_report(name: &str, ctx: &mut Ctx) -> Result<report::Report> {
    match name {
        "init-symmetry" => init::symmetry(ctx),
        "bias-init" => init::bias(ctx),
        "elu-vs-relu" => activations::elu_vs_relu(ctx),
        "activations" => activations::all(ctx),
        "momentum" => momentum::run(ctx),
        "sparsity" => sparsity::run(ctx),
        "dropout-cost" => dropout::run(ctx),
        "deep-net" => deepnet::run(ctx),
        other => fail!("no experiment {other:?}"),
    }
}

/// How an experiment's output was made, as its `results.json` records it: what `experiment
/// report DIR` rebuilds the report with.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub name: &'static str,
    pub scale: Scale,
    pub dataset: String,
}

/// Read `dir/results.json` for how the experiment there was run.
pub fn recorded(dir: &std::path::Path) -> Result<Recorded> {
    let path = dir.join("results.json");
    let text = crate::files::read_text(&path, crate::files::bound::TEXT).map_err(|e| {
        crate::error::Error::msg(format!(
            "cannot read {} ({e}): `experiment report DIR` takes the output directory of one experiment",
            path.display()
        ))
    })?;
    let results: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| crate::error::Error::msg(format!("{} is not an experiment's results ({e})", path.display())))?;
    let run = &results["run"];
    let (Some(name), Ok(scale)) = (results["experiment"].as_str(), serde_json::from_value::<Scale>(run["scale"].clone())) else {
        fail!(
            "{} does not record how the experiment was run (it predates `experiment report`); run the experiment again",
            path.display()
        );
    };
    let name = named(name)?.first().copied().filter(|_| name != "all").ok_or_else(|| crate::error::Error::msg("not one experiment"))?;
    let dataset = run["dataset"].as_str().unwrap_or("fashion-mnist").to_string();
    Ok(Recorded { name, scale, dataset })
}
