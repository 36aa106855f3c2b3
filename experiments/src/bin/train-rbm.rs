//! Trains an RBM (pixels x N) on MNIST or any image set (`--data`) with
//! CD-k or PCD-k.
//!
//! cargo run --release -p experiments --bin train-rbm -- --epochs 20 --hidden 500 --out runs/rbm
use std::path::PathBuf;

use clap::Parser;
use experiments::data::{BinarizeMode, images_tensor};
use experiments::rbm_run::{
    RbmRunConfig, train_on_dashboard, write_filters, write_reconstructions, write_samples,
};
use rbm::{RbmConfig, TrainConfig};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Train an RBM on MNIST (or --data) with contrastive divergence"
)]
struct Args {
    /// Passes over the training images.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Hidden units.
    #[arg(long, default_value_t = 500)]
    hidden: usize,
    /// Gibbs steps per update (CD-k / PCD-k).
    #[arg(long = "cd-k", alias = "k", default_value_t = 1)]
    k: usize,
    /// Persistent contrastive divergence.
    #[arg(long)]
    pcd: bool,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Learning rate of the last epoch (linear decay); default: constant.
    #[arg(long)]
    final_lr: Option<f64>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// L2 weight cost.
    #[arg(long, default_value_t = 0.0002)]
    weight_decay: f64,
    /// Momentum for the first 5 epochs, then --final-momentum.
    #[arg(long, default_value_t = 0.5)]
    momentum: f64,
    #[arg(long, default_value_t = 0.9)]
    final_momentum: f64,
    /// How pixels become visible units.
    #[arg(long, value_enum, default_value_t = BinarizeMode::Stochastic)]
    binarize: BinarizeMode,
    /// Seed of the stochastic binarisation (train and test).
    #[arg(long, default_value_t = 0)]
    binarize_seed: u64,
    /// Last training images held out to monitor overfitting (0: train on
    /// all of them). Default: the last sixth (10,000 of MNIST's 60,000).
    #[arg(long)]
    held_out: Option<usize>,
    /// Use only the first N training images (after the hold-out).
    #[arg(long)]
    train_rows: Option<usize>,
    /// Seed for initialisation, shuffling and sampling (the README's runs
    /// from before the default became 1 pass --seed 42).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "runs/train-rbm")]
    out: PathBuf,
    /// Continue the interrupted run in --out from its last committed
    /// checkpoint, with the configuration saved in its config.json (flags
    /// that would change it are refused).
    #[arg(long)]
    resume: bool,
    /// Delete the run in --out first (a fresh run refuses a non-empty --out).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

const BINARY: &str = "train-rbm";

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let (args, matches) = experiments::cli::parse::<Args>();
    experiments::run_on_workers(|| run(args, &matches))
}

fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    // Everything the user gave is checked before any data is read.
    let device = args.common.device.select()?;
    let (run, run_config, mnist, line) = experiments::cli::open_data_run::<Args, RbmRunConfig, _>(
        matches,
        BINARY,
        &args.out,
        args.resume,
        args.overwrite,
        &[],
        &args.common.data,
        |data| run_config_from_args(&args, data),
        RbmRunConfig::validate,
        |config| &config.data,
    )?;
    println!("{line}");
    let image = mnist.image_size();
    let total = mnist.train.len();
    let split = total - run_config.held_out;
    let rows = run_config.train_rows;
    let binarization = run_config.binarize.with_seed(run_config.binarize_seed);
    let train = images_tensor(&mnist.train.range(0, rows), binarization, &device);
    let held_out = (run_config.held_out > 0)
        .then(|| images_tensor(&mnist.train.range(split, total), binarization, &device));
    let rbm_config = run_config.rbm.clone();
    let train_config = run_config.train.clone();
    println!(
        "training {}x{} RBM, {}-{}, {} images ({}), {} epochs on {}",
        rbm_config.n_visible,
        rbm_config.n_hidden,
        if train_config.persistent { "PCD" } else { "CD" },
        train_config.k,
        rows,
        binarization.describe(),
        train_config.epochs,
        args.common.device.device
    );
    let Some(trainer) = train_on_dashboard(
        &run,
        BINARY,
        &rbm_config,
        &train_config,
        &train,
        held_out.as_ref(),
    )?
    else {
        println!("interrupted; continue with --resume");
        return Ok(());
    };
    let rbm = trainer.rbm();
    write_filters(rbm, 100, image, &run.file("filters.png"))?;
    let shown = images_tensor(&mnist.test.head(50), binarization, &device);
    write_reconstructions(rbm, shown, image, &run.file("reconstructions.png"))?;
    write_samples(
        rbm,
        100,
        1000,
        train_config.seed,
        image,
        &run.file("samples.png"),
    )?;
    if let Err(e) = experiments::plots::write_learning_curves(
        &run,
        "train-rbm: reconstruction errors per epoch",
    ) {
        eprintln!("warning: learning curves not drawn: {e}");
    }
    println!("wrote {}", run.path.display());
    Ok(())
}

/// The run's configuration from the command line, validated.
fn run_config_from_args(
    args: &Args,
    data: &experiments::data::DataSpec,
) -> Result<RbmRunConfig, Box<dyn std::error::Error>> {
    let total = data.train_images;
    let held_out = args.held_out.unwrap_or(data.valid_rows());
    if held_out >= total {
        return Err(format!("--held-out {held_out} leaves no training images (of {total})").into());
    }
    if args.train_rows == Some(0) {
        return Err("--train-rows must be at least 1".into());
    }
    let available = total - held_out;
    let rbm = RbmConfig::new(data.pixels(), args.hidden);
    let train = TrainConfig::new()
        .with_epochs(args.epochs)
        .with_k(args.k)
        .with_persistent(args.pcd)
        .with_learning_rate(args.lr)
        .with_final_learning_rate(args.final_lr)
        .with_batch_size(args.batch)
        .with_weight_decay(args.weight_decay)
        .with_initial_momentum(args.momentum)
        .with_final_momentum(args.final_momentum)
        .with_seed(args.seed);
    let config = RbmRunConfig {
        data: data.clone(),
        rbm,
        train,
        binarize: args.binarize,
        binarize_seed: args.binarize_seed,
        held_out,
        train_rows: args.train_rows.unwrap_or(available).min(available),
        device: args.common.device.device.clone(),
    };
    config.validate()?;
    Ok(config)
}
