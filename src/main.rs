//! The `wgtrain` command line.

mod cli;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use wgtrain::gpu::GpuBackend;
use wgtrain::nn::Initializer;
use wgtrain::optim::OptimizerKind;
use wgtrain::{Activation, Backend, CpuBackend};

use cli::config::RunConfig;

#[derive(Parser)]
#[command(
    name = "wgtrain",
    version,
    about = "Train and run neural networks on wgpu (WGSL kernels, CPU reference twin)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Where the maths runs: the GPU (any wgpu adapter, Mesa's lavapipe included) or the CPU
    /// reference twin. `bench` takes a list (gpu,cpu); the other commands one.
    #[arg(long, global = true, value_enum, value_delimiter = ',', default_value = "gpu")]
    device: Vec<Device>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Device {
    Gpu,
    Cpu,
}

#[derive(Subcommand)]
enum Command {
    /// List the adapters wgpu sees, the one wgtrain picks, and the limits it will use.
    ///
    /// The choice follows wgpu's variables: WGPU_BACKEND (vulkan, metal, dx12, gl),
    /// WGPU_ADAPTER_NAME (part of a name) and WGPU_POWER_PREF (low, high, none).
    ///
    /// Given a checkpoint: its model summary, like Keras' model.summary(): per layer its
    /// kind, output width, parameters, zero weights and rank.
    ///
    /// Examples:
    ///   WGPU_ADAPTER_NAME=llvmpipe wgtrain info
    ///   wgtrain info runs/latest/model.safetensors
    #[command(verbatim_doc_comment)]
    Info {
        /// A checkpoint to summarize instead.
        checkpoint: Option<PathBuf>,
    },
    /// Train a model. With no arguments: Fashion-MNIST, 784-300-100-10, ELU, He init,
    /// momentum 0.9, 10 epochs, outputs in runs/latest.
    ///
    /// Settings come from the built-in defaults, then a TOML file (--config), then flags.
    ///
    /// Examples:
    ///   wgtrain train
    ///   wgtrain train --dataset digits --layers 128 --epochs 20 --output runs/digits
    ///   wgtrain train --config run.toml --lr 0.01 --dropout 0.2
    ///   wgtrain train --activation selu --init lecun_normal --standardize true --alpha-dropout 0.1
    #[command(verbatim_doc_comment)]
    Train(Box<TrainArgs>),
    /// Evaluate a checkpoint: loss, accuracy, per-class accuracy, confusion matrix.
    ///
    /// The dataset and its preprocessing come from the run that wrote the checkpoint.
    ///
    /// Examples:
    ///   wgtrain eval runs/latest/model.safetensors
    ///   wgtrain eval runs/digits/model.safetensors --split validation --json
    #[command(verbatim_doc_comment)]
    Eval {
        /// A checkpoint written by `wgtrain train`.
        checkpoint: PathBuf,
        /// Evaluate on another dataset (same features).
        #[arg(long)]
        dataset: Option<String>,
        #[arg(long)]
        data_dir: Option<String>,
        #[arg(long, value_enum, default_value_t = cli::eval::Split::Test)]
        split: cli::eval::Split,
    },
    /// Predict classes for the rows of an IDX image file or a CSV file.
    ///
    /// Writes CSV: row, class, one probability per class (and with --mc-dropout N, the mean of
    /// N stochastic passes plus one predictive standard deviation per class).
    ///
    /// Examples:
    ///   wgtrain predict runs/latest/model.safetensors data/fashion-mnist/t10k-images-idx3-ubyte.gz -o preds.csv
    ///   wgtrain predict runs/digits/model.safetensors rows.csv --mc-dropout 30
    #[command(verbatim_doc_comment)]
    Predict {
        checkpoint: PathBuf,
        /// IDX images (*-ubyte[.gz]) or CSV rows of features.
        input: PathBuf,
        /// Write here (atomically) instead of to standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Average N stochastic passes with dropout on (Monte Carlo dropout).
        #[arg(long, value_name = "N")]
        mc_dropout: Option<u32>,
        /// A CSV column to ignore (e.g. a label), counted from 0; negative counts from the end.
        #[arg(long, allow_hyphen_values = true)]
        label_column: Option<isize>,
    },
    /// Measure training and inference speed: samples/s over batch sizes for standard models,
    /// per-step time split into host encoding and device time, dispatches, submits, bytes read
    /// back, GFLOP/s and first-step latency.
    ///
    /// Examples:
    ///   wgtrain bench
    ///   wgtrain bench --models mlp --batch 128 --profile
    ///   wgtrain bench --device gpu,cpu --models mlp --batch 1,128 -o ours.json
    ///   wgtrain bench --layers 784,512,10 --dropout 0.2 --chart speed.svg
    ///   wgtrain bench --models mlp --compare torch.json
    #[command(verbatim_doc_comment)]
    Bench(Box<cli::bench::BenchArgs>),
    /// Prune a trained model by weight magnitude, optionally fine-tune with the pruned
    /// weights held at zero, and write it as a new run directory with a summary: parameters,
    /// zeros, test accuracy and inference speed before and after.
    ///
    /// Examples:
    ///   wgtrain prune runs/latest/model.safetensors --sparsity 0.9 --fine-tune-epochs 2
    ///   wgtrain prune runs/latest/model.safetensors --sparsity 0.5 --per-layer -o runs/half
    #[command(verbatim_doc_comment)]
    Prune {
        #[command(flatten)]
        args: cli::compress::CompressArgs,
        /// Fraction of the weights to set to zero, in [0, 1).
        #[arg(long)]
        sparsity: f64,
        /// Prune the same fraction of every layer instead of one threshold over all of them.
        #[arg(long)]
        per_layer: bool,
    },
    /// Replace Dense layers by low-rank factors from a truncated SVD (IN→r→OUT), optionally
    /// fine-tune, and write it as a new run directory with a summary as for `prune`.
    ///
    /// Examples:
    ///   wgtrain factorize runs/latest/model.safetensors --rank 32 --fine-tune-epochs 2
    ///   wgtrain factorize runs/latest/model.safetensors --energy 0.95 --layers 1
    #[command(verbatim_doc_comment)]
    Factorize {
        #[command(flatten)]
        args: cli::compress::CompressArgs,
        /// The rank of every factorized layer, from 1 to min(IN, OUT).
        #[arg(long, required_unless_present = "energy", conflicts_with = "energy")]
        rank: Option<usize>,
        /// Choose each layer's rank to keep this fraction of Σσ², in (0, 1].
        #[arg(long)]
        energy: Option<f64>,
        /// The Dense layers to factorize, by number from 1 [default: all but the output].
        #[arg(long, value_delimiter = ',')]
        layers: Vec<usize>,
    },
}

