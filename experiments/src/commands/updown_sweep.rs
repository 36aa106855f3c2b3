//! Up-down's learning rate, momentum and weight decay chosen on
//! validation, as HOT 2006 chose theirs: one greedy DBN of the preset, then
//! every arm of the grid for `--updown-epochs` epochs at a fixed number of
//! Gibbs steps; `sweep.json` names the arm with the lowest validation error.
//!
//! cargo run --release -- updown-sweep --preset paper --out runs/updown-sweep
use std::path::PathBuf;

use crate::cli::{Invocation, RunArgs};
use crate::commands::generative::{TopRbmArgs, TopStatisticsArg};
use crate::data::DataSpec;
use crate::run_dir::shard::Shard;
use crate::runs::Outcome;
use crate::runs::generative::Preset;
use crate::runs::pretrain::PretrainedSource;
use crate::runs::updown_sweep::{UpDownSweepConfig, report, run_updown_sweep};

/// Choose the generative DBN's up-down rates on validation (HOT 2006).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The greedy recipe and data selection of this `generative` preset
    /// (paper: HOT's 4,400 images per digit, 30 CD epochs per layer).
    #[arg(long, value_enum, default_value_t = Preset::Paper)]
    preset: Preset,
    /// Up-down epochs of every arm.
    #[arg(long, default_value_t = 100, value_parser = crate::cli::numbers::count)]
    updown_epochs: usize,
    /// Gibbs steps in the top RBM per update, every epoch (HOT's first
    /// third: 3).
    #[arg(long, default_value_t = 3, value_parser = crate::cli::numbers::count)]
    gibbs_steps: usize,
    /// Learning rates to try.
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.03", value_parser = crate::cli::numbers::rate)]
    updown_lr_grid: Vec<f64>,
    /// Momenta to try.
    #[arg(long, value_delimiter = ',', default_value = "0,0.9", value_parser = crate::cli::numbers::momentum)]
    updown_momentum_grid: Vec<f64>,
    /// Weight decays (L2 penalty times the learning rate) to try.
    #[arg(long, value_delimiter = ',', default_value = "0.00001,0.0002", value_parser = crate::cli::numbers::penalty)]
    updown_weight_decay_grid: Vec<f64>,
    /// The top RBM's hidden values in every arm's contrastive statistics:
    /// probabilities (this crate's default) or sampled states, as HOT
    /// 2006's appendix B code (whose rates are to be chosen for them).
    #[arg(long, value_enum, default_value_t = TopStatisticsArg::Probabilities)]
    updown_top_statistics: TopStatisticsArg,
    /// Use only the first N of the 50,000 training images (before the
    /// preset's per-class choice).
    #[arg(long)]
    train_rows: Option<usize>,
    /// CD epochs of each lower layer [preset's].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    lower_epochs: Option<usize>,
    /// Take the lower layers from this stack (e.g. a `generative` run's
    /// `pretrained.safetensors` of the same preset and seed: the same
    /// layers without training them again; its first two layers) instead of
    /// training them.
    #[arg(long, conflicts_with = "lower_epochs")]
    pretrained_lower: Option<PathBuf>,
    #[command(flatten)]
    top: TopRbmArgs,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    shard: crate::cli::ShardArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

fn config_from_args(
    args: &Args,
    data: &DataSpec,
) -> Result<UpDownSweepConfig, Box<dyn std::error::Error>> {
    let mut recipe = args.preset.recipe();
    recipe.updown_epochs = args.updown_epochs;
    recipe.train_rows = args.train_rows;
    recipe.seed = args.seed;
    recipe.lower_epochs = args.lower_epochs.unwrap_or(recipe.lower_epochs);
    args.top.amend(&mut recipe);
    recipe.updown_top_statistics = args.updown_top_statistics.into();
    recipe.pretrained_lower = args
        .pretrained_lower
        .as_deref()
        .map(PretrainedSource::from_path)
        .transpose()?;
    // The arms end with up-down: no sampling, so no phase before it.
    recipe.top_pcd = Default::default();
    let mut generative = recipe.config(data)?;
    generative.updown.gibbs_schedule = vec![(0, args.gibbs_steps)];
    let config = UpDownSweepConfig {
        generative,
        learning_rates: args.updown_lr_grid.clone(),
        momenta: args.updown_momentum_grid.clone(),
        weight_decays: args.updown_weight_decay_grid.clone(),
    };
    config.validate()?;
    Ok(config)
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let device = args.common.device.select()?;
    let (run, config, set, line) = Invocation::new::<Args>("updown-sweep", matches)
        .sharded(&args.shard)
        .open_with_data(&args.run, &args.common.data, |data| {
            config_from_args(&args, data)
        })?;
    println!("{line}");
    let outcome = if args.shard.report {
        Outcome::Finished(report(&run, &config, &mut |line| println!("{line}"))?)
    } else {
        let shard = args.shard.shard.unwrap_or(Shard::WHOLE);
        run_updown_sweep(&run, &config, &set, shard, &device, &mut |line| {
            println!("{line}")
        })?
    };
    outcome.announce_interruption();
    if let Outcome::Finished(arms) = outcome
        && let Some(chosen) = arms.first()
    {
        println!("chosen_learning_rate={}", chosen.learning_rate);
        println!("chosen_momentum={}", chosen.momentum);
        println!("chosen_weight_decay={}", chosen.weight_decay);
        println!("chosen_valid_error={:.2}", chosen.best_valid_error_percent);
    }
    Ok(())
}
