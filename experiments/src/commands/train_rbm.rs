//! Trains an RBM (pixels x N) on MNIST or any image set (`--data`) with
//! CD-k or PCD-k.
//!
//! cargo run --release -- train-rbm --cd-epochs 20 --hidden 500 --out runs/rbm

use crate::data::BinarizeMode;
use crate::runs::rbm::{RbmRunConfig, train_rbm};
use rbm::RbmConfig;

/// Train an RBM on MNIST (or --data) with contrastive divergence.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Passes over the training images.
    #[arg(long, default_value_t = 20, value_parser = crate::cli::numbers::count)]
    cd_epochs: usize,
    /// Hidden units.
    #[arg(long, default_value_t = 500, value_parser = crate::cli::numbers::count)]
    hidden: usize,
    #[command(flatten)]
    cd: crate::cli::CdArgs,
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
    #[command(flatten)]
    loglik: crate::cli::LoglikArgs,
    #[command(flatten)]
    run: crate::cli::RunArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    // Everything the user gave is checked before any data is read.
    let device = args.common.device.select()?;
    let (run, config, set, line) = crate::cli::Invocation::new::<Args>("train-rbm", matches)
        .open_with_data(&args.run, &args.common.data, |data| {
            run_config_from_args(&args, data)
        })?;
    println!("{line}");
    train_rbm(&run, &config, &set, &device, &mut |line| println!("{line}"))?
        .announce_interruption();
    Ok(())
}

/// The run's configuration from the command line, validated.
fn run_config_from_args(
    args: &Args,
    data: &crate::data::DataSpec,
) -> Result<RbmRunConfig, Box<dyn std::error::Error>> {
    let total = data.train_images;
    let held_out = args.held_out.unwrap_or(data.valid_rows());
    if held_out >= total {
        return Err(format!("--held-out {held_out} leaves no training images (of {total})").into());
    }
    let available = total - held_out;
    let rbm = RbmConfig::new(data.pixels(), args.hidden);
    let train = args.cd.train_config(args.cd_epochs, args.seed)?;
    let config = RbmRunConfig {
        data: data.clone(),
        rbm,
        train,
        binarize: args.binarize,
        binarize_seed: args.binarize_seed,
        held_out,
        train_rows: crate::data::train_rows_flag(args.train_rows, available)?,
        device: args.common.device.device.clone(),
        loglik: args.loglik.settings(),
    };
    config.validate()?;
    Ok(config)
}