/// Flags of `train`; each overrides the same setting of the config file.
#[derive(Args)]
struct TrainArgs {
    /// A TOML config (see README: "Config reference").
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// fashion-mnist | mnist | digits | spirals | csv:PATH | idx:DIR
    #[arg(long)]
    dataset: Option<String>,
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
    #[arg(long)]
    bias_init: Option<f32>,
    #[arg(long)]
    dropout: Option<f32>,
    #[arg(long)]
    alpha_dropout: Option<f32>,
    #[arg(long)]
    batch_norm: bool,
    /// The update rule.
    #[arg(long, value_parser = names(OptimizerKind::NAMES.iter().map(|(n, _)| *n)))]
    optimizer: Option<String>,
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long)]
    momentum: Option<f32>,
    #[arg(long)]
    beta2: Option<f32>,
    #[arg(long)]
    weight_decay: Option<f32>,
    /// constant exponential piecewise plateau 1cycle
    #[arg(long)]
    schedule: Option<String>,
    #[arg(long)]
    max_lr: Option<f32>,
    #[arg(long)]
    l1: Option<f32>,
    #[arg(long)]
    l2: Option<f32>,
    #[arg(long)]
    clip_value: Option<f32>,
    #[arg(long)]
    clip_norm: Option<f32>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    validation_split: Option<f64>,
    /// Standardize inputs (default: yes for feature tables, no for images).
    #[arg(long)]
    standardize: Option<bool>,
    /// Stop after this many epochs without a better validation loss (and restore the best).
    #[arg(long, value_name = "PATIENCE")]
    early_stopping: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(short, long)]
    output: Option<String>,
    /// When the training loss becomes NaN or infinite: stop (keeping the last good epoch's
    /// model in the output) or go back to the last good epoch with learning rates ÷10.
    #[arg(long, value_enum)]
    on_divergence: Option<cli::config::OnDivergence>,
    /// Continue an interrupted run from its resume directory (OUTPUT.resume, named in the
    /// interrupt message), or train a finished run further (its directory or checkpoint).
    /// Only --epochs, --output, --data-dir and --on-divergence may change.
    #[arg(long, value_name = "DIR|CHECKPOINT")]
    resume: Option<PathBuf>,
    /// Prune during training to this fraction of zero weights (magnitude pruning, masks kept
    /// through the rest of the run), e.g. 0.9.
    #[arg(long, value_name = "SPARSITY")]
    prune_to: Option<f64>,
    /// How --prune-to gets there: along Zhu & Gupta's cubic ramp, or all at once.
    #[arg(long, value_enum)]
    prune_schedule: Option<cli::config::PruneSchedule>,
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
}

