//! AIS estimate of log Z and of the mean test log-likelihood of a saved
//! RBM (a `train-rbm` run directory or a model file), on the run's own
//! data and binarisation unless told otherwise; and the same estimate at
//! the end of a `train-rbm --loglik` run.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use rbm::{
    AisConfig, AisSide, Rbm, RbmError, ais_log_partition_from_data, load_rbm, mean_log_likelihood,
};
use serde::{Deserialize, Serialize};

use crate::data::{BinarizeMode, DataArgs, images_tensor};
use crate::runs::rbm::{RbmRunConfig, model_path};

/// The AIS of a log-likelihood estimate: parallel runs, temperatures
/// (`None`: the 14,500-step schedule of Salakhutdinov & Murray 2008) and
/// the seed of the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AisSettings {
    pub runs: usize,
    pub steps: Option<usize>,
    pub seed: u64,
    /// The layer annealed over; absent from a file when visible (the
    /// default), so that runs from before the option keep their identity.
    #[serde(default, skip_serializing_if = "is_visible")]
    pub side: AisSide,
}

fn is_visible(side: &AisSide) -> bool {
    *side == AisSide::Visible
}

impl AisSettings {
    /// The `rbm` crate's configuration of these settings.
    pub fn config(&self) -> AisConfig {
        match self.steps {
            Some(steps) => AisConfig::linear(self.runs, steps, self.seed),
            None => AisConfig::paper(self.runs, self.seed),
        }
    }
}

/// log Z by AIS and the mean log-likelihoods (nats per image) it gives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoglikEstimate {
    pub log_z: f64,
    /// log(mean -+ 3 standard errors) of the importance weights (the lower
    /// end minus infinity when the band reaches zero: `"-inf"` in JSON).
    #[serde(serialize_with = "crate::run_dir::json_float::serialize")]
    pub log_z_low: f64,
    pub log_z_high: f64,
    /// log Z of the base model AIS starts from.
    pub log_z_base: f64,
    /// Kish's effective number of AIS runs (see `rbm::AisEstimate`).
    pub effective_runs: f64,
    pub train_loglik: f64,
    pub test_loglik: f64,
    /// Time of the AIS runs alone.
    pub ais_seconds: f64,
    /// log Z by enumerating every state of the smaller layer, for a model
    /// of at most [`EXACT_UNITS_AT_MOST`] units there: what AIS is checked
    /// against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact_log_z: Option<f64>,
}

/// The largest layer whose states [`estimate_loglik`] also enumerates for
/// the exact log Z (2^20 states: about a second at 784 visible units).
pub const EXACT_UNITS_AT_MOST: usize = 20;

/// The binarised images a log-likelihood is measured on: every training
/// image binarised with `seed`, every test image with `seed + 1` (one
/// stream each, as in training).
///
/// # Shapes
/// - returns `([train, pixels], [test, pixels])`
pub fn loglik_images(
    set: &datasets::ImageSet,
    mode: BinarizeMode,
    seed: u64,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let train = images_tensor(&set.train, mode.with_seed(seed), device);
    (train, loglik_test_images(set, mode, seed, device))
}

/// The test half of [`loglik_images`], for a caller that already holds
/// the training images binarised with `seed`.
///
/// # Shapes
/// - returns `[test, pixels]`
pub fn loglik_test_images(
    set: &datasets::ImageSet,
    mode: BinarizeMode,
    seed: u64,
    device: &Device,
) -> Tensor<2> {
    images_tensor(&set.test, mode.with_seed(seed.wrapping_add(1)), device)
}

/// AIS on `rbm` over the layer `side` names, from the base model of
/// `train`'s means ([`rbm::ais_log_partition_from_data`]), then the mean
/// log-likelihood of `train` and of `test` under that log Z.
///
/// # Errors
/// Invalid AIS settings, an RBM AIS does not support (NReLU units,
/// stepped-sigmoid visible units), data of the wrong width.
pub fn estimate_loglik(
    rbm: &Rbm,
    train: &Tensor<2>,
    test: &Tensor<2>,
    ais: &AisConfig,
    side: AisSide,
) -> Result<LoglikEstimate, RbmError> {
    let started = Instant::now();
    let estimate = ais_log_partition_from_data(rbm, train, side, ais)?;
    let ais_seconds = started.elapsed().as_secs_f64();
    let exact_log_z = match rbm::enumerated_units(rbm) {
        Ok(units) if units <= EXACT_UNITS_AT_MOST => Some(rbm::exact_log_partition(rbm)?),
        _ => None,
    };
    Ok(LoglikEstimate {
        log_z: estimate.log_z,
        log_z_low: estimate.log_z_low,
        log_z_high: estimate.log_z_high,
        log_z_base: estimate.log_z_base,
        effective_runs: estimate.effective_runs,
        train_loglik: mean_log_likelihood(rbm, train, estimate.log_z)?,
        test_loglik: mean_log_likelihood(rbm, test, estimate.log_z)?,
        ais_seconds,
        exact_log_z,
    })
}

