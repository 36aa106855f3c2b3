//! The generative DBN of Hinton, Osindero & Teh (2006) on MNIST: greedy
//! layers without labels, a top RBM over [features, 10 softmax labels],
//! contrastive wake-sleep (up-down), generation and free-energy classification.
//!
//! cargo run --release -p experiments --bin mnist-generative -- --preset quick --out runs/generative-quick
use std::path::PathBuf;

use clap::Parser;
use dbn::{SampleStart, StackConfig, UpDownConfig};
use experiments::classify_run::PretrainedSource;
use experiments::data::DataSpec;
use experiments::generative_run::{GenerativeRun, GenerativeRunConfig, Preset, train_generative};
use experiments::run_dir::RunDir;
use rbm::{RbmConfig, TrainConfig, UnitKind};

/// The command-line spelling of [`SampleStart`].
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StartArg {
    /// Penultimate features on with probability 1/2.
    RandomFeatures,
    /// An up-pass from a random binary image (HOT 2006, figure 9).
    NoiseImage,
}

impl From<StartArg> for SampleStart {
    fn from(start: StartArg) -> Self {
        match start {
            StartArg::RandomFeatures => SampleStart::RandomFeatures,
            StartArg::NoiseImage => SampleStart::NoiseImage,
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Train the generative DBN of Hinton, Osindero & Teh (2006) on MNIST (or --data)"
)]
struct Args {
    /// Recipe (minutes or hours; below). Flags below override its values.
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// CD epochs of each lower layer (784-500, 500-500) [quick: 10, paper: 30].
    #[arg(long)]
    lower_epochs: Option<usize>,
    /// CD epochs of the top RBM (510-2000) [quick: 20, paper: 30].
    #[arg(long)]
    top_epochs: Option<usize>,
    /// Gibbs steps of the top RBM's CD-k (lower layers use CD-1). Longer
    /// chains give it a much better free-energy classifier: on the paper
    /// run's features, 20 epochs reach 2.38% validation error with CD-5
    /// against 5.26% after 10 epochs (4.23% after 30) with CD-1 [both
    /// presets: 5].
    #[arg(long)]
    top_cd_k: Option<usize>,
    /// Up-down epochs (with --resume: continue a finished or interrupted
    /// run up to this many, keeping its Gibbs schedule) [quick: 20, paper:
    /// 300].
    #[arg(long)]
    updown_epochs: Option<usize>,
    /// Up-down epochs on all 60,000 training images after the best
    /// validation epoch, as HOT 2006's final net [quick: 0, paper: 10].
    #[arg(long)]
    final_epochs: Option<usize>,
    /// Up-down learning rate.
    #[arg(long, default_value_t = 0.01)]
    updown_lr: f64,
    /// Gibbs steps per generated sample [quick and paper: 5,000 (HOT
    /// 2006 ran 1,000 between consecutive samples of one chain); with
    /// --resume: the run's, unless given].
    #[arg(long)]
    sample_steps: Option<usize>,
    /// Where the sampling chains start [default: random-features; with
    /// --resume: the run's, unless given].
    #[arg(long, value_enum)]
    sample_start: Option<StartArg>,
    /// Samples per class in samples.png.
    #[arg(long, default_value_t = 10)]
    samples_per_class: usize,
    /// Take the lower layers from this stack (e.g. mnist-classify's
    /// `pretrained.safetensors`; its first two layers, 784-500-500) instead
    /// of training them.
    #[arg(long, conflicts_with = "lower_epochs")]
    pretrained_lower: Option<PathBuf>,
    /// A classifier from mnist-classify (its model.safetensors) that also
    /// labels the clamped samples.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Use only the first N of the 50,000 training images.
    #[arg(long)]
    train_rows: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "runs/mnist-generative")]
    out: PathBuf,
    /// Continue the run in --out from its checkpoints with its config.json;
    /// only --updown-epochs, --final-epochs, --sample-steps, --sample-start
    /// and --classifier may be given with it.
    #[arg(long)]
    resume: bool,
    /// Delete the run in --out first (a fresh run refuses a non-empty --out).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

const BINARY: &str = "mnist-generative";

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let (args, matches) = experiments::cli::parse::<Args>();
    experiments::run_on_workers(|| run(args, &matches))
}

fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    // Flags, configuration and run directory are checked before any data is read.
    let device = args.common.device.select()?;
    let (run, config, data) = if args.resume {
        experiments::cli::reject_on_resume::<Args>(
            matches,
            &[
                "updown_epochs",
                "final_epochs",
                "sample_steps",
                "sample_start",
                "classifier",
            ],
        )?;
        let (mut run, mut config): (RunDir, GenerativeRunConfig) =
            RunDir::resume(&args.out, BINARY)?;
        if let Some(epochs) = args.updown_epochs {
            config.updown.epochs = epochs;
        }
        if let Some(steps) = args.sample_steps {
            config.sample_steps = steps;
        }
        if let Some(epochs) = args.final_epochs {
            config.final_epochs = epochs;
        }
        if let Some(start) = args.sample_start {
            config.sample_start = start.into();
        }
        config.validate()?;
        run.confirm(BINARY, &config.identity())?;
        run.write_json("config.json", &config)?;
        let data = args.common.data.resumed(&config.data);
        (run, config, data)
    } else {
        let data = args.common.data.prepare()?;
        let config = config_from_args(&args, &data.spec)?;
        let run = RunDir::start(
            &args.out,
            BINARY,
            &config,
            &config.identity(),
            args.overwrite,
        )?;
        (run, config, data)
    };
    let (set, line) = data.load()?;
    println!("{line}");
    let outcome = train_generative(
        &run,
        &config,
        &set,
        &device,
        args.classifier.as_deref(),
        &mut |line| println!("{line}"),
    )?;
    if let GenerativeRun::Interrupted = outcome {
        println!("interrupted; continue with --resume");
    }
    Ok(())
}

fn config_from_args(
    args: &Args,
    data: &DataSpec,
) -> Result<GenerativeRunConfig, Box<dyn std::error::Error>> {
    let available = data.train_rows();
    let classes = data.classes;
    let (lower_epochs, top_epochs, top_cd_k, updown_epochs, final_epochs, sample_steps) =
        match args.preset {
            Preset::Quick => (10, 20, 5, 20, 0, 5000),
            Preset::Paper => (30, 30, 5, 300, 10, 5000),
        };
    let cd = |epochs| {
        TrainConfig::new()
            .with_epochs(epochs)
            .with_learning_rate(0.1)
            .with_weight_decay(2e-4)
            .with_seed(args.seed)
    };
    let lower = StackConfig::uniform(
        &[data.pixels(), 500, 500],
        &cd(args.lower_epochs.unwrap_or(lower_epochs)),
    );
    lower.validate()?;
    let mut top = StackConfig::uniform(
        &[500 + classes, 2000],
        &cd(args.top_epochs.unwrap_or(top_epochs)).with_k(args.top_cd_k.unwrap_or(top_cd_k)),
    );
    top.layers[0].rbm = RbmConfig::new(500 + classes, 2000)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: classes });
    top.validate()?;
    let epochs = args.updown_epochs.unwrap_or(updown_epochs);
    let updown = UpDownConfig {
        epochs,
        batch_size: 100,
        learning_rate: args.updown_lr,
        weight_decay: 1e-5,
        gibbs_schedule: vec![(0, 3), (epochs / 3, 6), (2 * epochs / 3, 10)]
            .into_iter()
            .fold(Vec::new(), |mut acc: Vec<(usize, usize)>, step| {
                if acc.last().is_none_or(|last| last.0 < step.0) {
                    acc.push(step);
                }
                acc
            }),
        seed: args.seed,
    };
    let pretrained_lower = args
        .pretrained_lower
        .as_deref()
        .map(PretrainedSource::from_path)
        .transpose()?;
    if args.train_rows == Some(0) {
        return Err("--train-rows must be at least 1".into());
    }
    let config = GenerativeRunConfig {
        data: data.clone(),
        preset: args.preset,
        lower,
        top,
        updown,
        train_rows: args.train_rows.unwrap_or(available).min(available),
        sample_steps: args.sample_steps.unwrap_or(sample_steps),
        sample_start: args.sample_start.map(Into::into).unwrap_or_default(),
        final_epochs: args.final_epochs.unwrap_or(final_epochs),
        samples_per_class: args.samples_per_class,
        seed: args.seed,
        pretrained_lower,
    };
    config.validate()?;
    Ok(config)
}
