//! The flags of `wgtrain train` and how they resolve, over a config file or a resumed run's
//! saved config, into the run config.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wgtrain::nn::Initializer;
use wgtrain::optim::{OptimizerKind, SETTINGS};
use wgtrain::Activation;

use wgtrain::run::RunConfig;

/// Flags of `train`; each overrides the same setting of the config file.
#[derive(Args)]
pub struct TrainArgs {
    /// A TOML config (see README: "Config reference").
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// fashion-mnist | mnist | cifar10 | digits | spirals | csv:PATH | idx:DIR (fetched on first use)
    #[arg(long)]
    dataset: Option<String>,
    /// Where datasets are looked for and fetched into [default: data].
    #[arg(long)]
    data_dir: Option<String>,
    /// Hidden layer sizes, e.g. 300,100
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// The hidden layers' activation.
    #[arg(long, value_parser = names(Activation::ALL.map(|a| a.name())))]
    activation: Option<String>,
    /// The weight initializer.
    #[arg(long, value_parser = names(Initializer::NAMES.iter().map(|(n, _)| *n)))]
    init: Option<String>,
    /// Initial value of every bias [default: 0].
    #[arg(long)]
    bias_init: Option<f32>,
    /// Inverted dropout rate after each hidden layer, in [0, 1) [default: 0].
    #[arg(long)]
    dropout: Option<f32>,
    /// Alpha dropout rate after each hidden layer, for SELU nets [default: 0].
    #[arg(long)]
    alpha_dropout: Option<f32>,
    /// Batch normalization after each hidden layer's activation.
    #[arg(long)]
    batch_norm: bool,
    /// Under mpirun: batch norm's statistics over the whole global batch, summed across the
    /// ranks inside each step (PyTorch's SyncBatchNorm), instead of each rank's slice.
    #[arg(long)]
    sync_batch_norm: bool,
    /// The update rule.
    #[arg(long, value_parser = names(OptimizerKind::NAMES.iter().map(|(n, _)| *n)))]
    optimizer: Option<String>,
    /// The learning-rate schedule: constant, exponential, piecewise, plateau, 1cycle
    /// [default: exponential].
    #[arg(long, value_parser = names(wgtrain::run::config::SCHEDULES.iter().copied()))]
    schedule: Option<String>,
    /// exponential: lr · decay_rate^(epoch / decay_epochs) [default: 0.1].
    #[arg(long)]
    decay_rate: Option<f32>,
    /// exponential: epochs over which the rate falls by decay_rate [default: 10].
    #[arg(long)]
    decay_epochs: Option<f32>,
    /// piecewise: the epochs where the rate changes, e.g. 5,8.
    #[arg(long, value_delimiter = ',')]
    boundaries: Option<Vec<u32>>,
    /// piecewise: the rates, one more than the boundaries, e.g. 0.05,0.01,0.001.
    #[arg(long, value_delimiter = ',')]
    values: Option<Vec<f32>>,
    /// plateau: multiply the rate by this after --plateau-patience epochs without a better
    /// validation loss [default: 0.5].
    #[arg(long)]
    factor: Option<f32>,
    /// plateau: epochs without a better validation loss before the rate drops [default: 2].
    #[arg(long)]
    plateau_patience: Option<u32>,
    /// plateau: the rate never goes below this [default: 0].
    #[arg(long)]
    min_lr: Option<f32>,
    /// 1cycle's peak learning rate [default: 10 × lr].
    #[arg(long)]
    max_lr: Option<f32>,
    /// Passes over the training set [default: 10].
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per training step [default: 128].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Fraction of the training set held out for validation, in [0, 1) [default: 0.1].
    #[arg(long)]
    validation_split: Option<f64>,
    /// Standardize inputs (default: yes for feature tables, no for images).
    #[arg(long)]
    standardize: Option<bool>,
    /// Stop after this many epochs without a better validation loss (and restore the best).
    #[arg(long, value_name = "PATIENCE")]
    early_stopping: Option<usize>,
    /// Early stopping: the improvement of the validation loss that counts [default: 0].
    #[arg(long)]
    min_delta: Option<f32>,
    /// Early stopping: keep the last epoch's weights instead of restoring the best.
    #[arg(long)]
    no_restore_best: bool,
    /// Seeds the weights, dropout masks, shuffling and splits [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// The run directory, replaced whole when the run succeeds [default: runs/latest].
    #[arg(short, long)]
    output: Option<String>,
    /// When the training loss becomes NaN or infinite: stop (keeping the last good epoch's
    /// model in the output) or go back to the last good epoch with learning rates ÷10.
    #[arg(long, value_enum)]
    on_divergence: Option<wgtrain::run::OnDivergence>,
    /// Continue an interrupted run from its resume directory (OUTPUT.resume, named in the
    /// interrupt message), or train a finished run further (its directory or checkpoint).
    /// Only --epochs, --output, --data-dir and --on-divergence may change.
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    pub resume: Option<PathBuf>,
    /// Prune during training to this fraction of zero weights (magnitude pruning, masks kept
    /// through the rest of the run), e.g. 0.9.
    #[arg(long, value_name = "SPARSITY")]
    prune_to: Option<f64>,
    /// How --prune-to gets there: along Zhu & Gupta's cubic ramp, or all at once.
    #[arg(long, value_enum)]
    prune_schedule: Option<wgtrain::run::PruneSchedule>,
    /// First epoch (from 1) that starts pruned [default: 1].
    #[arg(long, value_name = "EPOCH")]
    prune_start: Option<usize>,
    /// Epoch from which the target holds (cubic) [default: the last].
    #[arg(long, value_name = "EPOCH")]
    prune_end: Option<usize>,
    /// Prune the same fraction of every layer instead of one threshold over all of them.
    #[arg(long)]
    prune_per_layer: bool,
    /// The history's sparsity column counts weights with |w| below this [default: 0.001].
    #[arg(long, value_name = "THRESHOLD")]
    sparsity_threshold: Option<f32>,
    /// f16: mixed precision, for adapters with f16 shaders: the products read f16 copies of the
    /// weights and f16 hidden activations and accumulate in f32; gradients, weights and the
    /// optimizer's state stay f32. Dense and Linear layers only [default: f32].
    #[arg(long)]
    precision: Option<wgtrain::nn::Precision>,
}

