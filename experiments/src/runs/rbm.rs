//! The pieces of an RBM training run that the binaries share: options,
//! the configuration file, the epoch loop with committed checkpoints and
//! the dashboard, pictures of filters, samples and reconstructions.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::MetricsRenderer;
use dbn::PretrainEvent;
use dbn::monitor::PretrainReporter;
use rbm::{
    CdTrainer, DriveError, DriveEvent, EpochMetrics, Rbm, RbmConfig, Sampler, TrainConfig,
    load_rbm, load_trainer_state, save_rbm, save_trainer_state,
};
use serde::{Deserialize, Serialize};

use crate::data::{BinarizeMode, DataSpec, images_tensor};
use crate::output::images::write_grid;
use crate::run_dir::RunDir;
use crate::runs::loglik::{
    AisSettings, ais_line, estimate_loglik, loglik_images, loglik_lines, loglik_test_images,
};

/// Everything that defines a `train-rbm` run, written as `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RbmRunConfig {
    /// The data set (left out of the file for MNIST).
    #[serde(default, skip_serializing_if = "DataSpec::is_mnist")]
    pub data: DataSpec,
    pub rbm: RbmConfig,
    pub train: TrainConfig,
    pub binarize: BinarizeMode,
    pub binarize_seed: u64,
    /// Training images held out (the last ones of the training split) for monitoring.
    pub held_out: usize,
    /// Training images used (the first ones), after the held-out ones are removed.
    pub train_rows: usize,
    pub device: String,
    /// AIS after training (`--loglik`): log Z and the train and test
    /// log-likelihoods into `result.json`. Absent from the file when off,
    /// so that runs from before the option keep their identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loglik: Option<AisSettings>,
}

impl RbmRunConfig {
    /// Reads `config.json` from a run directory.
    pub fn load(dir: &Path) -> Result<Self, crate::run_dir::RunError> {
        crate::run_dir::read_json(&dir.join(crate::run_dir::CONFIG_FILE))
    }

    /// Checks every value (also those read from a `config.json`).
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        self.rbm.validate()?;
        self.train.validate()?;
        if let Some(ais) = &self.loglik {
            ais.config().validate()?;
        }
        let total = self.data.train_images;
        if self.rbm.n_visible != self.data.pixels() {
            return Err(format!(
                "n_visible is {}, the images of {} have {} pixels",
                self.rbm.n_visible,
                self.data.source,
                self.data.pixels()
            )
            .into());
        }
        if self.held_out >= total {
            return Err(format!(
                "held_out {} leaves no training images of {total}",
                self.held_out
            )
            .into());
        }
        crate::data::train_rows_flag(Some(self.train_rows), total - self.held_out)?;
        Ok(())
    }
}

/// Resolves a model argument: a `.safetensors` file, or a run directory
/// holding `model.safetensors`.
pub fn model_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("model.safetensors")
    } else {
        path.to_path_buf()
    }
}

/// Rows of a `[rows, cols]` tensor as host vectors.
pub fn tensor_rows(x: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, cols] = x.dims();
    x.into_data()
        .try_into_vec_as::<f32>()
        .expect("float data")
        .chunks(cols)
        .map(|c| c.to_vec())
        .collect()
}

/// Writes the first `count` filters (columns of W) as tiles of `image`
/// (height, width) pixels, each scaled to its own range.
pub fn write_filters(
    rbm: &Rbm,
    count: usize,
    image: (usize, usize),
    path: &Path,
) -> std::io::Result<()> {
    let count = count.min(rbm.n_hidden());
    let filters = rbm.weight.val().transpose().slice(0..count); // [count, height * width]
    write_grid(path, &tensor_rows(filters), image.0, image.1, 10, true)
}

/// Writes pairs of rows: data, then its mean-field reconstruction, as
/// tiles of `image` (height, width) pixels.
pub fn write_reconstructions(
    rbm: &Rbm,
    data: Tensor<2>,
    image: (usize, usize),
    path: &Path,
) -> std::io::Result<()> {
    let reconstruction = rbm.reconstruct(data.clone());
    let mut tiles = Vec::new();
    for (d, r) in tensor_rows(data)
        .chunks(10)
        .zip(tensor_rows(reconstruction).chunks(10))
    {
        tiles.extend_from_slice(d);
        tiles.extend_from_slice(r);
    }
    write_grid(path, &tiles, image.0, image.1, 10, false)
}

