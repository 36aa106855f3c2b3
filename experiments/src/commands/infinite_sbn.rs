//! An RBM is an infinite sigmoid belief net with tied weights (lecture
//! 14e), measured exactly on an 8 x 6 RBM: generation, inference and
//! learning of the directed net against the RBM's own answers.
//!
//! cargo run --release -- infinite-sbn
use rbm::TrainConfig;

use crate::runs::infinite_sbn::{InfiniteSbnConfig, measure_infinite_sbn};

/// RBM = infinite sigmoid belief net, checked exactly on an 8 x 6 RBM.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Standard deviation of the random RBM's weights.
    #[arg(long, default_value_t = 1.0)]
    weight_std: f64,
    /// CD-1 epochs of the trained RBM (on 4 patterns of 8 pixels).
    #[arg(long, default_value_t = 2000, value_parser = crate::cli::numbers::count)]
    cd_epochs: usize,
    /// Numbers of directed layers to report, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8,16,32,64,256,1024,4096,16384"
    )]
    layers: Vec<usize>,
    /// Seed of the random RBM, the training and the random top distribution.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    device: crate::device::DeviceArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if !(args.weight_std.is_finite() && args.weight_std > 0.0) {
        return Err(format!("--weight-std must be positive, found {}", args.weight_std).into());
    }
    if args.layers.is_empty() || args.layers.contains(&0) {
        return Err("--layers needs positive numbers of layers".into());
    }
    TrainConfig::new().with_epochs(args.cd_epochs).validate()?;
    let device = args.device.select()?;
    let config = InfiniteSbnConfig {
        weight_std: args.weight_std,
        cd_epochs: args.cd_epochs,
        layers: args.layers.clone(),
        seed: args.seed,
    };
    measure_infinite_sbn(&config, &device, &mut |line| println!("{line}"))
}