/// `train` with a flag for each optimizer setting (`--lr`, `--momentum`, …), each declared once
/// in the library's `optim::SETTINGS`, its help and defaults taken from there.
pub fn with_optimizer_flags(train: clap::Command) -> clap::Command {
    train.args(SETTINGS.iter().map(|s| {
        let defaults = s.describe_defaults(|kind| wgtrain::run::config::run_default(s, kind));
        clap::Arg::new(s.name)
            .long(s.name.replace('_', "-"))
            .value_name("X")
            .value_parser(clap::value_parser!(f32))
            .allow_negative_numbers(true)
            .help(format!("{}, {} [default: {defaults}]", s.help, s.range.short()))
    }))
}

/// A flag's accepted values, taken from the library's own list of names.
fn names(values: impl IntoIterator<Item = &'static str>) -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(values)
}

impl TrainArgs {
    /// The run config: built-in defaults, then the config file or the resumed run's, then
    /// the flags. `given` names the arguments given on the command line (clap ids).
    pub fn resolve(self, given: &[String], matches: &clap::ArgMatches) -> Result<RunConfig> {
        let mut c = match (&self.config, &self.resume) {
            (Some(_), Some(_)) => anyhow::bail!("--resume continues the saved run's config; drop --config"),
            (Some(path), None) => RunConfig::from_file(path)?,
            (None, Some(path)) => self.resumed_config(path, given)?,
            (None, None) => RunConfig::default(),
        };
        // Another optimizer than the config's: its own defaults, unless given here.
        if self.optimizer.as_ref().is_some_and(|name| *name != c.optimizer.name) {
            c.optimizer.forget_rule_defaults();
        }
        for s in SETTINGS {
            if let Some(v) = matches.get_one::<f32>(s.name) {
                c.optimizer.settings.set(s.name, *v)?;
            }
        }
        macro_rules! set {
            ($($flag:ident => $field:expr),* $(,)?) => { $( if let Some(v) = self.$flag.clone() { $field = v.into(); } )* };
        }
        set!(dataset => c.dataset, data_dir => c.data_dir, layers => c.model.layers, activation => c.model.activation,
             init => c.model.init, bias_init => c.model.bias_init, dropout => c.model.dropout,
             alpha_dropout => c.model.alpha_dropout, optimizer => c.optimizer.name,
             schedule => c.optimizer.schedule, max_lr => c.optimizer.max_lr, epochs => c.epochs, decay_rate => c.optimizer.decay_rate, decay_epochs => c.optimizer.decay_epochs,
             boundaries => c.optimizer.boundaries, values => c.optimizer.values, factor => c.optimizer.factor,
             plateau_patience => c.optimizer.patience, min_lr => c.optimizer.min_lr,
             batch_size => c.batch_size, validation_split => c.validation_split, seed => c.seed, output => c.output);
        if let Some(d) = self.on_divergence {
            c.on_divergence = d;
        }
        if let Some(t) = self.sparsity_threshold {
            c.sparsity_threshold = t;
        }
        if let Some(p) = self.precision {
            c.precision = p;
        }
        if let Some(target) = self.prune_to {
            c.prune.get_or_insert_with(Default::default).target = target;
        }
        let prune_flags = self.prune_schedule.is_some() || self.prune_start.is_some() || self.prune_end.is_some();
        match c.prune.as_mut() {
            Some(p) => {
                p.schedule = self.prune_schedule.unwrap_or(p.schedule);
                p.start = self.prune_start.unwrap_or(p.start);
                p.end = self.prune_end.or(p.end);
                if self.prune_per_layer {
                    p.scope = wgtrain::sparse::Scope::PerLayer;
                }
            }
            None if prune_flags || self.prune_per_layer => {
                anyhow::bail!("--prune-schedule, --prune-start, --prune-end and --prune-per-layer need --prune-to")
            }
            None => {}
        }
        c.model.batch_norm |= self.batch_norm;
        c.sync_batch_norm |= self.sync_batch_norm;
        if self.standardize.is_some() {
            c.standardize = self.standardize;
        }
        if let Some(p) = self.early_stopping {
            c.early_stopping = Some(wgtrain::run::EarlyStoppingSection { patience: p, ..Default::default() });
        }
        match c.early_stopping.as_mut() {
            Some(es) => {
                es.min_delta = self.min_delta.unwrap_or(es.min_delta);
                es.restore_best &= !self.no_restore_best;
            }
            None if self.min_delta.is_some() || self.no_restore_best => {
                anyhow::bail!("--min-delta and --no-restore-best need --early-stopping PATIENCE")
            }
            None => {}
        }
        Ok(c)
    }
}

