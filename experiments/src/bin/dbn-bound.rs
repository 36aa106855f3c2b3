//! The lecture's claim that adding a layer improves a variational lower
//! bound on log p(data), measured exactly on bars-and-stripes: log p(v)
//! under a one-layer RBM, and the bound of the two-layer DBN before the
//! second layer is trained (it starts as the first turned upside down,
//! where the bound equals log p(v)) and after.
//!
//! cargo run --release -p experiments --bin dbn-bound
use clap::Parser;
use dbn::{transposed, variational_bound};
use rbm::{CdTrainer, RbmConfig, Sampler, TrainConfig, exact_log_likelihood, tensor_from_rows};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Exact variational bound of a two-layer DBN on bars-and-stripes"
)]
struct Args {
    /// Side of the bars-and-stripes images (3: 14 patterns of 9 pixels; 4: 30 of 16).
    #[arg(long, default_value_t = 4)]
    side: usize,
    /// Hidden units of both layers (at most 20: the bound enumerates them).
    #[arg(long, default_value_t = 10)]
    hidden: usize,
    /// CD-1 epochs of the first layer (one full batch per epoch).
    #[arg(long, default_value_t = 2000)]
    first_epochs: usize,
    /// Epochs of the second layer on samples of the first layer's posterior.
    #[arg(long, default_value_t = 50)]
    second_epochs: usize,
    /// Repetitions of the measurement, with seeds 1..=N.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    #[command(flatten)]
    device: experiments::DeviceArgs,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    experiments::run_on_workers(|| run(args))
}

/// Sides of bars-and-stripes offered: the patterns of side 6 already
/// number 126 (of 36 pixels); larger ones stop being "small".
const SIDES: std::ops::RangeInclusive<usize> = 2..=6;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Every flag is checked before any work.
    if !SIDES.contains(&args.side) {
        return Err(format!(
            "--side must be in {}..={}, found {}",
            SIDES.start(),
            SIDES.end(),
            args.side
        )
        .into());
    }
    // Both layers are enumerated: the bound sums over the first hidden layer.
    if !(1..=20).contains(&args.hidden) {
        return Err(format!("--hidden must be in 1..=20, found {}", args.hidden).into());
    }
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    for epochs in [args.first_epochs, args.second_epochs] {
        TrainConfig::new().with_epochs(epochs).validate()?;
    }
    let device = args.device.select()?;
    let patterns = datasets::bars_and_stripes(args.side);
    let pixels = args.side * args.side;
    let data = tensor_from_rows(&patterns.concat(), pixels, &device);
    println!(
        "bars-and-stripes {0}x{0}: {1} patterns; layers {pixels}-{2}-{2}; log p in nats per pattern (uniform: {3:.4})",
        args.side,
        patterns.len(),
        args.hidden,
        -(patterns.len() as f64).ln()
    );
    println!(
        "| seed | log p(v), 1 layer | bound, layer 2 = layer 1 transposed | bound, layer 2 trained | gain |"
    );
    println!("|---|---|---|---|---|");
    for seed in 1..=args.seeds {
        let first_config = TrainConfig::new()
            .with_epochs(args.first_epochs)
            .with_batch_size(patterns.len())
            .with_learning_rate(0.1)
            .with_seed(seed);
        let mut first = CdTrainer::new(
            RbmConfig::new(pixels, args.hidden).init(&device, seed),
            first_config,
        )?;
        first.fit(&data, None, |_| {})?;
        let first = first.into_rbm();
        let exact = exact_log_likelihood(&first, &data)?;
        let upper = transposed(&first);
        let before = variational_bound(&first, &upper, &data)?;
        // Layer 2 learns from the first layer's posterior: 100 samples per pattern.
        let samples = first.sample_hidden(
            data.clone().repeat_dim(0, 100),
            &mut Sampler::new(seed + 100),
        );
        let second_config = TrainConfig::new()
            .with_epochs(args.second_epochs)
            .with_batch_size(50)
            .with_learning_rate(0.02)
            .with_init_visible_bias_from_data(false)
            .with_mean_field_reconstruction(false)
            .with_seed(seed);
        let mut second = CdTrainer::new(upper, second_config)?;
        second.fit(&samples, None, |_| {})?;
        let after = variational_bound(&first, second.rbm(), &data)?;
        println!(
            "| {seed} | {exact:.4} | {before:.4} | {after:.4} | {:+.4} |",
            after - before
        );
    }
    Ok(())
}
