//! The lecture's two claims about Gaussian visible units, measured:
//! (a) the learning rate that suits binary units makes Gaussian units
//! diverge, a smaller one works; (b) with a small sigma, many more hidden
//! units are needed. Prints markdown tables and writes `sweeps.json`.
//!
//! cargo run --release -p experiments --bin gaussian-sweeps -- --out runs/gaussian-sweeps
use std::path::PathBuf;

use burn::prelude::*;
use clap::Parser;
use datasets::Binarization;
use experiments::data::images_tensor;
use experiments::patches::{PatchSpec, WhitenMode, load_patches};
use experiments::run_dir::RunDir;
use rbm::{CdTrainer, RbmConfig, SigmaConfig, TrainConfig, UnitKind, exact_log_likelihood};
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Learning-rate and sigma/hidden-unit sweeps for Gaussian visible units"
)]
struct Args {
    /// Learning rates for sweep (a).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.1,0.05,0.01,0.001")]
    rates: Vec<f64>,
    /// Hidden-unit counts for sweep (b) (exact likelihood up to 20).
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,64,256")]
    hidden: Vec<usize>,
    /// Fixed sigmas for sweep (b), in units of the whitened data's std.
    #[arg(long, value_delimiter = ',', default_value = "1.0,0.3")]
    sigmas: Vec<f64>,
    /// Epochs of every Gaussian run.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Seed of patches, initialisation and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (a fresh run refuses a non-empty one).
    #[arg(long, default_value = "runs/gaussian-sweeps")]
    out: PathBuf,
    /// Delete the run in --out first.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

#[derive(Debug, Serialize)]
struct RateRow {
    units: &'static str,
    learning_rate: f64,
    /// Held-out reconstruction MSE after the last epoch (None: diverged).
    held_out_recon: Option<f64>,
    diverged_at_epoch: Option<usize>,
}

#[derive(Debug, Serialize)]
struct SigmaRow {
    sigma: f64,
    hidden: usize,
    held_out_recon: Option<f64>,
    /// Exact mean log-density of held-out patches (nats per patch), H <= 20.
    held_out_log_likelihood: Option<f64>,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    experiments::report(run(Args::parse()))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Every flag is checked before any work.
    if args.rates.is_empty() || args.hidden.is_empty() || args.sigmas.is_empty() {
        return Err("--rates, --hidden and --sigmas each need at least one value".into());
    }
    for &rate in &args.rates {
        TrainConfig::new().with_learning_rate(rate).validate()?;
    }
    TrainConfig::new().with_epochs(args.epochs).validate()?;
    for &hidden in &args.hidden {
        RbmConfig::new(64, hidden).validate()?;
    }
    for &sigma in &args.sigmas {
        RbmConfig::new(64, 1)
            .with_visible_units(UnitKind::Gaussian)
            .with_visible_sigma(Some(SigmaConfig::fixed(sigma)))
            .validate()?;
    }
    let device = args.common.device.select()?;
    let mut config = serde_json::json!({
        "rates": args.rates, "hidden": args.hidden, "sigmas": args.sigmas,
        "epochs": args.epochs, "seed": args.seed,
    });
    if !args.common.data.data.is_mnist() {
        config["data"] = args.common.data.data.to_string().into();
    }
    let run = RunDir::start(
        &args.out,
        "gaussian-sweeps",
        &config,
        &config,
        args.overwrite,
    )?;
    let (mnist, line) = args.common.data.load()?;
    println!("{line}");
    let spec = PatchSpec {
        images_dir: datasets::natural_images_dir(),
        size: 8,
        train: 20_000,
        held_out: 2_000,
        whiten: WhitenMode::Zca,
        seed: args.seed,
    };
    let (patches, patches_held_out) = load_patches(&spec, &device)?;
    let digits = images_tensor(&mnist.train.head(10_000), Binarization::None, &device);
    let digits_held_out = images_tensor(&mnist.test.head(2_000), Binarization::None, &device);

