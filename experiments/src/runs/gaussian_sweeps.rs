//! The lecture's two claims about Gaussian visible units, measured:
//! (a) the learning rate that suits binary units makes Gaussian units
//! diverge, a smaller one works; (b) with a small sigma, many more hidden
//! units are needed. Each measured row is committed, so a resumed sweep
//! measures only the missing ones.

use burn::prelude::*;
use datasets::{Binarization, DataSource};
use rbm::{CdTrainer, RbmConfig, SigmaConfig, TrainConfig, UnitKind, exact_log_likelihood};
use serde::{Deserialize, Serialize};

use crate::data::{DataArgs, images_tensor};
use crate::patches::{PatchSpec, WhitenMode, load_patches};
use crate::run_dir::RunDir;
use crate::runs::sweep::run_pending;

/// Everything that defines a sweep (`config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepConfig {
    pub rates: Vec<f64>,
    pub hidden: Vec<usize>,
    pub sigmas: Vec<f64>,
    pub epochs: usize,
    pub seed: u64,
    /// The binary units' data (left out for MNIST).
    #[serde(default, skip_serializing_if = "DataSource::is_mnist")]
    pub data: DataSource,
}

impl SweepConfig {
    /// Every value is checked before any work.
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        if self.rates.is_empty() || self.hidden.is_empty() || self.sigmas.is_empty() {
            return Err(
                "--cd-lr-grid, --hidden-grid and --sigma-grid each need at least one value".into(),
            );
        }
        for &rate in &self.rates {
            TrainConfig::new().with_learning_rate(rate).validate()?;
        }
        TrainConfig::new().with_epochs(self.epochs).validate()?;
        for &hidden in &self.hidden {
            RbmConfig::new(64, hidden).validate()?;
        }
        for &sigma in &self.sigmas {
            RbmConfig::new(64, 1)
                .with_visible_units(UnitKind::Gaussian)
                .with_visible_sigma(Some(SigmaConfig::fixed(sigma)))
                .validate()?;
        }
        Ok(())
    }
}

/// The rows measured so far: the step of each commit of the sweep.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Measured {
    pub rates: Vec<RateRow>,
    sigma_hidden: Vec<SigmaRow>,
}

/// The name of the sweep's commits (one per measured row).
const SWEEP: &str = "sweep";

