//! Trains a Gaussian-Bernoulli RBM on natural-image patches (or on your own
//! real-valued rows, `--npy FILE`) and draws its filters.
//!
//! cargo run --release -p experiments --bin gaussian-rbm -- --preset quick --out runs/gaussian-quick
use std::path::PathBuf;

use clap::Parser;
use experiments::patches::{LoadedRows, PatchSpec, RowsSpec, WhitenMode, load_patches, load_rows};
use experiments::rbm_run::{train_on_dashboard, write_filters};
use rbm::{RbmConfig, SigmaConfig, TrainConfig, UnitKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Preset {
    /// 8x8 whitened patches, 200 hidden units, 50 epochs on 50,000 patches,
    /// learning rate 0.02 (about a minute on 2 cores).
    Quick,
    /// 12x12 whitened patches, 500 hidden units, 100 epochs on 100,000
    /// patches, learning rate 0.01.
    #[value(alias = "full")]
    Paper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SigmaMode {
    /// Sigma fixed at --sigma-init.
    Fixed,
    /// Sigma learned per pixel, starting at --sigma-init.
    Learned,
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Train a Gaussian-Bernoulli RBM on natural-image patches or your own rows"
)]
struct Args {
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
    #[arg(long)]
    hidden: Option<usize>,
    /// Passes over the training patches [quick: 50, paper: 100].
    #[arg(long)]
    epochs: Option<usize>,
    /// Learning rate of weights and biases (binary units take 0.1; Gaussian
    /// ones diverge there, see gaussian-sweeps).
    #[arg(long)]
    lr: Option<f64>,
    /// Sigma: fixed or learned per pixel.
    #[arg(long, value_enum, default_value_t = SigmaMode::Learned)]
    sigma: SigmaMode,
    /// Starting (or fixed) sigma, in units of the whitened data's std.
    #[arg(long, default_value_t = 1.0)]
    sigma_init: f64,
    /// Learning rate of log sigma.
    #[arg(long, default_value_t = 0.001)]
    sigma_lr: f64,
    /// Preprocessing of the patches.
    #[arg(long, value_enum, default_value_t = WhitenMode::Zca)]
    whiten: WhitenMode,
    /// Directory of PNG images (default: the vendored datasets/natural-images).
    #[arg(long)]
    images_dir: Option<PathBuf>,
    /// Seed of patches, initialisation and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (a fresh run refuses a non-empty one).
    #[arg(long, default_value = "runs/gaussian-rbm")]
    out: PathBuf,
    /// Continue the run in --out from its last committed epoch with its
    /// config.json (flags that would change it are refused).
    #[arg(long)]
    resume: bool,
    /// Delete the run in --out first.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[command(flatten)]
    device: experiments::DeviceArgs,
}

/// Everything that defines a run (`config.json`): the data (patches or
/// rows; exactly one), the model and its training.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    patches: Option<PatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows: Option<RowsSpec>,
    rbm: RbmConfig,
    train: TrainConfig,
}

impl RunConfig {
    fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        match (&self.patches, &self.rows) {
            (Some(patches), None) => {
                patches.validate()?;
                if self.rbm.n_visible != patches.size * patches.size {
                    return Err("n_visible is not the patch's pixel count".into());
                }
            }
            (None, Some(_)) => {}
            _ => return Err("exactly one of patches and rows must be given".into()),
        }
        self.rbm.validate()?;
        self.train.validate()?;
        Ok(())
    }
}

const BINARY: &str = "gaussian-rbm";

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let (args, matches) = experiments::cli::parse::<Args>();
    experiments::run_on_workers(|| run(args, &matches))
}

