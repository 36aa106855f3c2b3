//! The matrix products of one fine-tuning step of 784-500-500-2000-10 at
//! batch 100, alone (milliseconds per step): how much of the fine-tuning
//! speed is the GEMM's. `scripts/peer-torch-products.py` is its peer.
//!
//! cargo run --release -- bench products --device flex
use crate::data::layer_sizes;
use crate::runs::bench::products::{ProductsBench, bench_products};

/// Benchmark the matrix products of one fine-tuning step (ms per step).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hidden layer sizes (784 inputs below them, 10 classes above).
    #[arg(long, value_delimiter = ',', default_value = "500,500,2000")]
    hidden: Vec<usize>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Timed steps per repeat.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Repetitions of the timed part; the best and the median are reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[command(flatten)]
    device: crate::device::DeviceArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    for (flag, value) in [
        ("--batch", args.batch),
        ("--steps", args.steps),
        ("--repeats", args.repeats),
    ] {
        if value == 0 {
            return Err(format!("{flag} must be at least 1").into());
        }
    }
    if args.hidden.contains(&0) {
        return Err(format!("--hidden {:?}: every layer needs a unit", args.hidden).into());
    }
    let device = args.device.select()?;
    let bench = ProductsBench {
        sizes: layer_sizes(datasets::MNIST_PIXELS, &args.hidden)
            .into_iter()
            .chain([10])
            .collect(),
        batch: args.batch,
        steps: args.steps,
        warmup: args.warmup,
        repeats: args.repeats,
        device_name: args.device.device.clone(),
    };
    bench_products(&bench, &device, &mut |line| println!("{line}"))
}
