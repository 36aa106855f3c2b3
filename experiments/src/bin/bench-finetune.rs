//! Fine-tuning throughput of the paper's 784-500-500-2000-10 sigmoid net
//! (softmax cross-entropy, SGD momentum 0.9, learning rate 0.1, weight
//! decay 1e-5 unless `--weight-decay` says otherwise, batch 100, no dropout) over the first 50,000 MNIST images, through the project's
//! one Learner path (`dbn::learner::finetune`): the work per
//! sample of `../shared/bench/peer_torch_mlp.py`, plus the Learner's
//! per-epoch validation on `--valid-rows` images and its checkpoint.
//!
//! cargo run --release -p experiments --bin bench-finetune -- --device flex
use std::time::Instant;

use burn::train::Interrupter;
use clap::Parser;
use dbn::learner::{FINETUNE_PHASE, Selection, finetune};
use dbn::{ClassifierConfig, FinetuneConfig};
use experiments::dashboard::dashboard;
use experiments::data::{labelled, layer_sizes};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Benchmark one fine-tuning epoch of 784-500-500-2000-10 (samples per second)"
)]
struct Args {
    /// Training images (the first ones).
    #[arg(long, alias = "rows", default_value_t = 50_000)]
    train_rows: usize,
    /// Images of the Learner's validation pass after each epoch (the
    /// peer has none; keep it small to compare).
    #[arg(long, default_value_t = 100)]
    valid_rows: usize,
    /// Timed epochs (after one untimed warm-up epoch).
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// L2 weight decay of the SGD update (the `paper` preset's 1e-5 by
    /// default; 0 is `peer_torch_mlp.py`'s plain SGD with momentum).
    #[arg(long, default_value_t = 1e-5)]
    weight_decay: f64,
    /// Hidden layer sizes.
    #[arg(long, value_delimiter = ',', default_value = "500,500,2000")]
    hidden: Vec<usize>,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    experiments::run_on_workers(|| run(args))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    ClassifierConfig::new(layer_sizes(datasets::MNIST_PIXELS, &args.hidden), 10).validate()?;
    FinetuneConfig {
        weight_decay: args.weight_decay,
        ..FinetuneConfig::default()
    }
    .validate()?;
    if args.epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }
    if args.train_rows == 0 || args.valid_rows == 0 {
        return Err("--train-rows and --valid-rows must be positive".into());
    }
    let data = args.common.data.prepare()?;
    if args.train_rows + args.valid_rows > data.spec.train_images {
        return Err(format!(
            "--train-rows and --valid-rows must together be at most the {} training images",
            data.spec.train_images
        )
        .into());
    }
    let device = args.common.device.select()?;
    let (set, line) = data.load()?;
    println!("{line}");
    let sizes = layer_sizes(set.dim(), &args.hidden);
    let classes = set.classes;
    let train = labelled(
        &set.train.range(0, args.train_rows),
        classes,
        "training images",
    )?;
    let valid = labelled(
        &set.train
            .range(args.train_rows, args.train_rows + args.valid_rows),
        classes,
        "validation images",
    )?;
    let dir = tempfile_dir()?;
    let interrupter = Interrupter::new();
    let (mut renderer, records) = dashboard(&interrupter, None);
    let mut model = ClassifierConfig::new(sizes.clone(), classes).init(&device, 1);
    let mut rates = Vec::new();
    // Epoch 1 warms up; each later call resumes from the last checkpoint
    // and runs one more epoch, timed on its own.
    for epoch in 1..=args.epochs + 1 {
        let config = FinetuneConfig {
            max_epochs: epoch,
            patience: None,
            lr_decay: 1.0,
            weight_decay: args.weight_decay,
            ..FinetuneConfig::default()
        };
        let started = Instant::now();
        let outcome = finetune(
            model,
            &config,
            train.clone(),
            valid.clone(),
            &dir,
            (epoch > 1).then_some(epoch - 1),
            renderer,
            &records,
            &interrupter,
            FINETUNE_PHASE,
            Selection::Last,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        renderer = outcome.renderer;
        model = outcome.best;
        if epoch > 1 {
            let rate = args.train_rows as f64 / seconds;
            println!("epoch {epoch}: {seconds:.2} s, {rate:.0} samples/s");
            rates.push(rate);
        }
    }
    drop(renderer);
    let _ = std::fs::remove_dir_all(&dir);
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "fine-tuning {} batch 100 on {} ({} images, validation {} images, checkpoint per epoch): median {median:.0} samples/s",
        sizes
            .iter()
            .chain([&10])
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("-"),
        args.common.device.device,
        args.train_rows,
        args.valid_rows
    );
    println!("samples_per_sec={median:.0}");
    Ok(())
}

/// A fresh directory for the Learner's checkpoints under the system's
/// temporary directory.
fn tempfile_dir() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("bench-finetune-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
