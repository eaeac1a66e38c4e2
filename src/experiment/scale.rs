//! How big an experiment's runs are: each experiment's own scale (the smallest at which the
//! textbook's effect can be told from seed noise, with the reason its report states), the
//! quick smoke scale, or counts the user chose.

use crate::error::Result;
use crate::fail;

/// How big the runs are.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scale {
    pub quick: bool,
    pub seeds: usize,
    pub epochs: usize,
    /// Training rows used (all when None).
    pub train_rows: Option<usize>,
    /// Whether the user changed a count of the experiment's own (or the quick) scale.
    #[serde(default)]
    pub custom: bool,
}

/// The most seeds and epochs an experiment takes: far above any useful setting, low enough
/// that a mistyped count is refused instead of running for months.
pub const MAX_SEEDS: usize = 100;
pub const MAX_EPOCHS: usize = 1000;

/// The quick scale: a smoke run of every experiment in about half an hour on two CPU cores.
const QUICK: (usize, usize, Option<usize>) = (2, 5, Some(10_000));

/// Each experiment's own scale (seeds, epochs, training rows) and why it is that size.
pub fn own(name: &str) -> (usize, usize, Option<usize>, &'static str) {
    match name {
        "init-symmetry" => (3, 5, Some(20_000), "the effect is structural (every neuron of a layer stays one neuron) and the accuracy gap tens of points: any run that trains shows it, so a short one is enough"),
        "bias-init" => (10, 10, None, "the textbook expects little or no difference between the starts: ten seeds, so that an interval can rule a difference beyond ±1 point in or out"),
        "elu-vs-relu" => (5, 10, None, "20-layer nets, whose dead units and activation means settle within 10 Nadam epochs on all the images; five seeds, as seed spreads of several points were seen at two"),
        "activations" => (5, 10, None, "ten hidden activations on a 5-layer net, cheap per run: five seeds, all the images, 10 Nadam epochs (near convergence)"),
        "momentum" => (5, 10, None, "4,220 steps: four memories (1/(1 − β)) of β = 0.999, so that its overshoot can build up and show; five seeds (β = 0.99999's memory of 100,000 steps is beyond any affordable run, which the report says)"),
        "sparsity" => (1, 20, None, "one dense model (seed 1) is pruned, regularized and factorized every way; the method comparison is within one model, so more seeds would repeat it"),
        "dropout-cost" => (5, 20, None, "epochs to a target need runs long enough for both nets to converge: 20 epochs; five seeds for the step-time and epoch counts"),
        "deep-net" => (3, 30, None, "early stopping ends each run at its best epoch (patience 5, up to 30); three seeds of five 20-layer nets is what a 2-core machine can afford overnight"),
        _ => (3, 20, None, "the default"),
    }
}

impl Scale {
    /// Experiment `name`'s scale (or the quick one), with the counts a user gave checked and
    /// applied.
    pub fn given(name: &str, quick: bool, seeds: Option<usize>, epochs: Option<usize>, train_rows: Option<usize>) -> Result<Self> {
        let (s, e, r) = if quick {
            // Five 20-layer nets are the dearest part of `all --quick`: one seed there.
            if name == "deep-net" { (1, QUICK.1, QUICK.2) } else { QUICK }
        } else {
            let (s, e, r, _) = own(name);
            (s, e, r)
        };
        let mut scale = Scale { quick, seeds: s, epochs: e, train_rows: r, custom: false };
        if let Some(n) = seeds {
            if n == 0 || n > MAX_SEEDS {
                fail!("--seeds must be from 1 to {MAX_SEEDS} (every seed is a full run of every variant), got {n}");
            }
            scale.custom |= n != scale.seeds;
            scale.seeds = n;
        }
        if let Some(e) = epochs {
            if e == 0 || e > MAX_EPOCHS {
                fail!("--epochs must be from 1 to {MAX_EPOCHS}, got {e}");
            }
            scale.custom |= e != scale.epochs;
            scale.epochs = e;
        }
        if let Some(r) = train_rows {
            if r < 1000 {
                fail!("--train-rows must be at least 1000 (the smallest task, Sandal vs Sneaker, keeps a fifth of them, and a batch is 128 rows), got {r}");
            }
            scale.custom |= Some(r) != scale.train_rows;
            scale.train_rows = Some(r);
        }
        Ok(scale)
    }

    pub fn seeds(&self) -> impl Iterator<Item = u64> {
        (0..self.seeds as u64).map(|s| 1 + s)
    }

    /// The command that runs experiment `name` at this scale (on `dataset` where it applies),
    /// every count spelled out.
    pub fn command(&self, name: &str, dataset: &str) -> String {
        let mut c = format!("wgtrain experiment {name}");
        if self.quick {
            c += " --quick";
        }
        c += &format!(" --seeds {} --epochs {}", self.seeds, self.epochs);
        if let Some(r) = self.train_rows {
            c += &format!(" --train-rows {r}");
        }
        if name == "deep-net" && dataset != "fashion-mnist" {
            c += &format!(" --dataset {dataset}");
        }
        c
    }

    /// The setup line: the counts, and which scale they are.
    pub fn describe(&self, name: &str) -> String {
        let rows = self.train_rows.map_or("all".to_string(), |r| r.to_string());
        let counts = format!("{} epochs (unless stated), {} seed(s), {rows} training rows", self.epochs, self.seeds);
        match (self.quick, self.custom) {
            (true, _) => format!("quick scale (a smoke run{}): {counts}", if self.custom { ", counts changed" } else { "" }),
            (false, false) => format!("this experiment's own scale: {counts}; why: {}", own(name).3),
            (false, true) => format!("scale chosen by the user: {counts} (this experiment's own is {})", Scale::given(name, false, None, None, None).map_or(String::new(), |s| s.counts())),
        }
    }

    fn counts(&self) -> String {
        let rows = self.train_rows.map_or("all".to_string(), |r| r.to_string());
        format!("{} seeds × {} epochs × {rows} rows", self.seeds, self.epochs)
    }

    /// What the report says it cannot settle at this scale, before the experiment's own
    /// limits.
    pub fn limits(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.quick {
            lines.push(format!(
                "This is a smoke run (`--quick`: {}). It checks that the experiment runs end to end and cannot settle the question; its verdicts are expected to be inconclusive.",
                self.counts()
            ));
        }
        match self.seeds {
            1 => lines.push("One seed: no interval can be computed, so no difference in the tables is distinguishable from seed noise.".into()),
            n => lines.push(format!("{n} seeds: differences smaller than the intervals in the tables cannot be told from seed noise; a verdict of inconclusive says that, not that there is no effect.")),
        }
        lines
    }
}
