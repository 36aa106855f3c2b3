//! Trains a Gaussian-Bernoulli RBM on natural-image patches (or on your own
//! real-valued rows, `--npy FILE`) and draws its filters.
//!
//! cargo run --release -- gaussian --preset quick --out runs/gaussian-quick
use std::path::PathBuf;

use rbm::{RbmConfig, SigmaConfig, TrainConfig, UnitKind};

use crate::patches::{PatchSpec, RowsSpec, WhitenMode};
use crate::runs::gaussian::{GaussianPresetValues, GaussianRunConfig, Preset, train_gaussian};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SigmaMode {
    /// Sigma fixed at --sigma-init.
    Fixed,
    /// Sigma learned per pixel, starting at --sigma-init.
    Learned,
}

/// Train a Gaussian-Bernoulli RBM on natural-image patches or your own rows.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recipe: `quick` (8x8 patches, 200 hidden, 50 epochs on 50,000
    /// patches, lr 0.02) or `paper` (12x12, 500 hidden, 100 epochs on
    /// 100,000, lr 0.01). Flags below override its values.
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// Train on the rows of this NumPy file (float32/float64, [n, d] or
    /// [n, h, w]; the last tenth held out) instead of natural-image patches;
    /// --whiten applies to them as well.
    #[arg(long, conflicts_with_all = ["patch", "patches", "images_dir"])]
    npy: Option<PathBuf>,
    /// Patch side in pixels.
    #[arg(long)]
    patch: Option<usize>,
    /// Training patches (plus a tenth as many held out).
    #[arg(long)]
    patches: Option<usize>,
    /// Hidden units.
    #[arg(long, value_parser = crate::cli::numbers::count)]
    hidden: Option<usize>,
    /// Passes over the training patches [quick: 50, paper: 100].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    cd_epochs: Option<usize>,
    /// Learning rate of weights and biases (binary units take 0.1; Gaussian
    /// ones diverge there, see gaussian-sweeps).
    #[arg(long, value_parser = crate::cli::numbers::rate)]
    cd_lr: Option<f64>,
    /// Sigma: fixed or learned per pixel.
    #[arg(long, value_enum, default_value_t = SigmaMode::Learned)]
    sigma: SigmaMode,
    /// Starting (or fixed) sigma, in units of the whitened data's std.
    #[arg(long, default_value_t = 1.0, value_parser = crate::cli::numbers::scale)]
    sigma_init: f64,
    /// Learning rate of log sigma.
    #[arg(long, default_value_t = 0.001, value_parser = crate::cli::numbers::rate)]
    sigma_lr: f64,
    /// Preprocessing of the patches.
    #[arg(long, value_enum, default_value_t = WhitenMode::Zca)]
    whiten: WhitenMode,
    /// Directory of PNG images (default: the seven vendored photographs of
    /// datasets/natural-images, built into the binary).
    #[arg(long)]
    images_dir: Option<PathBuf>,
    /// Seed of patches, initialisation and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    loglik: crate::cli::LoglikArgs,
    #[command(flatten)]
    run: crate::cli::RunArgs,
    #[command(flatten)]
    device: crate::device::DeviceArgs,
}

fn config_from_args(args: &Args) -> Result<GaussianRunConfig, Box<dyn std::error::Error>> {
    let GaussianPresetValues {
        size,
        count,
        hidden,
        epochs,
        learning_rate,
    } = args.preset.values();
    let sigma = match args.sigma {
        SigmaMode::Fixed => SigmaConfig::fixed(args.sigma_init),
        SigmaMode::Learned => SigmaConfig::learned(args.sigma_init, 0.05, 5.0),
    };
    let (patches, rows, dim, held_out) = match &args.npy {
        Some(path) => {
            let shape = datasets::read_npy_rows(path)?;
            crate::patches::check_rows_shape(path, &shape)?;
            let dim = shape.height * shape.width;
            let spec = RowsSpec::from_path(path, args.whiten)?;
            (None, Some(spec), dim, (shape.count / 10).max(1))
        }
        None => {
            let spec = PatchSpec::identified(
                args.images_dir.clone(),
                args.patch.unwrap_or(size),
                args.patches.unwrap_or(count),
                (args.patches.unwrap_or(count) / 10).max(1),
                args.whiten,
                args.seed,
            )?;
            let (dim, held_out) = (spec.size * spec.size, spec.held_out);
            (Some(spec), None, dim, held_out)
        }
    };
    let config = GaussianRunConfig {
        patches,
        rows,
        rbm: RbmConfig::new(dim, args.hidden.unwrap_or(hidden))
            .with_visible_units(UnitKind::Gaussian)
            .with_visible_sigma(Some(sigma)),
        train: TrainConfig::new()
            .with_epochs(args.cd_epochs.unwrap_or(epochs))
            .with_learning_rate(args.cd_lr.unwrap_or(learning_rate))
            .with_sigma_learning_rate(Some(args.sigma_lr))
            .with_monitor_rows(held_out)
            .with_seed(args.seed),
        loglik: args.loglik.settings(),
    };
    config.validate()?;
    Ok(config)
}

pub fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let device = args.device.select()?;
    let (run, config) = crate::cli::Invocation::new::<Args>("gaussian", matches)
        .open(&args.run, || config_from_args(&args))?;
    train_gaussian(&run, &config, &device, &args.device.device, &mut |line| {
        println!("{line}")
    })?
    .announce_interruption();
    Ok(())
}
