//! Up-down (contrastive wake-sleep) throughput of the paper's generative
//! DBN (784-500-500 lower layers, a 510-2000 top RBM with 10 softmax
//! labels; HOT 2006), batch 100, on the first 50,000 MNIST images:
//! `GenerativeDbn::up_down_epoch` as `mnist-generative` runs it.
//!
//! cargo run --release -p experiments --bin bench-updown -- --device flex
use clap::Parser;
use dbn::{GenerativeDbn, RbmStack, UpDownConfig, one_hot_rows};
use experiments::data::images_tensor;
use rbm::{RbmConfig, UnitKind};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Benchmark up-down epochs of the paper's generative DBN (samples per second)"
)]
struct Args {
    /// Training images (the first ones).
    #[arg(long, alias = "rows", default_value_t = 50_000)]
    train_rows: usize,
    /// Gibbs steps in the top RBM per update (the paper's schedule: 3, 6, 10).
    #[arg(long, default_value_t = 3)]
    gibbs_steps: usize,
    /// Timed epochs (after one untimed warm-up epoch on 1,000 images).
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    experiments::run_on_workers(|| run(args))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = UpDownConfig {
        epochs: 1,
        batch_size: 100,
        learning_rate: 0.01,
        weight_decay: 1e-5,
        gibbs_schedule: vec![(0, args.gibbs_steps)],
        seed: 1,
    };
    config.validate()?;
    if args.epochs == 0 || args.train_rows == 0 {
        return Err("--epochs and --train-rows must be at least 1".into());
    }
    let data = args.common.data.prepare()?;
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
    let split = set.train.range(0, args.train_rows);
    let images = images_tensor(&split, datasets::Binarization::None, &device);
    let classes: Vec<usize> = split.labels.iter().map(|&l| l as usize).collect();
    let labels = one_hot_rows(&classes, set.classes, &device)?;
    let lower = RbmStack::new(vec![
        RbmConfig::new(set.dim(), 500).init(&device, 1),
        RbmConfig::new(500, 500).init(&device, 2),
    ]);
    let top = RbmConfig::new(500 + set.classes, 2000)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: set.classes })
        .init(&device, 3);
    let mut model = GenerativeDbn::from_greedy(&lower, top)?;
    let warm = args.train_rows.min(1000);
    model.up_down_epoch(
        &images.clone().slice(0..warm),
        &labels.clone().slice(0..warm),
        &config,
        0,
        |_, _| {},
    )?;
    let mut rates = Vec::new();
    for epoch in 0..args.epochs {
        // The epoch's metrics read the device back: its time is honest.
        let metrics = model.up_down_epoch(&images, &labels, &config, epoch, |_, _| {})?;
        let rate = args.train_rows as f64 / metrics.seconds;
        println!(
            "epoch {}: {:.1} s, {rate:.0} samples/s (Gibbs steps {})",
            epoch + 1,
            metrics.seconds,
            metrics.gibbs_steps
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "up-down {}-500-500 + {}-2000, batch 100, {} Gibbs steps, on {}: median {median:.0} samples/s",
        set.dim(),
        500 + set.classes,
        args.gibbs_steps,
        args.common.device.device
    );
    println!("samples_per_sec={median:.0}");
    Ok(())
}
