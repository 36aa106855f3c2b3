//! Trains a Gaussian-Bernoulli RBM on natural-image patches and draws its filters.
//!
//! cargo run --release -p experiments --bin gaussian-rbm -- --preset quick --out runs/gaussian-quick
use std::path::PathBuf;

use clap::Parser;
use experiments::patches::{PatchSpec, WhitenMode, load_patches};
use experiments::rbm_run::write_filters;
use experiments::run_dir::RunDir;
use rbm::{CdTrainer, RbmConfig, SigmaConfig, TrainConfig, UnitKind, save_rbm};

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
    about = "Train a Gaussian-Bernoulli RBM on natural-image patches"
)]
struct Args {
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
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
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (a fresh run refuses a non-empty one).
    #[arg(long, default_value = "runs/gaussian-rbm")]
    out: PathBuf,
    /// Delete the run in --out first.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    device: experiments::DeviceArgs,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    experiments::report(run(Args::parse()))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let device = args.device.select()?;
    let (size, count, hidden, epochs, learning_rate) = match args.preset {
        Preset::Quick => (8, 50_000, 200, 50, 0.02),
        Preset::Paper => (12, 100_000, 500, 100, 0.01),
    };
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
    let sigma = match args.sigma {
        SigmaMode::Fixed => SigmaConfig::fixed(args.sigma_init),
        SigmaMode::Learned => SigmaConfig::learned(args.sigma_init, 0.05, 5.0),
    };
    let dim = spec.size * spec.size;
    let rbm_config = RbmConfig::new(dim, args.hidden.unwrap_or(hidden))
        .with_visible_units(UnitKind::Gaussian)
        .with_visible_sigma(Some(sigma));
    let train_config = TrainConfig::new()
        .with_epochs(args.epochs.unwrap_or(epochs))
        .with_learning_rate(args.lr.unwrap_or(learning_rate))
        .with_sigma_learning_rate(Some(args.sigma_lr))
        .with_monitor_rows(spec.held_out)
        .with_seed(args.seed);
    spec.validate()?;
    rbm_config.validate()?;
    train_config.validate()?;
    let config = serde_json::json!({ "patches": spec, "rbm": rbm_config, "train": train_config });
    let run = RunDir::start(&args.out, "gaussian-rbm", &config, &config, args.overwrite)?;
    let (train, held_out) = load_patches(&spec, &device)?;
    println!(
        "{dim} Gaussian ({}) x {} binary units, {} {}x{} patches ({:?}) on {}",
        if sigma.learned {
            "learned sigma"
        } else {
            "fixed sigma"
        },
        rbm_config.n_hidden,
        spec.train,
        spec.size,
        spec.size,
        spec.whiten,
        args.device.device
    );
    let mut trainer = CdTrainer::new(rbm_config.init(&device, args.seed), train_config)?;
    let mut last = f64::NAN;
    while trainer.epochs_done() < trainer.config().epochs {
        // Divergence is an error (the rule of CdTrainer::train_epoch); no
        // model of a diverged run is saved.
        let metrics = trainer.train_epoch(&train, Some(&held_out), |_| {})?;
        let sigma = trainer
            .rbm()
            .visible_sigma()
            .expect("Gaussian")
            .mean()
            .into_scalar::<f32>();
        println!(
            "epoch {:>3}  recon {:.4}  held-out recon {:.4}  mean sigma {sigma:.3}  {:.1} s",
            metrics.epoch,
            metrics.reconstruction_error,
            metrics.held_out_reconstruction_error.unwrap_or(f64::NAN),
            metrics.wall_seconds
        );
        run.append_jsonl(
            "metrics.jsonl",
            &experiments::dashboard::rbm_epoch_record("gaussian-rbm", &metrics),
        )?;
        last = metrics.held_out_reconstruction_error.unwrap_or(f64::NAN);
    }
    save_rbm(trainer.rbm(), &rbm_config, &run.file("model.safetensors"))?;
    write_filters(
        trainer.rbm(),
        100,
        (spec.size, spec.size),
        &run.file("filters.png"),
    )?;
    if let Err(e) = experiments::plots::write_learning_curves(
        &run,
        "gaussian-rbm: reconstruction errors per epoch",
    ) {
        eprintln!("warning: learning curves not drawn: {e}");
    }
    println!("wrote {}", run.path.display());
    println!("recon_mse={last:.4}");
    Ok(())
}
