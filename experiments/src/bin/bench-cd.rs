//! CD-1 throughput at 784 x 500, batch 100, on MNIST: the trainer's own
//! update step, timed over whole epochs after a warm-up.
//!
//! cargo run --release -p experiments --bin bench-cd -- --device flex
use std::time::Instant;

use clap::Parser;
use datasets::Binarization;
use experiments::data::images_tensor;
use rbm::{CdTrainer, RbmConfig, TrainConfig};

#[derive(Parser, Debug)]
#[command(version, about = "Benchmark contrastive-divergence updates per second")]
struct Args {
    /// Hidden units of the benchmarked RBM (784 visible).
    #[arg(long, default_value_t = 500)]
    hidden: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Gibbs steps per update (CD-k).
    #[arg(long = "cd-k", alias = "k", default_value_t = 1)]
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
    common: experiments::CommonArgs,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    experiments::run_on_workers(|| run(args))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Every flag is checked before any work.
    let config = TrainConfig::new()
        .with_k(args.k)
        .with_persistent(args.pcd)
        .with_mean_field_reconstruction(!args.sampled_reconstruction)
        .with_batch_size(args.batch);
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
    if args.batch > data.spec.train_images {
        return Err(format!(
            "--batch {} is larger than the {} training images",
            args.batch, data.spec.train_images
        )
        .into());
    }
    let device = args.common.device.select()?;
    let (mnist, line) = data.load()?;
    println!("{line}");
    let rbm_config = RbmConfig::new(mnist.dim(), args.hidden);
    // The images on the device in blocks of whole batches of at most
    // 10,000 rows (31 MB): one 188 MB buffer exceeds some wgpu adapters' limit.
    let rows = mnist.train.len();
    let batches_per_epoch = rows / args.batch;
    let batches_per_block = (10_000 / args.batch).max(1);
    let blocks: Vec<_> = (0..batches_per_epoch)
        .step_by(batches_per_block)
        .map(|first| {
            let end = (first + batches_per_block).min(batches_per_epoch) * args.batch;
            images_tensor(
                &mnist.train.range(first * args.batch, end),
                Binarization::None,
                &device,
            )
        })
        .collect();
    let mut trainer = CdTrainer::new(rbm_config.init(&device, 1), config)?;
    let batch_at = |i: usize| {
        let batch = i % batches_per_epoch;
        let start = (batch % batches_per_block) * args.batch;
        blocks[batch / batches_per_block]
            .clone()
            .slice(start..start + args.batch)
    };
    for i in 0..args.warmup {
        trainer.step(batch_at(i), 0.01, 0.5)?;
    }
    sync(&trainer)?;
    let mut rates = Vec::new();
    for repeat in 0..args.repeats {
        let started = Instant::now();
        for i in 0..args.batches {
            trainer.step(batch_at(i), 0.01, 0.9)?;
        }
        sync(&trainer)?;
        let seconds = started.elapsed().as_secs_f64();
        let rate = (args.batches * args.batch) as f64 / seconds;
        println!(
            "repeat {}: {} updates in {seconds:.3} s, {rate:.0} samples/s",
            repeat + 1,
            args.batches
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let best = rates[rates.len() - 1];
    let variant = if args.pcd {
        "PCD (sampled visibles: scikit-learn's work per sample)"
    } else if args.sampled_reconstruction {
        "CD, sampled reconstruction (the peers' CD-1 work per sample: \
         peer_torch_rbm.py and scikit-learn sample the visibles)"
    } else {
        "CD, mean-field reconstruction (the trainer's default: fewer random \
         numbers per sample than the peers; --sampled-reconstruction does their work)"
    };
    println!(
        "{variant}, k = {}, {}x{} batch {} on {}: median {median:.0}, best {best:.0} samples/s",
        args.k, rbm_config.n_visible, args.hidden, args.batch, args.common.device.device
    );
    // The GEMMs per sample: the positive hidden input, 2k conditionals of
    // the chain and the two weight statistics, 2 n_visible n_hidden FLOPs each.
    let flops = 2.0 * (rbm_config.n_visible * args.hidden) as f64 * (3 + 2 * args.k) as f64;
    println!(
        "GEMM work {:.2} MFLOP per sample: {:.0} GFLOP/s at the median",
        flops / 1e6,
        median * flops / 1e9
    );
    println!("samples_per_sec={median:.0}");
    Ok(())
}

/// Waits for the device by reading one value of the model back; a device
/// error (e.g. an allocation the adapter refuses) is an error, not a panic.
fn sync(trainer: &CdTrainer) -> Result<(), Box<dyn std::error::Error>> {
    trainer
        .rbm()
        .hidden_bias
        .val()
        .slice(0..1)
        .try_into_scalar::<f32>()
        .map_err(|e| format!("the device failed: {e:?}"))?;
    Ok(())
}