/// The only `train` flags `--resume` takes: they say where and how long, not what is trained.
const RESUME_MAY_CHANGE: &[&str] =
    &["resume", "epochs", "output", "data_dir", "on_divergence", "device", "json", "sync_batch_norm"];

impl TrainArgs {
    /// The run config saved in the checkpoint `--resume` names, refusing any flag given on
    /// the command line (`given`, clap's argument ids) that would make the continued run a
    /// different one.
    fn resumed_config(&self, path: &std::path::Path, given: &[String]) -> Result<RunConfig> {
        let changed: Vec<String> = given
            .iter()
            .filter(|id| !RESUME_MAY_CHANGE.contains(&id.as_str()))
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect();
        if !changed.is_empty() {
            anyhow::bail!(
                "--resume continues the saved run exactly; {} would change it (only --epochs, --output, --data-dir \
                 and --on-divergence may be given)",
                changed.join(", ")
            );
        }
        let file = wgtrain::run::checkpoint_in(path)?;
        let loaded = wgtrain::train::checkpoint::load(&file)?;
        let mut cfg = RunConfig::from_checkpoint(&loaded, None, None)?;
        // Where the user pointed (or -o, applied after), not where the run once wrote.
        match (wgtrain::run::resumed_output(path), &self.output) {
            (Some(output), _) => cfg.output = output.to_string_lossy().into_owned(),
            (None, Some(_)) => {}
            (None, None) => anyhow::bail!(
                "--resume {}: a checkpoint outside a run directory; say where the continued run goes with --output DIR",
                path.display()
            ),
        }
        Ok(cfg)
    }
}
