//! Fine-tuning throughput of the paper's 784-500-500-2000-10 sigmoid net
//! (softmax cross-entropy, SGD momentum 0.9, learning rate 0.1, weight
//! decay 1e-5 unless `--finetune-weight-decay` says otherwise, batch 100
//! unless `--batch` says otherwise, no dropout unless `--input-dropout` /
//! `--hidden-dropout` say otherwise) over the first 50,000 MNIST images,
//! through the project's one Learner path (`dbn::finetune::learner::finetune`): the work per
//! sample of `../shared/bench/peer_torch_mlp.py`, plus the Learner's
//! per-epoch validation on `--valid-rows` images and its checkpoint.
//!
//! cargo run --release -- bench finetune --device flex
use dbn::{ClassifierConfig, DropoutRates, FinetuneConfig};

use crate::data::layer_sizes;
use crate::runs::bench::finetune::{FinetuneBench, bench_finetune};

/// Benchmark one fine-tuning epoch of 784-500-500-2000-10 (samples per second).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training images (the first ones).
    #[arg(long, default_value_t = 50_000)]
    train_rows: usize,
    /// Images of the Learner's validation pass after each epoch (the
    /// peer has none; keep it small to compare).
    #[arg(long, default_value_t = 100)]
    valid_rows: usize,
    /// Timed epochs (after one untimed warm-up epoch).
    #[arg(long, default_value_t = 2)]
    finetune_epochs: usize,
    /// L2 weight decay of the SGD update (the `paper` preset's 1e-5 by
    /// default; 0 is `peer_torch_mlp.py`'s plain SGD with momentum).
    #[arg(long, default_value_t = 1e-5, value_parser = crate::cli::numbers::penalty)]
    finetune_weight_decay: f64,
    /// Dropout probability of the input pixels (the peer has none; the
    /// `paper` preset's is 0.1).
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::numbers::dropout)]
    input_dropout: f64,
    /// Dropout probability of the hidden units (the `paper` preset's is
    /// 0.25).
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::numbers::dropout)]
    hidden_dropout: f64,
    /// Hidden layer sizes.
    #[arg(long, value_delimiter = ',', default_value = "500,500,2000", value_parser = crate::cli::numbers::count)]
    hidden: Vec<usize>,
    /// Mini-batch size (`peer_torch_mlp.py`'s `PEER_BATCH`).
    #[arg(long, default_value_t = 100, value_parser = crate::cli::numbers::count)]
    batch: usize,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    ClassifierConfig::new(layer_sizes(datasets::MNIST_PIXELS, &args.hidden), 10).validate()?;
    let dropout = DropoutRates {
        input: args.input_dropout,
        hidden: args.hidden_dropout,
    };
    FinetuneConfig {
        weight_decay: args.finetune_weight_decay,
        batch_size: args.batch,
        dropout,
        ..FinetuneConfig::default()
    }
    .validate()?;
    if args.batch > args.train_rows {
        return Err(format!(
            "--batch {} is larger than --train-rows {}",
            args.batch, args.train_rows
        )
        .into());
    }
    if args.finetune_epochs == 0 {
        return Err("--finetune-epochs must be at least 1".into());
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
    let bench = FinetuneBench {
        train_rows: args.train_rows,
        valid_rows: args.valid_rows,
        epochs: args.finetune_epochs,
        weight_decay: args.finetune_weight_decay,
        dropout,
        hidden: args.hidden.clone(),
        batch: args.batch,
        device_name: args.common.device.device.clone(),
    };
    bench_finetune(&bench, &set, &device, &mut |line| println!("{line}"))
}
