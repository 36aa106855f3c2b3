//! Trains only the top RBM of the generative DBN over the features of given
//! lower layers, reporting the generative classification error on the
//! validation images as it goes: for choosing the top RBM's training.
//!
//! cargo run --release -p experiments --bin top-rbm-sweep -- --lower runs/classify-paper/pretrained.safetensors
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use clap::Parser;

use dbn::{GenerativeDbn, one_hot_rows};
use experiments::data::train_and_valid;
use rbm::{CdTrainer, RbmConfig, TrainConfig, UnitKind};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Train the generative DBN's top RBM alone and watch its validation error"
)]
struct Args {
    /// The lower layers (their first two, 784-500-500).
    #[arg(long)]
    lower: PathBuf,
    /// CD epochs of the top RBM.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// CD learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Learning rate of the last epoch (linear decay from --lr); none: constant.
    #[arg(long)]
    final_lr: Option<f64>,
    /// Gibbs steps of CD-k.
    #[arg(long, default_value_t = 1)]
    cd_k: usize,
    /// Persistent CD.
    #[arg(long = "pcd", alias = "persistent")]
    persistent: bool,
    /// L2 weight cost.
    #[arg(long, default_value_t = 2e-4)]
    weight_decay: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Hidden units of the top RBM.
    #[arg(long, default_value_t = 2000)]
    hidden: usize,
    /// Report the validation error every N epochs.
    #[arg(long, default_value_t = 5)]
    eval_every: usize,
    /// Use only the first N of the 50,000 training images.
    #[arg(long)]
    train_rows: Option<usize>,
    /// Seed of initialisation, shuffling and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    experiments::run_on_workers(|| run(args))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    if args.eval_every == 0 {
        return Err("--eval-every must be at least 1".into());
    }
    if args.train_rows == Some(0) {
        return Err("--train-rows must be at least 1".into());
    }
    let config = TrainConfig::new()
        .with_epochs(args.epochs)
        .with_learning_rate(args.lr)
        .with_final_learning_rate(args.final_lr)
        .with_k(args.cd_k)
        .with_persistent(args.persistent)
        .with_weight_decay(args.weight_decay)
        .with_batch_size(args.batch)
        .with_seed(args.seed);
    config.validate()?;
    // The lower stack is checked (two layers at least) before the data are read.
    let device = args.common.device.select()?;
    let mut lower = dbn::load_stack(&args.lower, &device)?;
    if lower.layers.len() < 2 {
        return Err(format!(
            "{}: the stack has {} layer(s); the generative DBN's lower part needs 2 (784-500-500)",
            args.lower.display(),
            lower.layers.len()
        )
        .into());
    }
    lower.layers.truncate(2);
    let (set, line) = args.common.data.load()?;
    println!("{line}");
    if lower.sizes()[0] != set.dim() {
        return Err(format!(
            "{}: the stack takes {} inputs, the images of {} have {} pixels",
            args.lower.display(),
            lower.sizes()[0],
            args.common.data.data,
            set.dim()
        )
        .into());
    }
    let classes = set.classes;
    let n_visible = lower.sizes()[2] + classes;
    let rbm = RbmConfig::new(n_visible, args.hidden)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: classes });
    rbm.validate()?;
    let rows = args.train_rows.unwrap_or(usize::MAX);
    let valid_rows = set.train.len() / 6;
    let (train, valid) = train_and_valid(&set, rows, valid_rows)?;
    let (train_images, _) = train.tensors(&device);
    let (valid_images, valid_labels) = valid.tensors(&device);
    let labels: Vec<usize> = train.labels().iter().map(|&l| l as usize).collect();
    let features = lower.features(train_images);
    let joint = Tensor::cat(vec![features, one_hot_rows(&labels, classes, &device)?], 1);
    let mut trainer = CdTrainer::new(rbm.init(&device, args.seed), config)?;
    for epoch in 1..=args.epochs {
        let metrics = trainer.train_epoch(&joint, None, |_| {})?;
        if epoch % args.eval_every == 0 || epoch == args.epochs {
            let model = GenerativeDbn::from_greedy(&lower, trainer.rbm().clone())?;
            let error = 100.0 * model.error_rate(&valid_images, &valid_labels, 1000);
            println!(
                "epoch {epoch:>3}  recon {:.5}  valid_error {error:.2}%  {:.1} min",
                metrics.reconstruction_error,
                started.elapsed().as_secs_f64() / 60.0
            );
        }
    }
    Ok(())
}