crate::run_config!(SweepConfig);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RateRow {
    units: String,
    learning_rate: f64,
    /// Held-out reconstruction MSE after the last epoch (None: diverged).
    held_out_recon: Option<f64>,
    diverged_at_epoch: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SigmaRow {
    sigma: f64,
    pub hidden: usize,
    held_out_recon: Option<f64>,
    /// Exact mean log-density of held-out patches (nats per patch), H <= 20.
    held_out_log_likelihood: Option<f64>,
}

/// Runs (or resumes) the sweeps of `config` in `run`; MNIST (or the
/// configured data) is found as `data_args` say. Prints its tables through
/// `say` and writes `sweeps.json`.
pub fn run_gaussian_sweeps(
    run: &RunDir,
    config: &SweepConfig,
    data_args: &DataArgs,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    let mut measured: Measured = match run.last_commit(SWEEP)? {
        Some(commit) => serde_json::from_value(commit.step)?,
        None => Measured::default(),
    };
    let mut data_args = data_args.clone();
    data_args.data = config.data.clone();
    let (mnist, line) = data_args.load()?;
    say(&line);
    let spec = PatchSpec {
        images_dir: datasets::natural_images_dir(),
        size: 8,
        train: 20_000,
        held_out: 2_000,
        whiten: WhitenMode::Zca,
        seed: config.seed,
    };
    let (patches, patches_held_out) = load_patches(&spec, device)?;
    let digits = images_tensor(&mnist.train.head(10_000), Binarization::None, device);
    let digits_held_out = images_tensor(&mnist.test.head(2_000), Binarization::None, device);

    // (a) The same CD-1 recipe at each rate: binary RBM on MNIST
    // intensities (784 x 100, 5 epochs), Gaussian RBM (sigma 1) on whitened
    // 8x8 patches (64 x 100).
    let done = measured.rates.len();
    let rate_rows = config.rates.iter().flat_map(|&learning_rate| {
        [
            ("binary (MNIST)", &digits, &digits_held_out, 5),
            (
                "gaussian (patches)",
                &patches,
                &patches_held_out,
                config.epochs,
            ),
        ]
        .map(|row| (learning_rate, row))
    });
    run_pending(
        rate_rows.enumerate(),
        |(row, _)| Ok::<_, Box<dyn std::error::Error>>(*row < done),
        |(_, (learning_rate, (units, data, held_out, epochs)))| {
            let visible = if units.starts_with("binary") {
                UnitKind::Bernoulli
            } else {
                UnitKind::Gaussian
            };
            let rbm_config = RbmConfig::new(data.dims()[1], 100).with_visible_units(visible);
            let (recon, diverged) = train(
                &rbm_config,
                data,
                held_out,
                learning_rate,
                epochs,
                config.seed,
            );
            measured.rates.push(RateRow {
                units: units.to_string(),
                learning_rate,
                held_out_recon: recon,
                diverged_at_epoch: diverged,
            });
            run.commit(SWEEP, serde_json::to_value(&measured)?, &[])?;
            Ok(Some(()))
        },
    )?;
    say("\n(a) held-out reconstruction MSE after training, by learning rate\n");
    say(&format!(
        "| learning rate | binary units (MNIST, 5 epochs) | Gaussian units (patches, {} epochs) |",
        config.epochs
    ));
    say("|---|---|---|");
    for pair in measured.rates.chunks(2) {
        say(&format!(
            "| {} | {} | {} |",
            pair[0].learning_rate,
            outcome(&pair[0]),
            outcome(&pair[1])
        ));
    }

    // (b) Fixed sigma, small vs 1, against the number of hidden units.
    let done = measured.sigma_hidden.len();
    let sigma_rows = config
        .sigmas
        .iter()
        .flat_map(|&sigma| config.hidden.iter().map(move |&hidden| (sigma, hidden)));
    run_pending(
        sigma_rows.enumerate(),
        |(row, _)| Ok::<_, Box<dyn std::error::Error>>(*row < done),
        |(_, (sigma, hidden))| {
            let rbm_config = RbmConfig::new(64, hidden)
                .with_visible_units(UnitKind::Gaussian)
                .with_visible_sigma(Some(SigmaConfig::fixed(sigma)));
            let (recon, log_likelihood) =
                match train_model(&rbm_config, &patches, 0.01, config.epochs, config.seed) {
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
            measured.sigma_hidden.push(SigmaRow {
                sigma,
                hidden,
                held_out_recon: recon,
                held_out_log_likelihood: log_likelihood,
            });
            run.commit(SWEEP, serde_json::to_value(&measured)?, &[])?;
            Ok(Some(()))
        },
    )?;
    say(&format!(
        "\n(b) fixed sigma vs hidden units (64 visible, learning rate 0.01, {} epochs)\n",
        config.epochs
    ));
    say("| sigma | hidden | held-out recon MSE | held-out log-likelihood (nats/patch, exact) |");
    say("|---|---|---|---|");
    for row in &measured.sigma_hidden {
        let recon = row
            .held_out_recon
            .map_or("diverged".into(), |r| format!("{r:.4}"));
        let ll = row
            .held_out_log_likelihood
            .map_or("-".into(), |l| format!("{l:.2}"));
        say(&format!(
            "| {} | {} | {recon} | {ll} |",
            row.sigma, row.hidden
        ));
    }
    run.write_json("sweeps.json", &measured)?;
    say(&format!("\nwrote {}", run.file("sweeps.json").display()));
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
