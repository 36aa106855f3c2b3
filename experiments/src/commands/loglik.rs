//! AIS estimate of log Z and of the mean test log-likelihood of a saved RBM.
//!
//! cargo run --release -- loglik runs/rbm
use std::path::PathBuf;

use crate::data::BinarizeMode;
use crate::runs::loglik::{AisSettings, LoglikConfig, measure_loglik};

/// Estimate an RBM's log partition function by AIS and its MNIST test log-likelihood.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A run directory of train-rbm, or a .safetensors model file.
    model: PathBuf,
    /// Parallel AIS runs.
    #[arg(long, default_value_t = 100, value_parser = crate::cli::numbers::count)]
    ais_runs: usize,
    /// Number of intermediate temperatures, linearly spaced; default: the
    /// 14,500-step schedule of Salakhutdinov & Murray (2008).
    #[arg(long, value_parser = crate::cli::numbers::count)]
    ais_steps: Option<usize>,
    /// Binarisation of the test images; default: the one in the run's config.json.
    #[arg(long, value_enum)]
    binarize: Option<BinarizeMode>,
    /// Seed of that binarisation (training images; test images use seed + 1).
    #[arg(long)]
    binarize_seed: Option<u64>,
    /// Seed of the AIS runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The layer AIS anneals over: `visible` (Salakhutdinov & Murray's, from
    /// the images' base rates) or `hidden` (the transposed RBM, from the
    /// base rates of E[h | v]); both estimate the same log Z.
    #[arg(long, value_enum, default_value_t = crate::cli::AisSideArg::Visible)]
    ais_side: crate::cli::AisSideArg,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The flags and the model file are checked before the data are read.
    let ais = AisSettings {
        runs: args.ais_runs,
        steps: args.ais_steps,
        seed: args.seed,
        side: args.ais_side.into(),
    };
    ais.config().validate()?;
    let device = args.common.device.select()?;
    let config = LoglikConfig {
        model: args.model.clone(),
        ais,
        binarize: args.binarize,
        binarize_seed: args.binarize_seed,
    };
    measure_loglik(&config, &args.common.data, &device, &mut |line| {
        println!("{line}")
    })
}
