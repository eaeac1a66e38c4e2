//! `wgtrain experiment`: the seed's seven questions and the deep-net exercise, each answered by
//! measurement in a report of its own (see `../shared/seed-questions.md` for what each asks).

mod activations;
mod deepnet;
mod dropout;
mod init;
pub mod lab;
mod momentum;
pub mod report;
mod sparsity;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use wgtrain::Backend;

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

/// How big the runs are.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub quick: bool,
    pub seeds: usize,
    pub epochs: usize,
    /// Training rows used (all when None).
    pub train_rows: Option<usize>,
}

impl Scale {
    pub fn new(quick: bool, seeds: Option<usize>) -> Self {
        let (s, epochs, rows) = if quick { (2, 5, Some(10_000)) } else { (3, 20, None) };
        Scale { quick, seeds: seeds.unwrap_or(s).max(1), epochs, train_rows: rows }
    }

    pub fn seeds(&self) -> impl Iterator<Item = u64> {
        (0..self.seeds as u64).map(|s| 1 + s)
    }

    pub fn describe(&self) -> String {
        let rows = self.train_rows.map_or("all".to_string(), |r| r.to_string());
        format!(
            "{} scale: {} epochs (unless stated), {} seed(s), {rows} training rows",
            if self.quick { "quick" } else { "full" },
            self.epochs,
            self.seeds
        )
    }
}

/// What an experiment runs with.
pub struct Ctx<'a> {
    pub b: &'a mut dyn Backend,
    pub scale: Scale,
    /// The experiment's output directory.
    pub out: PathBuf,
    pub data_dir: String,
    /// The dataset of the deep-net exercise (Fashion-MNIST unless asked).
    pub dataset: String,
}

impl Ctx<'_> {
    /// Fashion-MNIST at this scale, standardized when asked.
    pub fn fashion_mnist(&mut self, standardize: bool) -> Result<lab::Data> {
        lab::Data::load(self.b, "fashion-mnist", &self.data_dir, self.scale.train_rows, standardize)
    }

    /// The setup lines every report starts with.
    pub fn setup(&mut self, data: &lab::Data) -> Vec<String> {
        vec![
            format!("data: {}", data.describe()),
            format!("device: {}", self.b.describe()),
            self.scale.describe(),
            "batch 128; seeds give the weights, the shuffling and the dropout masks".into(),
        ]
    }
}

/// The text of `wgtrain experiment list`.
pub fn list() -> String {
    EXPERIMENTS.iter().map(|(name, what)| format!("{name:<14} {what}\n")).collect()
}

/// Run experiment `name` (or `all`) with outputs under `output` (`output/NAME` for `all`).
pub fn run(name: &str, scale: Scale, output: &Path, data_dir: &str, dataset: &str, b: &mut dyn Backend) -> Result<()> {
    let names: Vec<&str> = match name {
        "all" => EXPERIMENTS.iter().map(|e| e.0).collect(),
        n if EXPERIMENTS.iter().any(|e| e.0 == n) => vec![n],
        n => bail!("no experiment {n:?}; `wgtrain experiment list` names them: {}", EXPERIMENTS.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")),
    };
    let start = Instant::now();
    for n in &names {
        let out = if name == "all" { output.join(n) } else { output.to_path_buf() };
        if out.exists() {
            std::fs::remove_dir_all(out.join("runs")).ok();
        }
        std::fs::create_dir_all(&out)?;
        let begun = Instant::now();
        eprintln!("== experiment {n} → {}", out.display());
        let mut ctx = Ctx { b: &mut *b, scale, out: out.clone(), data_dir: data_dir.into(), dataset: dataset.into() };
        let report = match *n {
            "init-symmetry" => init::symmetry(&mut ctx)?,
            "bias-init" => init::bias(&mut ctx)?,
            "elu-vs-relu" => activations::elu_vs_relu(&mut ctx)?,
            "activations" => activations::all(&mut ctx)?,
            "momentum" => momentum::run(&mut ctx)?,
            "sparsity" => sparsity::run(&mut ctx)?,
            "dropout-cost" => dropout::run(&mut ctx)?,
            "deep-net" => deepnet::run(&mut ctx)?,
            _ => unreachable!("names are checked above"),
        };
        let path = report.write(&out)?;
        println!("{}\n\n{}\n(wrote {} in {:.0} s)\n", n, report.answer, path.display(), begun.elapsed().as_secs_f64());
    }
    if names.len() > 1 {
        println!("{} experiments in {:.0} s", names.len(), start.elapsed().as_secs_f64());
    }
    Ok(())
}
