//! The `wgtrain` command line.

/// `print!` to standard output through `cli::out` (a closed pipe ends the process quietly).
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!($($arg)*)) };
}

/// `println!` through `cli::out`.
macro_rules! outln {
    () => { $crate::cli::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

mod cli;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use cli::device::{Device, Devices};
use wgtrain::gpu::tune::Autotune;

#[derive(Parser)]
#[command(
    name = "wgtrain",
    version = wgtrain::BUILD,
    about = "Train and run neural networks on wgpu (WGSL kernels, CPU reference twin)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Where the maths runs: auto (the GPU when wgpu finds an adapter, else the CPU twin,
    /// saying so), gpu (any wgpu adapter, Mesa's lavapipe included; fails without one) or cpu
    /// (the reference twin). `bench` takes a list (gpu,cpu); the other commands one.
    #[arg(long, global = true, value_enum, value_delimiter = ',', default_value = "auto")]
    device: Vec<Device>,
    /// Skip timing the matmul tilings at first use on an adapter (the result is cached, see
    /// `wgtrain info`) and take the default for the kind of adapter. Same as WGTRAIN_AUTOTUNE=0.
    #[arg(long, global = true)]
    no_autotune: bool,
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
    Train(Box<cli::train_args::TrainArgs>),
    /// Find a learning rate: the range test (fastai's lr_find, Lightning's lr_finder). The
    /// rate grows exponentially from --start-lr to --end-lr over one epoch, one step each,
    /// from the initial weights of the model `train` would build with the same flags; the
    /// loss curve goes to lr_find.svg/.csv/.json and the suggested rate is printed.
    ///
    /// Examples:
    ///   wgtrain lr-find
    ///   wgtrain lr-find --dataset fashion-mnist --layers 300,100 --optimizer nadam
    ///   wgtrain lr-find --config run.toml --steps 200 --output runs/lr
    #[command(verbatim_doc_comment)]
    LrFind(Box<cli::lr_find::LrFindArgs>),
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
        #[arg(long, value_enum, default_value_t = wgtrain::run::Split::Test)]
        split: wgtrain::run::Split,
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
    /// Overlay one curve per run (from each run's history.json) in one SVG figure.
    ///
    /// Examples:
    ///   wgtrain plot runs/relu runs/elu runs/selu -o compare.svg
    ///   wgtrain plot runs/*/ --metric val-accuracy -o accuracy.svg
    #[command(verbatim_doc_comment)]
    Plot {
        /// Run directories (or history.json files).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// The SVG to write.
        #[arg(short, long)]
        output: PathBuf,
        /// The curve to compare.
        #[arg(long, value_enum, default_value = "val-loss")]
        metric: wgtrain::run::plot::Metric,
    },
    /// List the datasets and where each is, or fetch one into the data directory.
    ///
    /// Datasets are looked for in the data directory, then where a system package puts them
    /// (/usr/share/datasets, or WGTRAIN_SYSTEM_DATA), and otherwise fetched on first use from
    /// their mirrors (or the base URLs in WGTRAIN_MIRROR), SHA-256 verified.
    ///
    /// Examples:
    ///   wgtrain data list
    ///   wgtrain data fetch mnist
    ///   WGTRAIN_MIRROR=https://mirror.example.org/datasets/ wgtrain data fetch cifar10
    #[command(verbatim_doc_comment)]
    Data {
        #[command(subcommand)]
        action: DataAction,
        /// The data directory.
        #[arg(long, global = true, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Answer the seed questions by measurement: each experiment trains its variants over
    /// several seeds and writes report.md (setup, tables, an answer generated from the
    /// numbers), SVG plots, results.json and every run's own directory.
    ///
    /// Examples:
    ///   wgtrain experiment list
    ///   wgtrain experiment momentum --quick
    ///   wgtrain experiment all --quick -o experiments
    ///   wgtrain experiment deep-net --dataset cifar10 --seeds 5
    ///   wgtrain experiment momentum --seeds 10 --resume      (continue, or add seeds)
    ///   wgtrain experiment report experiments/momentum       (rebuild from its recorded units)
    ///
    /// Every run of a variant with a seed is recorded in the output's units/ as it finishes:
    /// an interrupted experiment keeps them in .NAME.partial beside the output, and --resume
    /// trains only what is missing.
    #[command(verbatim_doc_comment)]
    Experiment {
        /// An experiment (see `list`), `all`, `list`, or `report`.
        name: String,
        /// For `report`: the output directory of an experiment (or of `all`), whose report is
        /// rebuilt from its recorded units without training.
        dir: Option<PathBuf>,
        /// Continue an interrupted experiment (or extend a finished one, e.g. with more
        /// seeds): units recorded in the output are not trained again.
        #[arg(long)]
        resume: bool,
        /// A smoke run: 2 seeds (deep-net 1), 5 epochs, 10,000 training rows; its reports say
        /// that it cannot settle the questions.
        #[arg(long)]
        quick: bool,
        /// Seeds per variant [default: the experiment's own scale, stated with its reason in
        /// the report (10 for bias-init, 5 for most), or 2 with --quick].
        #[arg(long)]
        seeds: Option<usize>,
        /// Epochs per run [default: the experiment's own scale, or 5 with --quick].
        #[arg(long)]
        epochs: Option<usize>,
        /// Training rows used (the validation split a fifth as many) [default: the
        /// experiment's own scale (all for most), or 10,000 with --quick].
        #[arg(long)]
        train_rows: Option<usize>,
        /// Where the report goes [default: experiments/NAME, or experiments/ for all].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The deep-net exercise's dataset (the other experiments use Fashion-MNIST).
        #[arg(long, default_value = "fashion-mnist", value_parser = ["fashion-mnist", "cifar10"])]
        dataset: String,
        /// Where datasets are looked for and fetched into.
        #[arg(long, default_value = "data")]
        data_dir: String,
    },
    /// Print a shell completion script.
    ///
    /// Examples:
    ///   wgtrain completions bash > ~/.local/share/bash-completion/completions/wgtrain
    ///   wgtrain completions zsh > ~/.zfunc/_wgtrain
    ///   wgtrain completions fish > ~/.config/fish/completions/wgtrain.fish
    #[command(verbatim_doc_comment)]
    Completions {
        shell: clap_complete::Shell,
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

#[derive(Subcommand)]
enum DataAction {
    /// Each dataset, where it is, its source and licence.
    List,
    /// Fetch a dataset into the data directory (does nothing when it is there already).
    Fetch {
        /// fashion-mnist, mnist or cifar10.
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(
            wgtrain::data::download::REMOTES.iter().map(|r| r.name)))]
        name: String,
    },
}

/// The command line: the derived commands, with `train`'s optimizer flags added from the
/// library's one declaration of the settings.
/// Every subcommand takes negative numbers as values (`--lr -1` reaches the domain check,
/// which names it, instead of clap's "unexpected argument").
fn command() -> clap::Command {
    let mut c = <Cli as clap::CommandFactory>::command().mut_subcommand("train", cli::train_args::with_optimizer_flags);
    let names: Vec<String> = c.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        c = c.mut_subcommand(name, |s| s.allow_negative_numbers(true));
    }
    c
}

/// A job under mpirun: train runs one replica per rank, experiment spreads its runs over the
/// ranks, bench --distributed times the data-parallel step, info says which adapter each rank
/// takes; the other commands run in one process.
fn job_for(command: &Command) -> Result<Option<cli::dist::Job>> {
    match command {
        Command::Train(_) | Command::Info { checkpoint: None } => cli::dist::Job::from_env(),
        Command::Experiment { name, .. } if name != "list" => cli::dist::Job::from_env(),
        Command::Bench(args) if args.distributed => cli::dist::Job::from_env(),
        _ => match wgtrain::dist::launched().filter(|l| l.size > 1) {
            Some(_) => anyhow::bail!("only `train`, `experiment`, `bench --distributed` and `info` run under an MPI launcher; run this command alone"),
            None => Ok(None),
        },
    }
}

/// `experiment NAME|all|list|report DIR`.
fn experiment(asked: cli::experiment::Asked, devices: &Devices, job: Option<&cli::dist::Job>) -> Result<()> {
    if asked.name == "list" {
        out!("{}", wgtrain::experiment::list());
        return Ok(());
    }
    let jobs = asked.jobs()?;
    let mut b = devices.backend()?;
    let mut replicas = job.map(|j| j.replicas()).transpose()?;
    for request in jobs {
        cli::experiment::run(request, b.as_mut(), &mut replicas)?;
    }
    Ok(())
}

/// The shell completion script for `shell`.
fn completions(shell: clap_complete::Shell) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "wgtrain", &mut script);
    cli::out::write_bytes(&script);
}

