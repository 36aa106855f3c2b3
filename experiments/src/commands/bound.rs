//! The lecture's claim that adding a layer improves a variational lower
//! bound on log p(data), measured exactly on bars-and-stripes: log p(v)
//! under a one-layer RBM, and the bound of the two-layer DBN before the
//! second layer is trained (it starts as the first turned upside down,
//! where the bound equals log p(v)) and after.
//!
//! cargo run --release -- bound
use rbm::TrainConfig;

use crate::runs::bound::{BoundConfig, measure_bound};

/// Exact variational bound of a two-layer DBN on bars-and-stripes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Side of the bars-and-stripes images (3: 14 patterns of 9 pixels; 4: 30 of 16).
    #[arg(long, default_value_t = 4)]
    side: usize,
    /// Hidden units of both layers (at most 20: the bound enumerates them).
    #[arg(long, default_value_t = 10)]
    hidden: usize,
    /// CD-1 epochs of the first layer (one full batch per epoch).
    #[arg(long, default_value_t = 2000, value_parser = crate::cli::numbers::count)]
    first_epochs: usize,
    /// Epochs of the second layer on samples of the first layer's posterior.
    #[arg(long, default_value_t = 50, value_parser = crate::cli::numbers::count)]
    second_epochs: usize,
    /// Repetitions of the measurement, with seeds 1..=N.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    #[command(flatten)]
    device: crate::device::DeviceArgs,
}

/// Sides of bars-and-stripes offered: the patterns of side 6 already
/// number 126 (of 36 pixels); larger ones stop being "small".
const SIDES: std::ops::RangeInclusive<usize> = 2..=6;

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Every flag is checked before any work.
    if !SIDES.contains(&args.side) {
        return Err(format!(
            "--side must be in {}..={}, found {}",
            SIDES.start(),
            SIDES.end(),
            args.side
        )
        .into());
    }
    // Both layers are enumerated: the bound sums over the first hidden layer.
    if !(1..=20).contains(&args.hidden) {
        return Err(format!("--hidden must be in 1..=20, found {}", args.hidden).into());
    }
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    for epochs in [args.first_epochs, args.second_epochs] {
        TrainConfig::new().with_epochs(epochs).validate()?;
    }
    let device = args.device.select()?;
    let config = BoundConfig {
        side: args.side,
        hidden: args.hidden,
        first_epochs: args.first_epochs,
        second_epochs: args.second_epochs,
        seeds: args.seeds,
    };
    measure_bound(&config, &device, &mut |line| println!("{line}"))
}