/// A flag's accepted values, taken from the library's own list of names.
fn names(values: impl IntoIterator<Item = &'static str>) -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(values)
}

impl TrainArgs {
    fn resolve(self) -> Result<RunConfig> {
        let mut c = match (&self.config, &self.resume) {
            (Some(_), Some(_)) => anyhow::bail!("--resume continues the saved run's config; drop --config"),
            (Some(path), None) => RunConfig::from_file(path)?,
            (None, Some(path)) => self.resumed_config(path)?,
            (None, None) => RunConfig::default(),
        };
        macro_rules! set {
            ($($flag:ident => $field:expr),* $(,)?) => { $( if let Some(v) = self.$flag.clone() { $field = v.into(); } )* };
        }
        set!(dataset => c.dataset, data_dir => c.data_dir, layers => c.model.layers, activation => c.model.activation,
             init => c.model.init, bias_init => c.model.bias_init, dropout => c.model.dropout,
             alpha_dropout => c.model.alpha_dropout, optimizer => c.optimizer.name, lr => c.optimizer.lr,
             momentum => c.optimizer.momentum, beta2 => c.optimizer.beta2, weight_decay => c.optimizer.weight_decay,
             schedule => c.optimizer.schedule, max_lr => c.optimizer.max_lr, l1 => c.optimizer.l1, l2 => c.optimizer.l2,
             clip_value => c.optimizer.clip_value, clip_norm => c.optimizer.clip_norm, epochs => c.epochs,
             batch_size => c.batch_size, validation_split => c.validation_split, seed => c.seed, output => c.output);
        if let Some(d) = self.on_divergence {
            c.on_divergence = d;
        }
        if let Some(t) = self.sparsity_threshold {
            c.sparsity_threshold = t;
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
        if self.standardize.is_some() {
            c.standardize = self.standardize;
        }
        if let Some(p) = self.early_stopping {
            c.early_stopping = Some(cli::config::EarlyStoppingSection { patience: p, ..Default::default() });
        }
        Ok(c)
    }
}

impl TrainArgs {
    /// The run config saved in the checkpoint `--resume` names, refusing flags that would
    /// make the continued run a different one.
    fn resumed_config(&self, path: &std::path::Path) -> Result<RunConfig> {
        let changed = [
            ("--dataset", self.dataset.is_some()),
            ("--layers", self.layers.is_some()),
            ("--activation", self.activation.is_some()),
            ("--init", self.init.is_some()),
            ("--bias-init", self.bias_init.is_some()),
            ("--dropout", self.dropout.is_some()),
            ("--alpha-dropout", self.alpha_dropout.is_some()),
            ("--batch-norm", self.batch_norm),
            ("--optimizer", self.optimizer.is_some()),
            ("--lr", self.lr.is_some()),
            ("--momentum", self.momentum.is_some()),
            ("--beta2", self.beta2.is_some()),
            ("--weight-decay", self.weight_decay.is_some()),
            ("--schedule", self.schedule.is_some()),
            ("--max-lr", self.max_lr.is_some()),
            ("--l1", self.l1.is_some()),
            ("--l2", self.l2.is_some()),
            ("--clip-value", self.clip_value.is_some()),
            ("--clip-norm", self.clip_norm.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--validation-split", self.validation_split.is_some()),
            ("--standardize", self.standardize.is_some()),
            ("--early-stopping", self.early_stopping.is_some()),
            ("--seed", self.seed.is_some()),
            ("--prune-to", self.prune_to.is_some()),
            ("--prune-schedule", self.prune_schedule.is_some()),
            ("--prune-start", self.prune_start.is_some()),
            ("--prune-end", self.prune_end.is_some()),
            ("--prune-per-layer", self.prune_per_layer),
            ("--sparsity-threshold", self.sparsity_threshold.is_some()),
        ];
        let changed: Vec<&str> = changed.iter().filter(|(_, set)| *set).map(|(f, _)| *f).collect();
        if !changed.is_empty() {
            anyhow::bail!(
                "--resume continues the saved run exactly; {} would change it (only --epochs, --output, --data-dir \
                 and --on-divergence may be given)",
                changed.join(", ")
            );
        }
        let file = cli::resume::checkpoint_in(path)?;
        let loaded = wgtrain::train::checkpoint::load(&file)?;
        cli::eval::run_config(&loaded, None, None)
    }
}

fn backend(devices: &[Device]) -> Result<Box<dyn Backend>> {
    Ok(match devices {
        [Device::Gpu] => Box::new(GpuBackend::from_env()?),
        [Device::Cpu] => Box::new(CpuBackend::new()),
        _ => anyhow::bail!("--device takes one of gpu, cpu here (only bench takes a list), got {devices:?}"),
    })
}

/// `bench`: one backend per listed device, and where it was measured.
fn bench(args: cli::bench::BenchArgs, devices: &[Device], json: bool) -> Result<()> {
    let mut machine = wgtrain::bench::Machine::host(format!("wgtrain {}", env!("CARGO_PKG_VERSION")));
    machine.wgpu = Some(cli::bench::WGPU_VERSION.into());
    let mut backends: Vec<(String, Box<dyn Backend>)> = Vec::new();
    for d in devices {
        match d {
            Device::Gpu => {
                let g = GpuBackend::from_env()?;
                let a = g.context().adapter();
                machine.adapter = Some(a.name.clone());
                machine.backend = Some(a.backend.clone());
                machine.driver = Some(format!("{} {}", a.driver, a.driver_info).trim().to_string());
                backends.push(("gpu".into(), Box::new(g)));
            }
            Device::Cpu => backends.push(("cpu".into(), Box::new(CpuBackend::new()))),
        }
    }
    cli::bench::run(args, backends, machine, json)
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Bench(args) => bench(*args, &cli.device, cli.json),
        Command::Prune { args, sparsity, per_layer } => backend(&cli.device).and_then(|mut b| {
            let scope = if per_layer { wgtrain::sparse::Scope::PerLayer } else { wgtrain::sparse::Scope::Global };
            cli::compress::run(args, cli::compress::Change::Prune { sparsity, scope }, b.as_mut(), cli.json)
        }),
        Command::Factorize { args, rank, energy, layers } => backend(&cli.device).and_then(|mut b| {
            let rank = match (rank, energy) {
                (Some(r), _) => wgtrain::sparse::Rank::Fixed(r),
                (None, Some(e)) => wgtrain::sparse::Rank::Energy(e),
                (None, None) => unreachable!("clap requires one of --rank and --energy"),
            };
            cli::compress::run(args, cli::compress::Change::Factorize { rank, layers }, b.as_mut(), cli.json)
        }),
        Command::Info { checkpoint } => cli::info::run(checkpoint.as_deref(), cli.json),
        Command::Train(args) => {
            let resume = args.resume.clone();
            args.resolve().and_then(|cfg| {
                let file = resume.as_deref().map(cli::resume::checkpoint_in).transpose()?;
                let resume = file.as_deref().map(|checkpoint| cli::train::Resume { checkpoint });
                cli::train::run(cfg, backend(&cli.device)?.as_mut(), cli.json, resume)
            })
        }
        Command::Eval { checkpoint, dataset, data_dir, split } => backend(&cli.device)
            .and_then(|mut b| cli::eval::run(&checkpoint, dataset, data_dir, split, b.as_mut(), cli.json)),
        Command::Predict { checkpoint, input, output, mc_dropout, label_column } => {
            backend(&cli.device).and_then(|mut b| {
                let args = cli::predict::PredictArgs {
                    checkpoint: &checkpoint,
                    input: &input,
                    output: output.as_deref(),
                    mc_dropout,
                    label_column,
                };
                cli::predict::run(args, b.as_mut(), cli.json)
            })
        }
    };
    if let Err(e) = outcome {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