/// The arguments of subcommand `name` given on the command line (not defaults), as clap ids.
fn given(matches: &clap::ArgMatches, name: &str) -> Vec<String> {
    let Some(sub) = matches.subcommand_matches(name) else { return Vec::new() };
    let command = command();
    let Some(args) = command.find_subcommand(name) else { return Vec::new() };
    // Argument ids only: the matches also hold the derived struct's group id.
    let is_arg = |id: &clap::Id| args.get_arguments().any(|a| a.get_id() == id) || id == "device" || id == "json";
    sub.ids()
        .filter(|id| is_arg(id) && sub.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

/// `bench`, or `bench --distributed` across the ranks of `job`.
fn bench(args: cli::bench::BenchArgs, devices: &Devices, job: Option<&cli::dist::Job>, json: bool) -> Result<()> {
    if args.distributed {
        let mut b = devices.backend()?;
        let replicas = job.map(|j| j.replicas()).transpose()?;
        return cli::bench_dist::run(&args, b.as_mut(), replicas, json);
    }
    let (backends, machine) = devices.for_bench()?;
    cli::bench::run(args, backends, machine, json)
}

/// Say what went wrong before anything ran, and exit.
fn fatal(e: anyhow::Error) -> ! {
    eprintln!("error: {e:#}");
    std::process::exit(1)
}

fn main() {
    let matches = command().get_matches();
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let autotune = if cli.no_autotune { Autotune::Skip } else { Autotune::from_env().unwrap_or_else(|e| fatal(e.into())) };
    let job = job_for(&cli.command).unwrap_or_else(|e| fatal(e));
    let adapter_index = job.as_ref().map(|j| j.launch.local_rank);
    let devices = Devices { list: cli.device.clone(), autotune, adapter_index };
    let outcome = match cli.command {
        Command::Bench(args) => bench(*args, &devices, job.as_ref(), cli.json),
        Command::Prune { args, sparsity, per_layer } => devices.backend().and_then(|mut b| {
            let scope = if per_layer { wgtrain::sparse::Scope::PerLayer } else { wgtrain::sparse::Scope::Global };
            cli::compress::run(args, wgtrain::run::Change::Prune { sparsity, scope }, b.as_mut(), cli.json)
        }),
        Command::Factorize { args, rank, energy, layers } => devices.backend().and_then(|mut b| {
            let rank = match (rank, energy) {
                (Some(r), _) => wgtrain::sparse::Rank::Fixed(r),
                (None, Some(e)) => wgtrain::sparse::Rank::Energy(e),
                (None, None) => unreachable!("clap requires one of --rank and --energy"),
            };
            cli::compress::run(args, wgtrain::run::Change::Factorize { rank, layers }, b.as_mut(), cli.json)
        }),
        Command::Plot { runs, output, metric } => wgtrain::run::plot::compare(&runs, metric, &output).map_err(anyhow::Error::from).map(|()| {
            if !cli.json {
                outln!("wrote {}", output.display());
            }
        }),
        Command::Completions { shell } => {
            completions(shell);
            Ok(())
        }
        Command::Experiment { name, dir, resume, quick, seeds, epochs, train_rows, output, dataset, data_dir } => {
            let asked = cli::experiment::Asked { name, dir, resume, quick, seeds, epochs, train_rows, output, dataset, data_dir };
            experiment(asked, &devices, job.as_ref())
        }
        Command::Data { action: DataAction::List, data_dir } => {
            out!("{}", cli::data::list(&data_dir));
            Ok(())
        }
        Command::Data { action: DataAction::Fetch { name }, data_dir } => {
            cli::data::locate(&name, &data_dir).map(|dir| outln!("{name}: {}", dir.display()))
        }
        Command::Info { checkpoint: None } if job.is_some() => {
            cli::info::rank(&devices, job.as_ref().expect("checked").launch, cli.json)
        }
        Command::Info { checkpoint } => cli::info::run(checkpoint.as_deref(), cli.device == [Device::Cpu], &devices, cli.json),
        Command::Train(args) => {
            let resume = args.resume.clone();
            let train_matches = matches.subcommand_matches("train").expect("the train subcommand matched");
            args.resolve(&given(&matches, "train"), train_matches).and_then(|cfg| {
                let file = resume.as_deref().map(wgtrain::run::checkpoint_in).transpose()?;
                cli::train::run(cfg, || devices.backend(), cli.json, file.as_deref(), job.as_ref())
            })
        }
        Command::LrFind(args) => {
            let sub = matches.subcommand_matches("lr-find").expect("the lr-find subcommand matched");
            devices.backend().and_then(|mut b| cli::lr_find::run(*args, &given(&matches, "lr-find"), sub, b.as_mut(), cli.json))
        }
        Command::Eval { checkpoint, dataset, data_dir, split } => devices.backend()
            .and_then(|mut b| cli::eval::run(&checkpoint, dataset, data_dir, split, b.as_mut(), cli.json)),
        Command::Predict { checkpoint, input, output, mc_dropout, label_column } => {
            devices.backend().and_then(|mut b| {
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
        if let Some(job) = &job {
            job.fail(&e);
        }
        eprintln!("error: {e:#}");
        cli::out::finish();
        std::process::exit(1);
    }
    cli::out::finish();
}
