//! A Gaussian-Bernoulli RBM on natural-image patches or real-valued rows:
//! the run's configuration and the run (checkpointed training on the
//! dashboard, then filters, the held-out reconstruction error and, with
//! `--loglik`, the log-likelihoods by AIS).

use burn::prelude::*;
use rbm::{RbmConfig, TrainConfig};
use serde::{Deserialize, Serialize};

use super::Outcome;
use crate::patches::{LoadedRows, PatchSpec, RowsSpec, load_patches, load_rows};
use crate::run_dir::RunDir;
use crate::runs::loglik::{AisSettings, LoglikEstimate, ais_line, estimate_loglik, loglik_lines};
use crate::runs::rbm::{RbmRunTotals, train_on_dashboard, write_filters};

/// Named recipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// 8x8 whitened patches, 200 hidden units, 50 epochs on 50,000 patches,
    /// learning rate 0.02 (about a minute on 2 cores).
    Quick,
    /// 12x12 whitened patches, 500 hidden units, 100 epochs on 100,000
    /// patches, learning rate 0.01.
    #[value(alias = "full")]
    Paper,
}

/// The values a preset sets (flags may override each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianPresetValues {
    /// Patch side in pixels.
    pub size: usize,
    /// Training patches.
    pub count: usize,
    pub hidden: usize,
    pub epochs: usize,
    pub learning_rate: f64,
}

impl Preset {
    pub fn values(self) -> GaussianPresetValues {
        let (size, count, hidden, epochs, learning_rate) = match self {
            Preset::Quick => (8, 50_000, 200, 50, 0.02),
            Preset::Paper => (12, 100_000, 500, 100, 0.01),
        };
        GaussianPresetValues {
            size,
            count,
            hidden,
            epochs,
            learning_rate,
        }
    }
}

/// Everything that defines a run (`config.json`): the data (patches or
/// rows; exactly one), the model and its training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GaussianRunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<PatchSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowsSpec>,
    pub rbm: RbmConfig,
    pub train: TrainConfig,
    /// AIS after training (`--loglik`): log Z and the training and
    /// held-out rows' mean log-likelihoods into `result.json`. Absent from
    /// the file when off, so that runs from before the option keep their
    /// identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loglik: Option<AisSettings>,
}

impl GaussianRunConfig {
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
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
        if let Some(ais) = &self.loglik {
            ais.config().validate()?;
        }
        Ok(())
    }
}

crate::run_config!(GaussianRunConfig);

/// What a finished `gaussian` run writes as `result.json`.
#[derive(Debug, Serialize)]
struct GaussianResult {
    #[serde(flatten)]
    totals: RbmRunTotals,
    /// Mean squared error of the held-out rows' mean-field
    /// reconstructions, in the (whitened) data's units.
    held_out_recon_mse: f64,
    mean_sigma: f64,
    /// With `--loglik`: `train_loglik` over the training rows and
    /// `test_loglik` over the held-out rows, in nats per row (a density,
    /// in the whitened data's coordinates).
    #[serde(flatten)]
    loglik: Option<LoglikEstimate>,
}

/// Runs (or resumes) the run of `config` in `run` on `device`.
pub fn train_gaussian(
    run: &RunDir,
    config: &GaussianRunConfig,
    device: &Device,
    device_name: &str,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome<()>, Box<dyn std::error::Error>> {
    let clock = run.clock()?;
    let (train, held_out, image, what) = match (&config.patches, &config.rows) {
        (Some(spec), _) => {
            let (train, held_out) = load_patches(spec, device)?;
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
            } = load_rows(spec, device)?;
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
    say(&format!(
        "{} Gaussian ({}) x {} binary units, {what} on {}",
        config.rbm.n_visible,
        if sigma.learned {
            "learned sigma"
        } else {
            "fixed sigma"
        },
        config.rbm.n_hidden,
        device_name
    ));
    let Some(trainer) = train_on_dashboard(
        run,
        "gaussian-rbm", // the phase in metrics.jsonl, as before the subcommands
        &config.rbm,
        &config.train,
        &train,
        Some(&held_out),
    )?
    else {
        return Ok(Outcome::Interrupted);
    };
    let rbm = trainer.rbm();
    let mean_sigma = rbm
        .visible_sigma()
        .expect("Gaussian")
        .mean()
        .into_scalar::<f32>();
    // The last epoch's held-out metric (the monitor uses every held-out row).
    let held_out_recon = (held_out.clone() - rbm.reconstruct(held_out.clone()))
        .square()
        .mean()
        .into_scalar::<f32>();
    let loglik = match &config.loglik {
        Some(settings) => {
            let ais = settings.config();
            say(&ais_line(&ais, settings.side, train.dims()[0]));
            let estimate = estimate_loglik(rbm, &train, &held_out, &ais, settings.side)?;
            for line in loglik_lines(&estimate) {
                say(&line);
            }
            Some(estimate)
        }
        None => None,
    };
    write_filters(rbm, 100, image, &run.file("filters.png"))?;
    crate::output::plots::learning_curves_or_warning(
        run,
        "gaussian-rbm: reconstruction errors per epoch",
        say,
    );
    let totals = RbmRunTotals::new(trainer.epochs_done(), clock.total());
    let minutes = totals.wall_minutes;
    let result = GaussianResult {
        totals,
        held_out_recon_mse: held_out_recon as f64,
        mean_sigma: mean_sigma as f64,
        loglik,
    };
    run.write_json("result.json", &result)?;
    say(&format!(
        "mean sigma {mean_sigma:.3}; {minutes:.1} min; wrote {}",
        run.path.display()
    ));
    say(&format!("recon_mse={held_out_recon:.4}"));
    Ok(Outcome::Finished(()))
}
