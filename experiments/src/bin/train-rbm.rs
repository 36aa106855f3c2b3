//! Trains a 784 x N RBM on MNIST with CD-k or PCD-k.
//!
//! cargo run --release -p experiments --bin train-rbm -- --epochs 20 --hidden 500 --out runs/rbm
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Parser;
use experiments::mnist::{BinarizeMode, images_tensor};
use experiments::rbm_run::{RbmRunConfig, write_filters, write_reconstructions, write_samples};
use experiments::run_dir::RunDir;
use rbm::{
    CdTrainer, Progress, RbmConfig, TrainConfig, load_rbm, load_trainer_state, save_rbm,
    save_trainer_state,
};

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
    /// Output directory.
    #[arg(long, default_value = "runs/train-rbm")]
    out: PathBuf,
    /// Continue the interrupted run in --out from its last checkpoint, with
    /// the configuration saved in its config.json (other flags are ignored).
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

fn main() -> std::process::ExitCode {
    experiments::report(run(Args::parse()))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (device, mnist, line) = args.common.device_and_mnist()?;
    println!("{line}");
    let run = RunDir::create(&args.out)?;
    let run_config = if args.resume {
        let config = RbmRunConfig::load(&args.out)?;
        println!("resuming {} with its config.json", args.out.display());
        config
    } else {
        run_config_from_args(&args, mnist.train.len())?
    };
    let total = mnist.train.len();
    let split = total - run_config.held_out;
    let rows = run_config.train_rows;
    let binarization = run_config.binarize.with_seed(run_config.binarize_seed);
    let train = images_tensor(&mnist.train.range(0, rows), binarization, &device);
    let held_out = (run_config.held_out > 0)
        .then(|| images_tensor(&mnist.train.range(split, total), binarization, &device));
    let rbm_config = run_config.rbm.clone();
    let train_config = run_config.train.clone();
    let model_file = run.file("model.safetensors");
    let state_file = run.file("trainer.safetensors");
    let mut trainer = if args.resume {
        let (rbm, _) = load_rbm(&model_file, &device)?;
        let state = load_trainer_state(
            &state_file,
            rbm_config.n_visible,
            rbm_config.n_hidden,
            &device,
        )?;
        println!(
            "checkpoint: {} of {} epochs done",
            state.epochs_done, train_config.epochs
        );
        CdTrainer::resume(rbm, train_config.clone(), state)?
    } else {
        run.write_json("config.json", &run_config)?;
        let _ = std::fs::remove_file(run.file("metrics.jsonl"));
        CdTrainer::new(
            rbm_config.init(&device, train_config.seed),
            train_config.clone(),
        )?
    };
    println!(
        "training 784x{} RBM, {}-{}, {} images ({}), {} epochs on {}",
        rbm_config.n_hidden,
        if train_config.persistent { "PCD" } else { "CD" },
        train_config.k,
        rows,
        binarization.describe(),
        train_config.epochs,
        args.common.device.device
    );
    // A live progress line only on a terminal; logs get one line per epoch.
    let live = std::io::stderr().is_terminal();
    while trainer.epochs_done() < train_config.epochs {
        let metrics = trainer.train_epoch(&train, held_out.as_ref(), |p| {
            if let Progress::Batch {
                epoch,
                batch,
                batches,
            } = p
                && live
                && batch % 100 == 0
            {
                eprint!("\repoch {epoch}: batch {batch}/{batches}   ");
            }
        })?;
        if live {
            eprint!("\r");
        }
        println!(
            "epoch {:>3}  recon {:.5}  held-out recon {}  F gap {}  {:.0} samples/s  {:.1} s",
            metrics.epoch,
            metrics.reconstruction_error,
            metrics
                .held_out_reconstruction_error
                .map_or("-".into(), |v| format!("{v:.5}")),
            metrics
                .free_energy_gap
                .map_or("-".into(), |v| format!("{v:+.2}")),
            metrics.samples_per_second,
            metrics.wall_seconds
        );
        // The checkpoint of every epoch replaces the last, atomically: an
        // interrupted run loses at most the epoch in progress (--resume).
        save_rbm(trainer.rbm(), &rbm_config, &model_file)?;
        save_trainer_state(&trainer.state(), &state_file)?;
        // Metrics only for checkpointed epochs, so a resumed run repeats none.
        run.append_jsonl("metrics.jsonl", &metrics)?;
    }
    let rbm = trainer.rbm();
    write_filters(rbm, 100, 28, &run.file("filters.png"))?;
    let shown = images_tensor(&mnist.test.head(50), binarization, &device);
    write_reconstructions(rbm, shown, &run.file("reconstructions.png"))?;
    write_samples(rbm, 100, 1000, train_config.seed, &run.file("samples.png"))?;
    println!("wrote {}", run.path.display());
    Ok(())
}

/// The run's configuration from the command line, validated.
fn run_config_from_args(
    args: &Args,
    total: usize,
) -> Result<RbmRunConfig, Box<dyn std::error::Error>> {
    if args.held_out >= total {
        return Err(format!(
            "--held-out {} leaves no training images (of {total})",
            args.held_out
        )
        .into());
    }
    let available = total - args.held_out;
    let rbm = RbmConfig::new(784, args.hidden);
    rbm.validate()?;
    let train = TrainConfig::new()
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
    train.validate()?;
    Ok(RbmRunConfig {
        rbm,
        train,
        binarize: args.binarize,
        binarize_seed: args.binarize_seed,
        held_out: args.held_out,
        train_rows: args.train_rows.unwrap_or(available).min(available),
        device: args.common.device.device.clone(),
    })
}
