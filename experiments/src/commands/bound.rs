//! The lecture's claim that adding a layer improves a variational lower
//! bound on log p(data): log p(v) under a one-layer RBM, and the bound of
//! the two-layer DBN before the second layer is trained (it starts as the
//! first turned upside down, where the bound equals log p(v)) and after.
//! Exactly on bars-and-stripes (`--preset bars`); on MNIST with AIS
//! (`--preset mnist`).
//!
//! cargo run --release -- bound
//! cargo run --release -- bound --preset mnist --out runs/bound-mnist
//! cargo run --release -- bound --out runs/bound-mnist --resume
use rbm::{AisSide, TrainConfig};

use crate::runs::bound::{BoundConfig, MnistBoundConfig, measure_bound, measure_mnist_bound};
use crate::runs::loglik::AisSettings;

/// Where the bound is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// Bars-and-stripes, everything enumerated: layers of 10 hidden units,
    /// 2,000 full-batch CD-1 epochs, then 50 for the second layer (seconds).
    Bars,
    /// MNIST: a 784-500 RBM by 20 PCD-1 epochs (rate 0.01 falling to
    /// 0.0001), then the second layer, from its transpose, 20 epochs (from
    /// 0.001); log Z of each layer by AIS (layer 1's also over its pixels,
    /// as a check), the bound sampled from the first layer's posterior
    /// (minutes a seed).
    Mnist,
}

/// The variational bound of a two-layer DBN before and after stacking.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where: `bars` (exact, printed) or `mnist` (AIS and sampling, a run
    /// directory with a unit per seed) [default: bars; with --resume:
    /// mnist, the preset that writes runs].
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Side of the bars-and-stripes images (3: 14 patterns of 9 pixels; 4:
    /// 30 of 16) [bars: 4].
    #[arg(long)]
    side: Option<usize>,
    /// Hidden units of the first layer [bars: 10, at most 20 (the bound
    /// enumerates them); mnist: 500].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    hidden: Option<usize>,
    /// Epochs of the first layer [bars: 2000 of CD-1, one full batch each;
    /// mnist: 20 of PCD-1].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    first_epochs: Option<usize>,
    /// Epochs of the second layer on samples of the first layer's
    /// posterior [bars: 50; mnist: 20].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    second_epochs: Option<usize>,
    /// Repetitions of the measurement, with seeds 1..=N.
    #[arg(long, default_value_t = 3, value_parser = crate::cli::numbers::count)]
    seeds: usize,
    /// Posterior samples per test image of the sampled bound (mnist).
    #[arg(long, value_parser = crate::cli::numbers::count)]
    samples: Option<usize>,
    /// Test images the bound is measured on, the first ones (mnist;
    /// default: all).
    #[arg(long, value_parser = crate::cli::numbers::count)]
    test_rows: Option<usize>,
    /// Parallel AIS runs for each layer's log Z (mnist).
    #[arg(long, value_parser = crate::cli::numbers::count)]
    ais_runs: Option<usize>,
    /// Intermediate AIS temperatures, linearly spaced (mnist); default: the
    /// 14,500-step schedule of Salakhutdinov & Murray (2008).
    #[arg(long, value_parser = crate::cli::numbers::count)]
    ais_steps: Option<usize>,
    #[command(flatten)]
    run: crate::cli::RunArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

/// Sides of bars-and-stripes offered: the patterns of side 6 already
/// number 126 (of 36 pixels); larger ones stop being "small".
const SIDES: std::ops::RangeInclusive<usize> = 2..=6;

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    // Every flag is checked before any work; a flag of the other preset is
    // refused rather than ignored.
    let given = |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let preset = args.preset.unwrap_or(if args.run.resume {
        Preset::Mnist
    } else {
        Preset::Bars
    });
    let others: &[&str] = match preset {
        Preset::Bars => &[
            "samples",
            "test_rows",
            "ais_runs",
            "ais_steps",
            "data",
            "mnist_dir",
            "no_fetch",
            "out",
            "resume",
            "overwrite",
        ],
        Preset::Mnist => &["side"],
    };
    if let Some(flag) = others.iter().find(|id| given(id)) {
        return Err(format!(
            "--{} does not apply to --preset {}",
            flag.replace('_', "-"),
            match preset {
                Preset::Bars => "bars",
                Preset::Mnist => "mnist",
            }
        )
        .into());
    }
    let seeds = args.seeds as u64;
    match preset {
        Preset::Bars => {
            let side = args.side.unwrap_or(4);
            if !SIDES.contains(&side) {
                return Err(format!(
                    "--side must be in {}..={}, found {side}",
                    SIDES.start(),
                    SIDES.end()
                )
                .into());
            }
            // Both layers are enumerated: the bound sums over the first hidden layer.
            let hidden = args.hidden.unwrap_or(10);
            if hidden > 20 {
                return Err(format!(
                    "--hidden must be at most 20 with --preset bars, found {hidden}"
                )
                .into());
            }
            let config = BoundConfig {
                side,
                hidden,
                first_epochs: args.first_epochs.unwrap_or(2000),
                second_epochs: args.second_epochs.unwrap_or(50),
                seeds,
            };
            for epochs in [config.first_epochs, config.second_epochs] {
                TrainConfig::new().with_epochs(epochs).validate()?;
            }
            let device = args.common.device.select()?;
            measure_bound(&config, &device, &mut |line| println!("{line}"))
        }
        Preset::Mnist => {
            let device = args.common.device.select()?;
            let (run, config, set, line) = crate::cli::Invocation::new::<Args>("bound", matches)
                .resumable_with(&["preset"])
                .open_with_data(&args.run, &args.common.data, |data| {
                    let runs = args.ais_runs.unwrap_or(100);
                    let config = MnistBoundConfig {
                        data: data.clone(),
                        hidden: args.hidden.unwrap_or(500),
                        first_epochs: args.first_epochs.unwrap_or(20),
                        second_epochs: args.second_epochs.unwrap_or(20),
                        seeds,
                        samples: args.samples.unwrap_or(10),
                        ais: AisSettings {
                            runs,
                            steps: args.ais_steps,
                            seed: 1,
                            side: AisSide::Visible,
                        },
                        test_rows: args.test_rows.unwrap_or(data.test_images),
                    };
                    config.validate()?;
                    Ok(config)
                })?;
            println!("{line}");
            measure_mnist_bound(&run, &config, &set, &device, &mut |line| println!("{line}"))
        }
    }
}