/// Runs `chains` Gibbs chains for `steps` steps from random binary images
/// and writes the final visible probabilities as tiles of `image` pixels.
pub fn write_samples(
    rbm: &Rbm,
    chains: usize,
    steps: usize,
    seed: u64,
    image: (usize, usize),
    path: &Path,
) -> std::io::Result<()> {
    let device = rbm.weight.device();
    let mut sampler = Sampler::new(seed);
    let start = sampler.bernoulli(Tensor::<2>::full([chains, rbm.n_visible()], 0.5, &device));
    let state = rbm.gibbs(start, steps, &mut sampler);
    write_grid(
        path,
        &tensor_rows(state.visible_mean),
        image.0,
        image.1,
        10,
        false,
    )
}

/// The name of an RBM run's checkpoint commits.
const CHECKPOINT: &str = "checkpoint";

/// How [`train_with_checkpoints`] ended.
pub enum RbmTraining {
    /// All epochs done: the trainer (its RBM is the model).
    Finished(Box<CdTrainer>),
    /// Stopped from the dashboard after a committed epoch (`--resume` continues).
    Interrupted { epochs_done: usize },
}

/// Trains an RBM in `run` to `train.epochs` epochs on `data`, monitoring
/// `held_out`: resumes from the run's last committed checkpoint (a fresh
/// run, or one killed before its first, starts from scratch with `seed`
/// of `train`), commits `checkpoint/model-E` and `checkpoint/trainer-E`
/// after every epoch (an interrupted run loses at most the epoch in
/// progress), appends each epoch to `metrics.jsonl` under `phase`, keeps
/// `model.safetensors` as the last epoch's model, and shows progress on
/// `renderer` (Burn's TUI on a terminal, plain lines otherwise).
/// Divergence (the rule of `CdTrainer::train_epoch`) is an error that
/// names the last good checkpoint.
#[allow(clippy::too_many_arguments)]
pub fn train_with_checkpoints(
    run: &RunDir,
    phase: &str,
    rbm_config: &RbmConfig,
    train: &TrainConfig,
    data: &Tensor<2>,
    held_out: Option<&Tensor<2>>,
    renderer: &mut dyn MetricsRenderer,
    interrupter: &Interrupter,
) -> Result<RbmTraining, Box<dyn std::error::Error>> {
    let device = data.device();
    let mut trainer = match run.last_commit(CHECKPOINT)? {
        Some(commit) => {
            let model = run
                .committed(&commit, "model")
                .ok_or("commit without a model")?;
            let state = run
                .committed(&commit, "trainer")
                .ok_or("commit without a trainer state")?;
            let (rbm, saved) = load_rbm(&model, &device)?;
            if saved != *rbm_config {
                return Err(format!(
                    "{}: the model's configuration is not the run's config.json",
                    model.display()
                )
                .into());
            }
            let state =
                load_trainer_state(&state, rbm_config.n_visible, rbm_config.n_hidden, &device)?;
            // Records of epochs after the checkpoint are redone.
            let done = state.epochs_done as u64;
            run.retain_jsonl("metrics.jsonl", |r| {
                r.get("epoch")
                    .and_then(|e| e.as_u64())
                    .is_some_and(|e| e <= done)
            })?;
            CdTrainer::resume(rbm, train.clone(), state)?
        }
        None => {
            let _ = std::fs::remove_file(run.file("metrics.jsonl"));
            CdTrainer::new(rbm_config.init(&device, train.seed), train.clone())?
        }
    };
    let mut reporter = PretrainReporter::labelled(train.batch_size, interrupter.clone(), phase);
    if trainer.epochs_done() < train.epochs {
        let _ = reporter.report(
            renderer,
            &PretrainEvent::LayerStarted {
                layer: 1,
                layers: 1,
                n_visible: rbm_config.n_visible,
                n_hidden: rbm_config.n_hidden,
                epochs: train.epochs,
                epochs_done: trainer.epochs_done(),
                rows: data.dims()[0],
            },
        );
    }
    let flow = trainer
        .drive(data, held_out, |event| match event {
            DriveEvent::Batch {
                epoch,
                batch,
                batches,
            } => {
                // Only an epoch's end stops training (after its commit).
                let _ = reporter.report(
                    renderer,
                    &PretrainEvent::Batch {
                        layer: 1,
                        epoch,
                        batch,
                        batches,
                    },
                );
                Ok(ControlFlow::Continue(()))
            }
            DriveEvent::Epoch { metrics, trainer } => {
                commit_epoch(run, phase, rbm_config, metrics, trainer)?;
                Ok::<_, Box<dyn std::error::Error>>(reporter.report(
                    renderer,
                    &PretrainEvent::Epoch {
                        layer: 1,
                        metrics,
                        finished: &[],
                        trainer,
                    },
                ))
            }
        })
        .map_err(|e| -> Box<dyn std::error::Error> {
            match e {
                DriveError::Training(e) => format!(
                    "{e}; the last good checkpoint (epoch {}) is kept in {}",
                    trainer.epochs_done(),
                    run.path.display()
                )
                .into(),
                DriveError::Callback(e) => e,
            }
        })?;
    if flow.is_break() && trainer.epochs_done() < train.epochs {
        return Ok(RbmTraining::Interrupted {
            epochs_done: trainer.epochs_done(),
        });
    }
    let finished = [trainer.rbm().clone()];
    let _ = reporter.report(
        renderer,
        &PretrainEvent::LayerFinished {
            layer: 1,
            finished: &finished,
        },
    );
    Ok(RbmTraining::Finished(Box::new(trainer)))
}

