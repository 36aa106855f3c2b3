//! Up-down (contrastive wake-sleep) throughput of the paper's generative
//! DBN (784-500-500 lower layers, a 510-2000 top RBM with 10 softmax
//! labels; HOT 2006), batch 100, on the first 50,000 MNIST images:
//! `GenerativeDbn::up_down_epoch` as `mnist-generative` runs it, then
//! free-energy classification of the same images (images per second).
//!
//! cargo run --release -- bench updown --device flex
use dbn::UpDownConfig;
use dbn::generative::greedy::hot_updown;

use crate::runs::generative::UPDOWN_RATES;

use crate::runs::bench::updown::{UpdownBench, bench_updown};

/// Benchmark up-down epochs of the paper's generative DBN (samples per second).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training images (the first ones).
    #[arg(long, default_value_t = 50_000)]
    train_rows: usize,
    /// Gibbs steps in the top RBM per update (the paper's schedule: 3, 6, 10).
    #[arg(long, default_value_t = 3, value_parser = crate::cli::numbers::count)]
    gibbs_steps: usize,
    /// Timed epochs (after one untimed warm-up epoch on 1,000 images).
    #[arg(long, default_value_t = 1)]
    updown_epochs: usize,
    /// Up-down momentum (0: no velocity kept) [the `paper` preset's].
    #[arg(long, value_parser = crate::cli::numbers::momentum)]
    updown_momentum: Option<f64>,
    /// Mini-batch size, a multiple of the classes (batches hold each class
    /// equally) [100].
    #[arg(long, default_value_t = 100, value_parser = crate::cli::numbers::count)]
    batch: usize,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.updown_epochs == 0 || args.train_rows == 0 {
        return Err("--updown-epochs and --train-rows must be at least 1".into());
    }
    let data = args.common.data.prepare()?;
    // The presets' up-down (class-balanced batches, mean-field labels) at
    // a fixed number of Gibbs steps.
    let mut rates = UPDOWN_RATES;
    rates.momentum = args.updown_momentum.unwrap_or(rates.momentum);
    let config = UpDownConfig {
        gibbs_schedule: vec![(0, args.gibbs_steps)],
        batch_size: args.batch,
        ..hot_updown(1, data.spec.classes, rates, 1)
    };
    config.validate()?;
    if args.train_rows > data.spec.train_images {
        return Err(format!(
            "--train-rows must be at most the {} training images",
            data.spec.train_images
        )
        .into());
    }
    let device = args.common.device.select()?;
    let (set, line) = data.load()?;
    println!("{line}");
    let bench = UpdownBench {
        train_rows: args.train_rows,
        epochs: args.updown_epochs,
        updown: config,
        device_name: args.common.device.device.clone(),
    };
    bench_updown(&bench, &set, &device, &mut |line| println!("{line}"))
}
