//! AIS estimate of log Z and of the mean test log-likelihood of a saved
//! RBM (a `train-rbm` run directory or a model file), on the run's own
//! data and binarisation unless told otherwise.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use rbm::{AisConfig, ais_log_partition, base_rate_biases, load_rbm, mean_log_likelihood};

use crate::data::{BinarizeMode, DataArgs, images_tensor};
use crate::runs::rbm::{RbmRunConfig, model_path};

/// What the measurement takes (the subcommand's flags, checked there).
#[derive(Debug, Clone)]
pub struct LoglikConfig {
    pub model: PathBuf,
    pub ais_runs: usize,
    pub ais_steps: Option<usize>,
    pub binarize: Option<BinarizeMode>,
    pub binarize_seed: Option<u64>,
    pub seed: u64,
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
    // Training and test images are binarised by one stream, as in training.
    let train = images_tensor(&mnist.train, binarization, device);
    let test = images_tensor(&mnist.test, mode.with_seed(seed.wrapping_add(1)), device);
    let ais = match config.ais_steps {
        Some(steps) => AisConfig::linear(config.ais_runs, steps, config.seed),
        None => AisConfig::paper(config.ais_runs, config.seed),
    };
    say(&format!(
        "AIS: {} runs, {} temperatures, base rate from the {} training images",
        ais.runs,
        ais.betas.len(),
        mnist.train.len()
    ));
    let started = Instant::now();
    let estimate = ais_log_partition(&rbm, base_rate_biases(&train), &ais)?;
    say(&format!(
        "log Z = {:.3}, 3-sigma band [{:.3}, {:.3}], base-rate log Z_A = {:.3}, {:.1} s",
        estimate.log_z,
        estimate.log_z_low,
        estimate.log_z_high,
        estimate.log_z_base,
        started.elapsed().as_secs_f64()
    ));
    let train_loglik = mean_log_likelihood(&rbm, &train, estimate.log_z)?;
    let test_loglik = mean_log_likelihood(&rbm, &test, estimate.log_z)?;
    say(&format!("train_loglik={train_loglik:.3}"));
    say(&format!("log_z={:.4}", estimate.log_z));
    say(&format!("test_loglik={test_loglik:.3}"));
    Ok(())
}