/// Commits one finished epoch of an RBM run: the model and trainer state
/// under names of their own, the epoch's line in `metrics.jsonl`, then the
/// commit; then `model.safetensors`, the last epoch's model, where users
/// look for it.
fn commit_epoch(
    run: &RunDir,
    phase: &str,
    rbm_config: &RbmConfig,
    metrics: &EpochMetrics,
    trainer: &CdTrainer,
) -> Result<(), Box<dyn std::error::Error>> {
    let epoch = trainer.epochs_done();
    let model = format!("checkpoint/model-{epoch}.safetensors");
    let state = format!("checkpoint/trainer-{epoch}.safetensors");
    run.subdir("checkpoint")?;
    save_rbm(trainer.rbm(), rbm_config, &run.file(&model))?;
    save_trainer_state(&trainer.state(), &run.file(&state))?;
    run.append_jsonl(
        "metrics.jsonl",
        &crate::output::dashboard::rbm_epoch_record(phase, metrics),
    )?;
    run.commit(
        CHECKPOINT,
        serde_json::json!({ "epochs_done": epoch }),
        &[("model", &model), ("trainer", &state)],
    )?;
    save_rbm(trainer.rbm(), rbm_config, &run.file("model.safetensors"))?;
    Ok(())
}

/// [`train_with_checkpoints`] on the run's dashboard (Burn's TUI on a
/// terminal, plain lines otherwise), closed before returning: the trainer,
/// or `None` if training was stopped from the dashboard (`--resume`
/// continues).
pub fn train_on_dashboard(
    run: &RunDir,
    phase: &str,
    rbm_config: &RbmConfig,
    train: &TrainConfig,
    data: &Tensor<2>,
    held_out: Option<&Tensor<2>>,
) -> Result<Option<Box<CdTrainer>>, Box<dyn std::error::Error>> {
    let interrupter = Interrupter::new();
    let (mut renderer, _) = crate::output::dashboard::dashboard(&interrupter, None);
    let outcome = train_with_checkpoints(
        run,
        phase,
        rbm_config,
        train,
        data,
        held_out,
        renderer.as_mut(),
        &interrupter,
    )?;
    Ok(match outcome {
        RbmTraining::Finished(trainer) => Some(trainer),
        RbmTraining::Interrupted { .. } => None,
    })
}

crate::run_config!(RbmRunConfig, data);