/// The line that announces the AIS of an estimate.
pub fn ais_line(ais: &AisConfig, side: AisSide, train_rows: usize) -> String {
    format!(
        "AIS: {} runs, {} temperatures, over the {} units, base model from the {train_rows} training rows",
        ais.runs,
        ais.betas.len(),
        match side {
            AisSide::Visible => "visible",
            AisSide::Hidden => "hidden",
        }
    )
}

/// The lines that report an estimate (`key=value` last, for scripts);
/// with the exact log Z, how far AIS is from it and the exact
/// log-likelihoods as well.
pub fn loglik_lines(estimate: &LoglikEstimate) -> Vec<String> {
    let mut lines = vec![
        format!(
            "log Z = {:.3}, 3-sigma band [{:.3}, {:.3}], effective runs {:.1}, base model log Z_A = {:.3}, {:.1} s",
            estimate.log_z,
            estimate.log_z_low,
            estimate.log_z_high,
            estimate.effective_runs,
            estimate.log_z_base,
            estimate.ais_seconds
        ),
        format!("train_loglik={:.3}", estimate.train_loglik),
        format!("log_z={:.4}", estimate.log_z),
        format!("test_loglik={:.3}", estimate.test_loglik),
    ];
    if estimate.log_z_low == f64::NEG_INFINITY {
        lines.insert(
            1,
            "warning: the band reaches zero weight: a few runs carry the estimate, which is then \
             usually too low (the log-likelihoods too high); more --ais-steps or --ais-runs"
                .to_string(),
        );
    }
    if let Some(exact) = estimate.exact_log_z {
        // Both log-likelihoods are mean(-F) - log Z: only log Z changes.
        let shift = estimate.log_z - exact;
        lines.insert(
            1,
            format!(
                "exact log Z = {exact:.4} (every state of the smaller layer); AIS is {shift:+.4} nats from it"
            ),
        );
        lines.push(format!("exact_log_z={exact:.4}"));
        lines.push(format!(
            "exact_test_loglik={:.3}",
            estimate.test_loglik + shift
        ));
    }
    lines
}

/// What the measurement takes (the subcommand's flags, checked there).
#[derive(Debug, Clone)]
pub struct LoglikConfig {
    pub model: PathBuf,
    pub ais: AisSettings,
    pub binarize: Option<BinarizeMode>,
    pub binarize_seed: Option<u64>,
}

/// Runs the measurement on `device`, reporting each line through `say`.
pub fn measure_loglik(
    config: &LoglikConfig,
    data_args: &DataArgs,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    let file = model_path(&config.model);
    load_rbm(&file, device)?;
    let run = config
        .model
        .is_dir()
        .then(|| RbmRunConfig::load(&config.model))
        .transpose()?;
    // A run directory's own data set unless --data names another.
    let mut data = data_args.clone();
    if let Some(run) = &run
        && data.data.is_mnist()
    {
        data.data = run.data.source.clone();
    }
    let (mnist, line) = data.load()?;
    say(&line);
    let mode = config
        .binarize
        .or(run.as_ref().map(|r| r.binarize))
        .unwrap_or(BinarizeMode::Stochastic);
    let seed = config
        .binarize_seed
        .or(run.as_ref().map(|r| r.binarize_seed))
        .unwrap_or(0);
    let binarization = mode.with_seed(seed);
    let (rbm, model) = load_rbm(&file, device)?;
    if model.n_visible != mnist.dim() {
        return Err(format!(
            "{}: the model has {} visible units, the images of {} have {} pixels",
            file.display(),
            model.n_visible,
            data.data,
            mnist.dim()
        )
        .into());
    }
    say(&format!(
        "model {} ({}x{}), test binarisation: {}",
        file.display(),
        model.n_visible,
        model.n_hidden,
        binarization.describe()
    ));
    let (train, test) = loglik_images(&mnist, mode, seed, device);
    let ais = config.ais.config();
    say(&ais_line(&ais, config.ais.side, mnist.train.len()));
    let estimate = estimate_loglik(&rbm, &train, &test, &ais, config.ais.side)?;
    for line in loglik_lines(&estimate) {
        say(&line);
    }
    Ok(())
}
