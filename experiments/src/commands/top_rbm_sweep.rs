//! Trains only the top RBM of the generative DBN over the features of given
//! lower layers, reporting the generative classification error on the
//! validation images as it goes: for choosing the top RBM's training.
//!
//! cargo run --release -- top-rbm-sweep --lower runs/classify-paper/pretrained.safetensors
use std::path::PathBuf;

use crate::runs::top_rbm_sweep::{TopRbmSweepConfig, sweep_top_rbm};

/// Train the generative DBN's top RBM alone and watch its validation error.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The lower layers (their first two, 784-500-500).
    #[arg(long)]
    lower: PathBuf,
    /// CD epochs of the top RBM.
    #[arg(long, default_value_t = 30, value_parser = crate::cli::numbers::count)]
    cd_epochs: usize,
    #[command(flatten)]
    cd: crate::cli::CdArgs,
    /// The negative phase's visible units sampled (the label group one-hot,
    /// as HOT 2006's greedy top RBM: "exactly one unit was allowed to be
    /// active") instead of their conditional means (the trainer's default).
    #[arg(long, conflicts_with = "pcd")]
    sampled_reconstruction: bool,
    /// Hidden units of the top RBM.
    #[arg(long, default_value_t = 2000, value_parser = crate::cli::numbers::count)]
    hidden: usize,
    /// Report the validation error every N epochs.
    #[arg(long, default_value_t = 5)]
    eval_every: usize,
    /// Use only the first N of the 50,000 training images.
    #[arg(long)]
    train_rows: Option<usize>,
    /// Of those, only the first N of each class (HOT 2006: 4,400).
    #[arg(long)]
    train_per_class: Option<usize>,
    /// Standard deviation of the top RBM's initial weights (Hinton's
    /// published RBM code: 0.1).
    #[arg(long, default_value_t = 0.01, value_parser = crate::cli::numbers::scale)]
    init_std: f64,
    /// Seed of initialisation, shuffling and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.eval_every == 0 {
        return Err("--eval-every must be at least 1".into());
    }
    if args.train_rows == Some(0) {
        return Err("--train-rows must be at least 1".into());
    }
    if args.train_per_class == Some(0) {
        return Err("--train-per-class must be at least 1".into());
    }
    let train = args
        .cd
        .train_config(args.cd_epochs, args.seed)?
        .with_mean_field_reconstruction(!args.sampled_reconstruction);
    train.validate()?;
    // The lower stack is checked (two layers at least) before the data are read.
    let device = args.common.device.select()?;
    let config = TopRbmSweepConfig {
        lower: args.lower.clone(),
        train,
        hidden: args.hidden,
        eval_every: args.eval_every,
        train_rows: args.train_rows,
        train_per_class: args.train_per_class,
        init_std: args.init_std,
    };
    sweep_top_rbm(&config, &args.common.data, &device, &mut |line| {
        println!("{line}")
    })
}
