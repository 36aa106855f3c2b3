//! Why pretraining helps (Erhan et al. 2009, lecture 14c): pretrained and
//! randomly initialised networks of several depths, their test errors and
//! their trajectories in function space (t-SNE), by Erhan's recipe
//! (initialisation, plain SGD, rates chosen on validation); resumable
//! epoch by epoch.
//!
//! cargo run --release -- study --preset quick --out runs/study-quick
use std::time::Instant;

use crate::run_dir::shard::Shard;
use crate::runs::Outcome;
use crate::runs::study::{Preset, StudyConfig};
use crate::runs::study_run::{report_committed, run_study};

/// Erhan et al. (2009): pretrained vs random networks by depth, in function space.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// quick: depths 1-5 of 500 units, 10 seeds, 10,000 / 1,000 images,
    /// 5 CD epochs per layer, 8 SGD epochs at mini-batch 10, rates
    /// 0.1/0.3/1/3 chosen per depth on 2 seeds (under an hour on 2 cores);
    /// paper: 20 seeds, 50,000 / 10,000 images, 50 + 50 epochs, 3 grid
    /// seeds, the momentum arm too (hours; resumable).
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// Depths (hidden layers), comma-separated [preset's].
    #[arg(long, value_delimiter = ',')]
    depths: Option<Vec<usize>>,
    /// Networks per arm and depth; seeds 1..=N [preset's].
    #[arg(long)]
    seeds: Option<u64>,
    /// Units per hidden layer [500].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    width: Option<usize>,
    /// Training images (the first ones) [preset's].
    #[arg(long)]
    train_rows: Option<usize>,
    /// Validation images, after the training ones: the rate choice [preset's].
    #[arg(long)]
    valid_rows: Option<usize>,
    /// CD epochs per layer of the pretrained arm [preset's].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    cd_epochs: Option<usize>,
    /// Supervised SGD epochs of every network [preset's].
    #[arg(long)]
    finetune_epochs: Option<usize>,
    /// Mini-batch of the SGD arms; 1 is Erhan's per-example update [10].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Constant learning rates tried per depth and SGD arm, comma-separated [0.1,0.3,1,3].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    rates: Option<Vec<f64>>,
    /// The first N seeds train at every rate; the rest at the rate chosen [preset's].
    #[arg(long)]
    grid_seeds: Option<usize>,
    /// Also run the labelled later recipe: Glorot x4 initialisation,
    /// momentum 0.9, rate 0.1 x 0.95 per epoch, mini-batch 100 [paper: on].
    #[arg(long)]
    momentum_arm: bool,
    /// Test images whose outputs trace each network's trajectory in
    /// function space [preset's: 500].
    #[arg(long)]
    probe_images: Option<usize>,
    #[command(flatten)]
    run: crate::cli::RunArgs,
    #[command(flatten)]
    shard: crate::cli::ShardArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

/// The preset, then the flags, validated.
fn config_from_args(
    args: &Args,
    data: &crate::data::DataSpec,
) -> Result<StudyConfig, Box<dyn std::error::Error>> {
    let mut config = args.preset.config();
    config.data = data.clone();
    if let Some(depths) = &args.depths {
        config.depths = depths.clone();
    }
    if let Some(seeds) = args.seeds {
        config.seeds = (1..=seeds).collect();
        config.grid_seeds = config.grid_seeds.min(config.seeds.len().max(1));
    }
    config.width = args.width.unwrap_or(config.width);
    config.train_rows = args.train_rows.unwrap_or(config.train_rows);
    config.valid_rows = args.valid_rows.unwrap_or(config.valid_rows);
    if let Some(epochs) = args.cd_epochs {
        config.pretrain = config.pretrain.with_epochs(epochs);
    }
    config.finetune_epochs = args.finetune_epochs.unwrap_or(config.finetune_epochs);
    config.batch_size = args.batch_size.unwrap_or(config.batch_size);
    if let Some(rates) = &args.rates {
        config.rates = rates.clone();
    }
    config.grid_seeds = args.grid_seeds.unwrap_or(config.grid_seeds);
    if args.momentum_arm && config.momentum_arm.is_none() {
        config.momentum_arm = Some(crate::runs::study::MomentumRecipe::default());
    }
    config.probe_images = args.probe_images.unwrap_or(config.probe_images);
    config.validate()?;
    Ok(config)
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let device = args.common.device.select()?;
    let (run, config, set, line) = crate::cli::Invocation::new::<Args>("study", matches)
        .sharded(&args.shard)
        .open_with_data(&args.run, &args.common.data, |data| {
            config_from_args(&args, data)
        })?;
    println!("{line}");
    if args.shard.report {
        let lines = report_committed(&run, &config, &device, &mut |line| println!("{line}"))?;
        for line in lines {
            println!("{line}");
        }
        return Ok(());
    }
    let shard = args.shard.shard.unwrap_or(Shard::WHOLE);
    let outcome = run_study(&run, &config, &set, shard, &device, &mut |line| {
        println!("{line}")
    })?;
    outcome.announce_interruption();
    if let Outcome::Finished(lines) = outcome {
        println!(
            "study of {} networks: {:.1} min in this process; wrote {}",
            config.depths.len() * config.seeds.len() * config.arms().len(),
            started.elapsed().as_secs_f64() / 60.0,
            run.path.display()
        );
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}
