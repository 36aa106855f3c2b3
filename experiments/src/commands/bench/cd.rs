//! CD-1 throughput at 784 x 500, batch 100, on MNIST: the trainer's own
//! update step, timed over whole epochs after a warm-up.
//!
//! cargo run --release -- bench cd --device flex
use rbm::{RbmConfig, TrainConfig};

use crate::runs::bench::cd::{CdBench, bench_cd};

/// Benchmark contrastive-divergence updates per second.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Hidden units of the benchmarked RBM (784 visible).
    #[arg(long, default_value_t = 500, value_parser = crate::cli::numbers::count)]
    hidden: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100, value_parser = crate::cli::numbers::count)]
    cd_batch: usize,
    /// Gibbs steps per update (CD-k).
    #[arg(long = "cd-k", default_value_t = 1, value_parser = crate::cli::numbers::count)]
    k: usize,
    /// Persistent CD instead of CD (scikit-learn's BernoulliRBM algorithm:
    /// it samples the visible units, as PCD always does).
    #[arg(long)]
    pcd: bool,
    /// CD with the last visible layer sampled (784 more random numbers per
    /// sample) instead of its conditional mean (the trainer's default,
    /// Hinton's guide 3.3).
    #[arg(long, conflicts_with = "pcd")]
    sampled_reconstruction: bool,
    /// Timed mini-batches (600 = one epoch of MNIST at batch 100).
    #[arg(long, default_value_t = 600)]
    batches: usize,
    /// Untimed mini-batches first.
    #[arg(long, default_value_t = 30)]
    warmup: usize,
    /// Repetitions of the timed part; the best and the median are reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Every flag is checked before any work.
    let config = TrainConfig::new()
        .with_k(args.k)
        .with_persistent(args.pcd)
        .with_mean_field_reconstruction(!args.sampled_reconstruction)
        .with_batch_size(args.cd_batch);
    config.validate()?;
    RbmConfig::new(datasets::MNIST_PIXELS, args.hidden).validate()?;
    if args.repeats == 0 {
        return Err("--repeats must be at least 1".into());
    }
    if args.batches == 0 {
        return Err("--batches must be at least 1".into());
    }
    // MNIST's sizes are known before it is read; other sets are read now.
    let data = args.common.data.prepare()?;
    if args.cd_batch > data.spec.train_images {
        return Err(format!(
            "--cd-batch {} is larger than the {} training images",
            args.cd_batch, data.spec.train_images
        )
        .into());
    }
    let device = args.common.device.select()?;
    let (mnist, line) = data.load()?;
    println!("{line}");
    let bench = CdBench {
        hidden: args.hidden,
        train: config,
        batches: args.batches,
        warmup: args.warmup,
        repeats: args.repeats,
        device_name: args.common.device.device.clone(),
    };
    bench_cd(&bench, &mnist, &device, &mut |line| println!("{line}"))
}
