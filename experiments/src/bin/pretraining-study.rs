//! Why pretraining helps (Erhan et al. 2009, lecture 14c): pretrained and
//! randomly initialised networks of several depths, their test errors and
//! their trajectories in function space (t-SNE), resumable unit by unit.
//!
//! cargo run --release -p experiments --bin pretraining-study -- --preset quick --out runs/study-quick
use std::path::PathBuf;
use std::time::Instant;

use burn::train::Interrupter;
use clap::Parser;
use experiments::dashboard::dashboard;
use experiments::study::{Preset, StudyConfig, StudyData, run_unit, unit_name};
use experiments::study_report::report;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Erhan et al. (2009): pretrained vs random networks by depth, in function space"
)]
struct Args {
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
    pretrain_epochs: Option<usize>,
    /// Fine-tuning epochs of both arms [preset's].
    #[arg(long)]
    epochs: Option<usize>,
    /// Output directory (a fresh study refuses a non-empty one).
    #[arg(long, default_value = "runs/pretraining-study")]
    out: PathBuf,
    /// Continue the study in --out with its config.json (committed units are kept).
    #[arg(long)]
    resume: bool,
    /// Delete the study in --out first.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

const BINARY: &str = "pretraining-study";

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let (args, matches) = experiments::cli::parse::<Args>();
    experiments::run_on_workers(|| run(args, &matches))
}

/// The preset, then the flags, validated.
fn config_from_args(
    args: &Args,
    data: &experiments::data::DataSpec,
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
    if let Some(epochs) = args.pretrain_epochs {
        config.pretrain = config.pretrain.with_epochs(epochs);
    }
    config.finetune.max_epochs = args.epochs.unwrap_or(config.finetune.max_epochs);
    config.validate()?;
    Ok(config)
}

fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let device = args.common.device.select()?;
    let (run, config, set, line) = experiments::cli::open_data_run::<Args, StudyConfig, _>(
        matches,
        BINARY,
        &args.out,
        args.resume,
        args.overwrite,
        &[],
        &args.common.data,
        |data| config_from_args(&args, data),
        StudyConfig::validate,
        |config| &config.data,
    )?;
    println!("{line}");
    let data = StudyData::new(&set, &config, &device)?;
    let interrupter = Interrupter::new();
    let (mut renderer, records) = dashboard(&interrupter, Some((run.clone(), "metrics.jsonl")));
    for &seed in &config.seeds {
        let mut stack = None;
        for &depth in &config.depths {
            for arm in experiments::study::Arm::BOTH {
                let name = unit_name(depth, seed, arm);
                if experiments::study::load_unit(&run, &name)?.is_some() {
                    continue;
                }
                if arm == experiments::study::Arm::Pretrained && stack.is_none() {
                    stack = experiments::study::pretrained_stack(
                        &run,
                        &config,
                        seed,
                        &data,
                        renderer.as_mut(),
                        &interrupter,
                    )?;
                    if stack.is_none() {
                        println!("interrupted; continue with --resume");
                        return Ok(());
                    }
                }
                let from = if arm == experiments::study::Arm::Pretrained {
                    stack.as_ref()
                } else {
                    None
                };
                let keep_model = seed == config.seeds[0];
                let (unit, back) = run_unit(
                    &run,
                    &config,
                    depth,
                    seed,
                    from,
                    keep_model,
                    &data,
                    renderer,
                    &records,
                    &interrupter,
                )?;
                renderer = back;
                let Some(unit) = unit else {
                    println!("interrupted; continue with --resume");
                    return Ok(());
                };
                println!(
                    "{name}: test error {:.2}% ({:.0} s)",
                    unit.result.test_error_percent, unit.result.seconds
                );
            }
        }
    }
    drop(renderer);
    let lines = report(&run, &config, &data, &device)?;
    println!(
        "study of {} networks: {:.1} min in this process; wrote {}",
        config.depths.len() * config.seeds.len() * 2,
        started.elapsed().as_secs_f64() / 60.0,
        run.path.display()
    );
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
