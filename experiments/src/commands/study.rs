//! Why pretraining helps (Erhan et al. 2009, lecture 14c): pretrained and
//! randomly initialised networks of several depths, their test errors and
//! their trajectories in function space (t-SNE), resumable unit by unit.
//!
//! cargo run --release -- study --preset quick --out runs/study-quick
use std::time::Instant;

use crate::runs::Outcome;
use crate::runs::study::{Preset, StudyConfig};
use crate::runs::study_run::run_study;

/// Erhan et al. (2009): pretrained vs random networks by depth, in function space.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// quick: depths 1-3 of 500 units, 6 seeds, 10,000 training images,
    /// 10 CD epochs per layer, 30 fine-tuning epochs (minutes on 2 cores);
    /// paper: depths 1-5, 20 seeds, 50,000 images, 10 CD epochs per layer,
    /// 30 fine-tuning epochs (about 5 hours on 2 cores, estimated from quick).
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// Depths (hidden layers), comma-separated [preset's].
    #[arg(long, value_delimiter = ',')]
    depths: Option<Vec<usize>>,
    /// Networks per arm and depth; seeds 1..=N [preset's].
    #[arg(long)]
    seeds: Option<u64>,
    /// Units per hidden layer [500].
    #[arg(long)]
    width: Option<usize>,
    /// Training images (the first ones) [preset's].
    #[arg(long)]
    train_rows: Option<usize>,
    /// CD epochs per layer [preset's].
    #[arg(long)]
    cd_epochs: Option<usize>,
    /// Fine-tuning epochs of both arms [preset's].
    #[arg(long)]
    finetune_epochs: Option<usize>,
    #[command(flatten)]
    run: crate::cli::RunArgs,
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
    }
    config.width = args.width.unwrap_or(config.width);
    config.train_rows = args.train_rows.unwrap_or(config.train_rows);
    if let Some(epochs) = args.cd_epochs {
        config.pretrain = config.pretrain.with_epochs(epochs);
    }
    config.finetune.max_epochs = args.finetune_epochs.unwrap_or(config.finetune.max_epochs);
    config.validate()?;
    Ok(config)
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let device = args.common.device.select()?;
    let (run, config, set, line) = crate::cli::Invocation::new::<Args>("study", matches)
        .open_with_data(&args.run, &args.common.data, |data| {
            config_from_args(&args, data)
        })?;
    println!("{line}");
    let outcome = run_study(&run, &config, &set, &device, &mut |line| println!("{line}"))?;
    outcome.announce_interruption();
    if let Outcome::Finished(lines) = outcome {
        println!(
            "study of {} networks: {:.1} min in this process; wrote {}",
            config.depths.len() * config.seeds.len() * 2,
            started.elapsed().as_secs_f64() / 60.0,
            run.path.display()
        );
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}
