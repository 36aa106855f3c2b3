//! The lecture's two claims about Gaussian visible units, measured:
//! (a) the learning rate that suits binary units makes Gaussian units
//! diverge, a smaller one works; (b) with a small sigma, many more hidden
//! units are needed. Prints markdown tables and writes `sweeps.json`.
//!
//! cargo run --release -- gaussian-sweeps --out runs/gaussian-sweeps

use crate::runs::gaussian_sweeps::{SweepConfig, report, run_gaussian_sweeps};

/// Learning-rate and sigma/hidden-unit sweeps for Gaussian visible units.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Learning rates for sweep (a).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.1,0.05,0.01,0.001", value_parser = crate::cli::numbers::rate)]
    cd_lr_grid: Vec<f64>,
    /// Hidden-unit counts for sweep (b) (exact likelihood up to 20).
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,64,256", value_parser = crate::cli::numbers::count)]
    hidden_grid: Vec<usize>,
    /// Fixed sigmas for sweep (b), in units of the whitened data's std.
    #[arg(long, value_delimiter = ',', default_value = "1.0,0.3", value_parser = crate::cli::numbers::scale)]
    sigma_grid: Vec<f64>,
    /// Epochs of every Gaussian run.
    #[arg(long, default_value_t = 20, value_parser = crate::cli::numbers::count)]
    cd_epochs: usize,
    /// Seed of patches, initialisation and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    run: crate::cli::RunArgs,
    #[command(flatten)]
    shard: crate::cli::ShardArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let device = args.common.device.select()?;
    let (run, config) = crate::cli::Invocation::new::<Args>("gaussian-sweeps", matches)
        .sharded(&args.shard)
        .open(&args.run, || {
            let config = SweepConfig {
                rates: args.cd_lr_grid.clone(),
                hidden: args.hidden_grid.clone(),
                sigmas: args.sigma_grid.clone(),
                epochs: args.cd_epochs,
                seed: args.seed,
                data: args.common.data.data.clone(),
            };
            config.validate()?;
            Ok(config)
        })?;
    if args.shard.report {
        return report(&run, &config, &mut |line| println!("{line}"));
    }
    let shard = args
        .shard
        .shard
        .unwrap_or(crate::run_dir::shard::Shard::WHOLE);
    run_gaussian_sweeps(
        &run,
        &config,
        &args.common.data,
        shard,
        &device,
        &mut |line| println!("{line}"),
    )
}