    // (a) The same CD-1 recipe at each rate: binary RBM on MNIST
    // intensities (784 x 100, 5 epochs), Gaussian RBM (sigma 1) on whitened
    // 8x8 patches (64 x 100).
    let mut rate_rows = Vec::new();
    for &learning_rate in &args.rates {
        for (units, data, held_out, epochs) in [
            ("binary (MNIST)", &digits, &digits_held_out, 5),
            (
                "gaussian (patches)",
                &patches,
                &patches_held_out,
                args.epochs,
            ),
        ] {
            let visible = if units.starts_with("binary") {
                UnitKind::Bernoulli
            } else {
                UnitKind::Gaussian
            };
            let config = RbmConfig::new(data.dims()[1], 100).with_visible_units(visible);
            let (recon, diverged) =
                train(&config, data, held_out, learning_rate, epochs, args.seed);
            rate_rows.push(RateRow {
                units,
                learning_rate,
                held_out_recon: recon,
                diverged_at_epoch: diverged,
            });
        }
    }
    println!("\n(a) held-out reconstruction MSE after training, by learning rate\n");
    println!(
        "| learning rate | binary units (MNIST, 5 epochs) | Gaussian units (patches, {} epochs) |",
        args.epochs
    );
    println!("|---|---|---|");
    for pair in rate_rows.chunks(2) {
        println!(
            "| {} | {} | {} |",
            pair[0].learning_rate,
            outcome(&pair[0]),
            outcome(&pair[1])
        );
    }

    // (b) Fixed sigma, small vs 1, against the number of hidden units.
    let mut sigma_rows = Vec::new();
    for &sigma in &args.sigmas {
        for &hidden in &args.hidden {
            let config = RbmConfig::new(64, hidden)
                .with_visible_units(UnitKind::Gaussian)
                .with_visible_sigma(Some(SigmaConfig::fixed(sigma)));
            let (recon, log_likelihood) =
                match train_model(&config, &patches, 0.01, args.epochs, args.seed) {
                    Ok(trainer) => {
                        let rbm = trainer.rbm();
                        let recon = (patches_held_out.clone()
                            - rbm.reconstruct(patches_held_out.clone()))
                        .square()
                        .mean()
                        .into_scalar::<f32>() as f64;
                        let log_likelihood = (hidden <= 20)
                            .then(|| exact_log_likelihood(rbm, &patches_held_out))
                            .transpose()?;
                        (Some(recon), log_likelihood)
                    }
                    Err(_) => (None, None),
                };
            sigma_rows.push(SigmaRow {
                sigma,
                hidden,
                held_out_recon: recon,
                held_out_log_likelihood: log_likelihood,
            });
        }
    }
    println!(
        "\n(b) fixed sigma vs hidden units (64 visible, learning rate 0.01, {} epochs)\n",
        args.epochs
    );
    println!(
        "| sigma | hidden | held-out recon MSE | held-out log-likelihood (nats/patch, exact) |"
    );
    println!("|---|---|---|---|");
    for row in &sigma_rows {
        let recon = row
            .held_out_recon
            .map_or("diverged".into(), |r| format!("{r:.4}"));
        let ll = row
            .held_out_log_likelihood
            .map_or("-".into(), |l| format!("{l:.2}"));
        println!("| {} | {} | {recon} | {ll} |", row.sigma, row.hidden);
    }
    run.write_json(
        "sweeps.json",
        &serde_json::json!({ "rates": rate_rows, "sigma_hidden": sigma_rows }),
    )?;
    println!("\nwrote {}", run.file("sweeps.json").display());
    Ok(())
}

fn outcome(row: &RateRow) -> String {
    match (row.held_out_recon, row.diverged_at_epoch) {
        (Some(r), _) => format!("{r:.4}"),
        (None, Some(epoch)) => format!("diverged (epoch {epoch})"),
        (None, None) => "failed".into(),
    }
}

fn train_model(
    config: &RbmConfig,
    data: &Tensor<2>,
    learning_rate: f64,
    epochs: usize,
    seed: u64,
) -> Result<CdTrainer, rbm::RbmError> {
    let train = TrainConfig::new()
        .with_epochs(epochs)
        .with_learning_rate(learning_rate)
        .with_monitor_rows(500)
        .with_seed(seed);
    let mut trainer = CdTrainer::new(config.init(&data.device(), seed), train)?;
    trainer.fit(data, None, |_| {})?;
    Ok(trainer)
}

/// Held-out reconstruction MSE, or the epoch at which training diverged.
fn train(
    config: &RbmConfig,
    data: &Tensor<2>,
    held_out: &Tensor<2>,
    learning_rate: f64,
    epochs: usize,
    seed: u64,
) -> (Option<f64>, Option<usize>) {
    match train_model(config, data, learning_rate, epochs, seed) {
        Ok(trainer) => {
            let rbm = trainer.rbm();
            let recon = (held_out.clone() - rbm.reconstruct(held_out.clone()))
                .square()
                .mean()
                .into_scalar::<f32>() as f64;
            if recon.is_finite() {
                (Some(recon), None)
            } else {
                (None, Some(epochs))
            }
        }
        Err(rbm::RbmError::Diverged { epoch, .. }) => (None, Some(epoch)),
        Err(_) => (None, None),
    }
}
