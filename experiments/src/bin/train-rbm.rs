//! Trains a 784 x N RBM on MNIST with CD-k or PCD-k.
//!
//! cargo run --release -p experiments --bin train-rbm -- --epochs 20 --hidden 500 --out runs/rbm
use std::path::PathBuf;

use clap::Parser;
use experiments::mnist::{BinarizeMode, MnistArgs, images_tensor};
use experiments::rbm_run::{RbmRunConfig, write_filters, write_reconstructions, write_samples};
use experiments::run_dir::RunDir;
use rbm::{CdTrainer, Progress, RbmConfig, TrainConfig, save_rbm};

#[derive(Parser, Debug)]
#[command(about = "Train an RBM on MNIST with contrastive divergence")]
struct Args {
    /// Passes over the training images.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Hidden units.
    #[arg(long, default_value_t = 500)]
    hidden: usize,
    /// Gibbs steps per update (CD-k / PCD-k).
    #[arg(long, default_value_t = 1)]
    k: usize,
    /// Persistent contrastive divergence.
    #[arg(long)]
    pcd: bool,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Learning rate of the last epoch (linear decay); default: constant.
    #[arg(long)]
    final_lr: Option<f64>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// L2 weight cost.
    #[arg(long, default_value_t = 0.0002)]
    weight_decay: f64,
    /// Momentum for the first 5 epochs, then --final-momentum.
    #[arg(long, default_value_t = 0.5)]
    momentum: f64,
    #[arg(long, default_value_t = 0.9)]
    final_momentum: f64,
    /// How pixels become visible units.
    #[arg(long, value_enum, default_value_t = BinarizeMode::Stochastic)]
    binarize: BinarizeMode,
    /// Seed of the stochastic binarisation (train and test).
    #[arg(long, default_value_t = 0)]
    binarize_seed: u64,
    /// Last training images held out to monitor overfitting (0: train on all 60,000).
    #[arg(long, default_value_t = 10_000)]
    held_out: usize,
    /// Use only the first N training images (after the hold-out).
    #[arg(long)]
    train_rows: Option<usize>,
    /// Seed for initialisation, shuffling and sampling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Compute device: flex, ndarray, wgpu, vulkan, cuda[:N].
    #[arg(long, default_value = "flex")]
    device: String,
    /// Output directory.
    #[arg(long, default_value = "runs/train-rbm")]
    out: PathBuf,
    #[command(flatten)]
    mnist: MnistArgs,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = experiments::select_device(&args.device)?;
    let (mnist, line) = args.mnist.load()?;
    println!("{line}");
    let total = mnist.train.len();
    if args.held_out >= total {
        return Err(format!("--held-out {} leaves no training images (of {total})", args.held_out).into());
    }
    let split = total - args.held_out;
    let rows = args.train_rows.unwrap_or(split).min(split);
    let binarization = args.binarize.with_seed(args.binarize_seed);
    let train = images_tensor(&mnist.train.range(0, rows), binarization, &device);
    let held_out = (args.held_out > 0).then(|| images_tensor(&mnist.train.range(split, total), binarization, &device));

    let rbm_config = RbmConfig::new(784, args.hidden);
    rbm_config.validate()?;
    let train_config = TrainConfig::new()
        .with_epochs(args.epochs)
        .with_k(args.k)
        .with_persistent(args.pcd)
        .with_learning_rate(args.lr)
        .with_final_learning_rate(args.final_lr)
        .with_batch_size(args.batch)
        .with_weight_decay(args.weight_decay)
        .with_initial_momentum(args.momentum)
        .with_final_momentum(args.final_momentum)
        .with_seed(args.seed);
    train_config.validate()?;
    let run = RunDir::create(&args.out)?;
    let run_config = RbmRunConfig {
        rbm: rbm_config.clone(),
        train: train_config.clone(),
        binarize: args.binarize,
        binarize_seed: args.binarize_seed,
        held_out: args.held_out,
        train_rows: rows,
        device: args.device.clone(),
    };
    run.write_json("config.json", &run_config)?;
    let _ = std::fs::remove_file(run.file("metrics.jsonl"));
    println!(
        "training 784x{} RBM, {}-{}, {} images ({}), {} epochs on {}",
        args.hidden,
        if args.pcd { "PCD" } else { "CD" },
        args.k,
        rows,
        binarization.describe(),
        args.epochs,
        args.device
    );

    let mut trainer = CdTrainer::new(rbm_config.init(&device, args.seed), train_config)?;
    let model_file = run.file("model.safetensors");
    for _ in 0..args.epochs {
        let metrics = trainer.train_epoch(&train, held_out.as_ref(), |p| {
            if let Progress::Batch { epoch, batch, batches } = p
                && batch % 100 == 0
            {
                eprint!("\repoch {epoch}: batch {batch}/{batches}   ");
            }
        })?;
        eprint!("\r");
        println!(
            "epoch {:>3}  recon {:.5}  held-out recon {}  F gap {}  {:.0} samples/s  {:.1} s",
            metrics.epoch,
            metrics.reconstruction_error,
            metrics.held_out_reconstruction_error.map_or("-".into(), |v| format!("{v:.5}")),
            metrics.free_energy_gap.map_or("-".into(), |v| format!("{v:+.2}")),
            metrics.samples_per_second,
            metrics.wall_seconds
        );
        run.append_jsonl("metrics.jsonl", &metrics)?;
        // The checkpoint of every epoch replaces the last, atomically.
        save_rbm(trainer.rbm(), &rbm_config, &model_file)?;
    }
    let rbm = trainer.rbm();
    write_filters(rbm, 100, &run.file("filters.png"))?;
    let shown = images_tensor(&mnist.test.head(50), binarization, &device);
    write_reconstructions(rbm, shown, &run.file("reconstructions.png"))?;
    write_samples(rbm, 100, 1000, args.seed, &run.file("samples.png"))?;
    println!("wrote {}", run.path.display());
    Ok(())
}
