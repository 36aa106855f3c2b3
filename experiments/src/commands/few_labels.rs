//! Few labels (lecture 14b): a DBN pretrained on all 50,000 training
//! images without labels, fine-tuned with only N labelled ones, against the
//! same network from a random initialisation; test error against N.
//!
//! cargo run --release -- few-labels --preset quick --out runs/few-labels
use crate::runs::Outcome;
use crate::runs::few_labels::{FewLabelsConfig, Preset, run_few_labels};

/// Test error against the number of labelled images, with and without pretraining.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// Labelled images, comma-separated multiples of the number of classes
    /// (10 for MNIST), or `all` [100,600,1000,3000,all].
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Runs per arm and N; seeds 1..=N [preset's].
    #[arg(long)]
    seeds: Option<u64>,
    /// Fine-tuning epochs [preset's].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    finetune_epochs: Option<usize>,
    /// Hidden layer sizes, comma-separated [preset's: 500,500 or 500,500,2000].
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::numbers::count)]
    hidden: Option<Vec<usize>>,
    /// CD epochs per pretrained layer [preset's].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    cd_epochs: Option<usize>,
    #[command(flatten)]
    run: crate::cli::RunArgs,
    #[command(flatten)]
    shard: crate::cli::ShardArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

/// The preset's configuration with the flags' values, validated.
fn config_from_args(
    args: &Args,
    data: &crate::data::DataSpec,
) -> Result<FewLabelsConfig, Box<dyn std::error::Error>> {
    let mut config = args.preset.config(data);
    if let Some(values) = &args.labels {
        config.label_counts = values
            .iter()
            .map(|v| match v.as_str() {
                "all" => Ok(None),
                n => n
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| format!("--labels: `{n}` is neither a number nor `all`")),
            })
            .collect::<Result<Vec<_>, _>>()?;
    }
    if let Some(seeds) = args.seeds {
        config.seeds = (1..=seeds).collect();
    }
    config.finetune.max_epochs = args.finetune_epochs.unwrap_or(config.finetune.max_epochs);
    if let Some(hidden) = &args.hidden {
        config.hidden = hidden.clone();
    }
    if let Some(epochs) = args.cd_epochs {
        config.pretrain = config.pretrain.with_epochs(epochs);
    }
    config.validate()?;
    Ok(config)
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let device = args.common.device.select()?;
    let (run, config, set, line) = crate::cli::Invocation::new::<Args>("few-labels", matches)
        .sharded(&args.shard)
        .open_with_data(&args.run, &args.common.data, |data| {
            config_from_args(&args, data)
        })?;
    println!("{line}");
    if args.shard.report {
        for line in crate::runs::few_labels::report(&run, &config)? {
            println!("{line}");
        }
        return Ok(());
    }
    let shard = args
        .shard
        .shard
        .unwrap_or(crate::run_dir::shard::Shard::WHOLE);
    let outcome = run_few_labels(&run, &config, &set, shard, &device, &mut |line| {
        println!("{line}")
    })?;
    outcome.announce_interruption();
    if let Outcome::Finished(lines) = outcome {
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}