/// The first fields of a one-RBM run's `result.json` (`train-rbm`,
/// `gaussian`): its epochs and its wall time over every process that
/// worked on it (see `RunClock`).
#[derive(Debug, Serialize)]
pub(crate) struct RbmRunTotals {
    epochs_done: usize,
    pub(crate) wall_minutes: f64,
    processes: usize,
}

impl RbmRunTotals {
    pub(crate) fn new(epochs_done: usize, wall: crate::run_dir::clock::WallTime) -> Self {
        Self {
            epochs_done,
            wall_minutes: wall.wall_seconds / 60.0,
            processes: wall.processes,
        }
    }
}

/// What a finished `train-rbm` run writes as `result.json`.
#[derive(Debug, Serialize)]
struct RbmResult {
    #[serde(flatten)]
    totals: RbmRunTotals,
    /// Top-level numbers (which `deepbelief seeds` summarises); absent
    /// without `--loglik`.
    #[serde(flatten)]
    loglik: Option<crate::runs::loglik::LoglikEstimate>,
}

/// Runs (or resumes) a `train-rbm` run of `config` on `set` in `run`: the
/// RBM trained with committed checkpoints on Burn's dashboard, then (with
/// `config.loglik`) its log-likelihood by AIS, its filters,
/// reconstructions of test images, samples and learning curves, and
/// `result.json`.
pub fn train_rbm(
    run: &RunDir,
    config: &RbmRunConfig,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<super::Outcome<()>, Box<dyn std::error::Error>> {
    let clock = run.clock()?;
    let image = set.image_size();
    let total = set.train.len();
    let split = total - config.held_out;
    let rows = config.train_rows;
    let binarization = config.binarize.with_seed(config.binarize_seed);
    let train = images_tensor(&set.train.range(0, rows), binarization, device);
    let held_out = (config.held_out > 0)
        .then(|| images_tensor(&set.train.range(split, total), binarization, device));
    let (rbm_config, train_config) = (&config.rbm, &config.train);
    say(&format!(
        "training {}x{} RBM, {}-{}, {} images ({}), {} epochs on {}",
        rbm_config.n_visible,
        rbm_config.n_hidden,
        if train_config.persistent { "PCD" } else { "CD" },
        train_config.k,
        rows,
        binarization.describe(),
        train_config.epochs,
        config.device
    ));
    let Some(trainer) = train_on_dashboard(
        run,
        "train-rbm", // the phase in metrics.jsonl, as before the subcommands
        rbm_config,
        train_config,
        &train,
        held_out.as_ref(),
    )?
    else {
        return Ok(super::Outcome::Interrupted);
    };
    let rbm = trainer.rbm();
    // Measured as `deepbelief loglik RUN` with the same AIS settings
    // measures it (all training images, the run's binarisation), so that
    // either reproduces the other.
    let loglik = match &config.loglik {
        Some(settings) => {
            let ais = settings.config();
            say(&ais_line(&ais, settings.side, total));
            // A run on every training image already holds them binarised
            // with this seed: the same tensor, not a second copy.
            let (all_train, test) = if rows == total {
                let test = loglik_test_images(set, config.binarize, config.binarize_seed, device);
                (train.clone(), test)
            } else {
                loglik_images(set, config.binarize, config.binarize_seed, device)
            };
            let estimate = estimate_loglik(rbm, &all_train, &test, &ais, settings.side)?;
            for line in loglik_lines(&estimate) {
                say(&line);
            }
            Some(estimate)
        }
        None => None,
    };
    write_filters(rbm, 100, image, &run.file("filters.png"))?;
    let shown = images_tensor(&set.test.head(50), binarization, device);
    write_reconstructions(rbm, shown, image, &run.file("reconstructions.png"))?;
    write_samples(
        rbm,
        100,
        1000,
        train_config.seed,
        image,
        &run.file("samples.png"),
    )?;
    crate::output::plots::learning_curves_or_warning(
        run,
        "train-rbm: reconstruction errors per epoch",
        say,
    );
    let totals = RbmRunTotals::new(trainer.epochs_done(), clock.total());
    let minutes = totals.wall_minutes;
    run.write_json("result.json", &RbmResult { totals, loglik })?;
    say(&format!("{minutes:.1} min; wrote {}", run.path.display()));
    Ok(super::Outcome::Finished(()))
}