fn config_from_args(args: &Args) -> Result<RunConfig, Box<dyn std::error::Error>> {
    let (size, count, hidden, epochs, learning_rate) = match args.preset {
        Preset::Quick => (8, 50_000, 200, 50, 0.02),
        Preset::Paper => (12, 100_000, 500, 100, 0.01),
    };
    let sigma = match args.sigma {
        SigmaMode::Fixed => SigmaConfig::fixed(args.sigma_init),
        SigmaMode::Learned => SigmaConfig::learned(args.sigma_init, 0.05, 5.0),
    };
    let (patches, rows, dim, held_out) = match &args.npy {
        Some(path) => {
            let shape = datasets::read_npy_rows(path)?;
            let dim = shape.height * shape.width;
            let spec = RowsSpec::from_path(path, args.whiten)?;
            (None, Some(spec), dim, (shape.count / 10).max(1))
        }
        None => {
            let spec = PatchSpec {
                images_dir: args
                    .images_dir
                    .clone()
                    .unwrap_or_else(datasets::natural_images_dir),
                size: args.patch.unwrap_or(size),
                train: args.patches.unwrap_or(count),
                held_out: (args.patches.unwrap_or(count) / 10).max(1),
                whiten: args.whiten,
                seed: args.seed,
            };
            spec.validate()?;
            let (dim, held_out) = (spec.size * spec.size, spec.held_out);
            (Some(spec), None, dim, held_out)
        }
    };
    let config = RunConfig {
        patches,
        rows,
        rbm: RbmConfig::new(dim, args.hidden.unwrap_or(hidden))
            .with_visible_units(UnitKind::Gaussian)
            .with_visible_sigma(Some(sigma)),
        train: TrainConfig::new()
            .with_epochs(args.epochs.unwrap_or(epochs))
            .with_learning_rate(args.lr.unwrap_or(learning_rate))
            .with_sigma_learning_rate(Some(args.sigma_lr))
            .with_monitor_rows(held_out)
            .with_seed(args.seed),
    };
    config.validate()?;
    Ok(config)
}

fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let device = args.device.select()?;
    let (run, config) = experiments::cli::open_run::<Args, RunConfig, _>(
        matches,
        BINARY,
        &args.out,
        args.resume,
        args.overwrite,
        &[],
        || config_from_args(&args),
        RunConfig::validate,
    )?;
    let (train, held_out, image, what) = match (&config.patches, &config.rows) {
        (Some(spec), _) => {
            let (train, held_out) = load_patches(spec, &device)?;
            let what = format!(
                "{} {}x{} patches ({:?})",
                spec.train, spec.size, spec.size, spec.whiten
            );
            (train, held_out, (spec.size, spec.size), what)
        }
        (None, Some(spec)) => {
            let LoadedRows {
                train,
                held_out,
                image,
            } = load_rows(spec, &device)?;
            let what = format!(
                "{} rows of {} ({:?})",
                train.dims()[0],
                spec.path.display(),
                spec.whiten
            );
            (train, held_out, image, what)
        }
        (None, None) => unreachable!("validated: patches or rows"),
    };
    let sigma = config
        .rbm
        .visible_sigma
        .expect("Gaussian units have a sigma");
    println!(
        "{} Gaussian ({}) x {} binary units, {what} on {}",
        config.rbm.n_visible,
        if sigma.learned {
            "learned sigma"
        } else {
            "fixed sigma"
        },
        config.rbm.n_hidden,
        args.device.device
    );
    let Some(trainer) = train_on_dashboard(
        &run,
        BINARY,
        &config.rbm,
        &config.train,
        &train,
        Some(&held_out),
    )?
    else {
        println!("interrupted; continue with --resume");
        return Ok(());
    };
    let rbm = trainer.rbm();
    let mean_sigma = rbm
        .visible_sigma()
        .expect("Gaussian")
        .mean()
        .into_scalar::<f32>();
    // The last epoch's held-out metric (the monitor uses every held-out row).
    let held_out_recon = (held_out.clone() - rbm.reconstruct(held_out))
        .square()
        .mean()
        .into_scalar::<f32>();
    write_filters(rbm, 100, image, &run.file("filters.png"))?;
    if let Err(e) = experiments::plots::write_learning_curves(
        &run,
        "gaussian-rbm: reconstruction errors per epoch",
    ) {
        eprintln!("warning: learning curves not drawn: {e}");
    }
    println!("mean sigma {mean_sigma:.3}; wrote {}", run.path.display());
    println!("recon_mse={held_out_recon:.4}");
    Ok(())
}
