//! The CD trainer: one RBM trained epoch by epoch with CD-k or PCD-k,
//! momentum, L2 weight decay and an optional sparsity target, measured
//! after every epoch and stopped by the divergence rule.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::time::Instant;

use burn::prelude::*;

use super::cd::contrastive_divergence;
use super::config::{SparsityConfig, TrainConfig};
use super::metrics::{EpochMetrics, Progress, check_divergence};
use crate::data::check_data;
use crate::error::{ConfigError, RbmError};
use crate::fused_update::momentum_ascent;
use crate::gradient::ParameterTensors;
use crate::model::Rbm;
use crate::sampler::Sampler;

/// What [`CdTrainer::drive`] reports.
pub enum DriveEvent<'a> {
    /// After each mini-batch update (1-based numbers).
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
    },
    /// After each epoch that counts as done, with its metrics and the
    /// trainer as it stands (to checkpoint).
    Epoch {
        metrics: &'a EpochMetrics,
        trainer: &'a CdTrainer,
    },
}

/// Why [`CdTrainer::drive`] failed: training itself (divergence included)
/// or the caller's epoch callback.
#[derive(Debug)]
pub enum DriveError<E> {
    Training(RbmError),
    Callback(E),
}

/// What a trainer carries from one update to the next, apart from the model.
#[derive(Debug, Clone)]
pub struct TrainerState {
    /// Completed epochs.
    pub epochs_done: usize,
    /// Momentum velocities (absent before the first update).
    pub velocity: Option<ParameterTensors>,
    /// Hidden states of the persistent chains, `[chains, n_hidden]` (PCD only).
    pub chains: Option<Tensor<2>>,
    /// Running mean activation of the hidden units, `[n_hidden]` (sparsity only).
    pub hidden_activity: Option<Tensor<1>>,
}

/// Trains one RBM with CD-k or PCD-k. Holds the model, the momentum
/// velocities, the persistent chains and the random stream, so training can
/// go on epoch by epoch.
#[derive(Debug)]
pub struct CdTrainer {
    config: TrainConfig,
    rbm: Option<Rbm>,
    velocity: Option<ParameterTensors>,
    /// Hidden states of the persistent chains, `[batch_size, n_hidden]`.
    chains: Option<Tensor<2>>,
    /// Running mean activation of each hidden unit, `[n_hidden]`.
    hidden_activity: Option<Tensor<1>>,
    sampler: Sampler,
    epochs_done: usize,
}

impl CdTrainer {
    /// Validates `config` and prepares to train `rbm`.
    pub fn new(rbm: Rbm, config: TrainConfig) -> Result<Self, RbmError> {
        config.validate()?;
        let sampler = Sampler::new(config.seed);
        Ok(Self {
            config,
            rbm: Some(rbm),
            velocity: None,
            chains: None,
            hidden_activity: None,
            sampler,
            epochs_done: 0,
        })
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The model as trained so far.
    pub fn rbm(&self) -> &Rbm {
        self.rbm
            .as_ref()
            .expect("the model is only taken during an update")
    }

    pub fn into_rbm(self) -> Rbm {
        self.rbm.expect("the model is only taken during an update")
    }

    /// Epochs completed so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// The optimiser state that a checkpoint must keep besides the model.
    pub fn state(&self) -> TrainerState {
        TrainerState {
            epochs_done: self.epochs_done,
            velocity: self.velocity.clone(),
            chains: self.chains.clone(),
            hidden_activity: self.hidden_activity.clone(),
        }
    }

    /// Rebuilds a trainer from a model and a saved [`TrainerState`], so that
    /// training continues exactly where the checkpoint was taken.
    pub fn resume(rbm: Rbm, config: TrainConfig, state: TrainerState) -> Result<Self, RbmError> {
        let mut trainer = Self::new(rbm, config)?;
        trainer.epochs_done = state.epochs_done;
        trainer.velocity = state.velocity;
        trainer.chains = state.chains;
        trainer.hidden_activity = state.hidden_activity;
        Ok(trainer)
    }

    /// Runs all remaining epochs of `config.epochs`.
    ///
    /// # Shapes
    /// - data: `[n, n_visible]`; held_out: `[m, n_visible]`
    pub fn fit(
        &mut self,
        data: &Tensor<2>,
        held_out: Option<&Tensor<2>>,
        mut on_progress: impl FnMut(Progress<'_>),
    ) -> Result<Vec<EpochMetrics>, RbmError> {
        let mut all = Vec::new();
        // The callback never stops training: all epochs run.
        let _ = self
            .drive(data, held_out, |event| {
                match event {
                    DriveEvent::Batch {
                        epoch,
                        batch,
                        batches,
                    } => on_progress(Progress::Batch {
                        epoch,
                        batch,
                        batches,
                    }),
                    DriveEvent::Epoch { metrics, .. } => {
                        on_progress(Progress::Epoch(metrics));
                        all.push(metrics.clone());
                    }
                }
                Ok::<_, Infallible>(ControlFlow::Continue(()))
            })
            .map_err(|e| match e {
                DriveError::Training(e) => e,
                DriveError::Callback(never) => match never {},
            })?;
        Ok(all)
    }

    /// The one epoch loop of CD training, for every caller that reports,
    /// checkpoints or may stop ([`CdTrainer::fit`], greedy pretraining,
    /// checkpointed runs): trains the epochs left up to `config.epochs`,
    /// calling `on_event` after every update ([`DriveEvent::Batch`]) and
    /// after every epoch once it counts as done ([`DriveEvent::Epoch`],
    /// e.g. to commit a checkpoint of the trainer). Returns `Break` after
    /// the first epoch in which the callback asked to stop (a stop asked
    /// mid-epoch takes effect at its end, so that every stop leaves a whole
    /// epoch to checkpoint), `Continue` when all epochs are done.
    ///
    /// # Errors
    /// [`DriveError::Training`] for an error of [`CdTrainer::train_epoch`]
    /// (divergence included; the failed epoch does not count),
    /// [`DriveError::Callback`] for the callback's first error (one at a
    /// batch is returned at the end of its epoch, before the epoch event).
    pub fn drive<E>(
        &mut self,
        data: &Tensor<2>,
        held_out: Option<&Tensor<2>>,
        mut on_event: impl FnMut(DriveEvent<'_>) -> Result<ControlFlow<()>, E>,
    ) -> Result<ControlFlow<()>, DriveError<E>> {
        // Once for all the epochs: the same tensors come back every epoch,
        // and a scan of the whole data set per epoch cost about a sixth of
        // a 784x500 pretraining epoch (docs/RESULTS.md, deepnet-stack).
        if self.epochs_done < self.config.epochs {
            self.check_epoch_data(data, held_out)
                .map_err(DriveError::Training)?;
        }
        while self.epochs_done < self.config.epochs {
            let mut stop = false;
            let mut failure = None;
            let metrics = self
                .train_checked_epoch(data, held_out, |progress| {
                    if let Progress::Batch {
                        epoch,
                        batch,
                        batches,
                    } = progress
                        && failure.is_none()
                    {
                        match on_event(DriveEvent::Batch {
                            epoch,
                            batch,
                            batches,
                        }) {
                            Ok(flow) => stop |= flow.is_break(),
                            Err(e) => failure = Some(e),
                        }
                    }
                })
                .map_err(DriveError::Training)?;
            if let Some(e) = failure {
                return Err(DriveError::Callback(e));
            }
            let flow = on_event(DriveEvent::Epoch {
                metrics: &metrics,
                trainer: self,
            })
            .map_err(DriveError::Callback)?;
            if stop || flow.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    pub fn train_epoch(
        &mut self,
        data: &Tensor<2>,
        held_out: Option<&Tensor<2>>,
        on_progress: impl FnMut(Progress<'_>),
    ) -> Result<EpochMetrics, RbmError> {
        self.check_epoch_data(data, held_out)?;
        self.train_checked_epoch(data, held_out, on_progress)
    }

    /// The checks of [`CdTrainer::train_epoch`] on its data: width, rows,
    /// finite values within the visible units' range.
    fn check_epoch_data(
        &self,
        data: &Tensor<2>,
        held_out: Option<&Tensor<2>>,
    ) -> Result<(), RbmError> {
        let units = self.rbm().visible_units;
        let n_visible = self.rbm().n_visible();
        check_data(units, data, n_visible, "training data")?;
        if let Some(h) = held_out {
            check_data(units, h, n_visible, "held-out data")?;
        }
        Ok(())
    }

    /// One epoch on data that [`CdTrainer::check_epoch_data`] has passed.
    fn train_checked_epoch(
        &mut self,
        data: &Tensor<2>,
        held_out: Option<&Tensor<2>>,
        mut on_progress: impl FnMut(Progress<'_>),
    ) -> Result<EpochMetrics, RbmError> {
        if self.epochs_done == 0 && self.config.init_visible_bias_from_data {
            let means = data.clone().mean_dim(0).squeeze_dim::<1>(0);
            let rbm = self.rbm.take().expect("model present");
            self.rbm = Some(rbm.with_visible_bias_from_means(means));
        }
        let started = Instant::now();
        let epoch = self.epochs_done;
        // Each epoch draws from its own stream, a function of (seed, epoch),
        // so a run resumed from a checkpoint continues exactly as it would have.
        self.sampler = Sampler::for_epoch(self.config.seed, epoch);
        let learning_rate = self.config.learning_rate_at(epoch);
        let momentum = self.config.momentum_at(epoch);
        let rows = data.dims()[0];
        let order = self.epoch_order(rows);
        let batches = rows.div_ceil(self.config.batch_size);
        let device = data.device();
        for (index, chunk) in order.chunks(self.config.batch_size).enumerate() {
            let indices = Tensor::<1, Int>::from_data(
                TensorData::new(chunk.to_vec(), [chunk.len()]),
                &device,
            );
            let batch = data.clone().select(0, indices);
            self.step(batch, learning_rate, momentum)?;
            on_progress(Progress::Batch {
                epoch: epoch + 1,
                batch: index + 1,
                batches,
            });
        }
        // Reading a metric synchronises the device, so the time is honest.
        let metrics_started = Instant::now();
        let mut metrics = self.measure(data, held_out, epoch + 1, learning_rate, momentum);
        metrics.updates = (epoch + 1) * batches;
        let train_seconds = (metrics_started - started).as_secs_f64();
        metrics.train_seconds = train_seconds;
        metrics.samples_per_second = rows as f64 / train_seconds.max(1e-12);
        metrics.wall_seconds = started.elapsed().as_secs_f64();
        check_divergence(&metrics)?;
        self.epochs_done += 1;
        on_progress(Progress::Epoch(&metrics));
        Ok(metrics)
    }

    fn epoch_order(&mut self, rows: usize) -> Vec<i64> {
        let mut order: Vec<i64> = (0..rows as i64).collect();
        if self.config.shuffle {
            self.sampler.shuffle(&mut order);
        }
        order
    }

    /// One CD-k / PCD-k update on a mini-batch. The batch's width and the
    /// rates are checked (the values are not: [`CdTrainer::train_epoch`]
    /// checks the whole data set once).
    ///
    /// # Shapes
    /// - batch: `[batch, n_visible]`
    pub fn step(
        &mut self,
        batch: Tensor<2>,
        learning_rate: f64,
        momentum: f64,
    ) -> Result<(), RbmError> {
        let [rows, width] = batch.dims();
        if width != self.rbm().n_visible() {
            return Err(RbmError::DataWidth {
                what: "mini-batch",
                expected: self.rbm().n_visible(),
                found: width,
            });
        }
        if rows == 0 {
            return Err(RbmError::EmptyData { what: "mini-batch" });
        }
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(ConfigError::InvalidLearningRate(learning_rate).into());
        }
        if !(0.0..1.0).contains(&momentum) {
            return Err(ConfigError::MomentumOutOfRange {
                name: "momentum",
                value: momentum,
            }
            .into());
        }
        let rbm = self.rbm.take().expect("model present");
        let chains = if self.config.persistent {
            self.chains.take()
        } else {
            None
        };
        let estimate = contrastive_divergence(
            &rbm,
            batch.clone(),
            chains,
            self.config.k,
            // A learned sigma needs sampled visibles: the mean has no spread.
            !self.config.persistent
                && self.config.mean_field_reconstruction
                && !rbm.visible_sigma.learned,
            learning_rate,
            &mut self.sampler,
        );
        let mut update = estimate.gradient;
        if self.config.persistent {
            self.chains = Some(rbm.hidden_units.sample(
                estimate.negative.hidden_input,
                estimate.negative.hidden_mean,
                &mut self.sampler,
            ));
        }
        if let Some(sparsity) = self.config.sparsity {
            self.add_sparsity_penalty(
                &mut update,
                sparsity,
                rbm.normalize_visible(batch),
                estimate.positive_hidden,
                learning_rate,
            );
        }
        let mut rbm = self.apply_update(rbm, update, learning_rate, momentum);
        if let (Some(step), true) = (estimate.log_sigma, rbm.visible_sigma.learned) {
            // The estimate is scaled by the learning rate; sigma has its own.
            let sigma_rate = self.config.sigma_learning_rate.unwrap_or(0.001);
            let step = step * (sigma_rate / learning_rate);
            let (low, high) = (rbm.visible_sigma.min.ln(), rbm.visible_sigma.max.ln());
            rbm.visible_log_sigma = rbm
                .visible_log_sigma
                .map(|l| l.map(|l| (l + step).clamp(low, high)));
        }
        self.rbm = Some(rbm);
        Ok(())
    }

    /// Adds `-lr * cost * (q - target)` to the hidden biases and its outer
    /// product with the mean visible vector to the weights, where `q` is the
    /// running mean activation of each hidden unit (guide, section 11).
    fn add_sparsity_penalty(
        &mut self,
        update: &mut ParameterTensors,
        sparsity: SparsityConfig,
        batch: Tensor<2>,
        positive_hidden: Tensor<2>,
        learning_rate: f64,
    ) {
        let batch_activity = positive_hidden.mean_dim(0).squeeze_dim::<1>(0);
        let activity = match self.hidden_activity.take() {
            Some(q) => q * sparsity.decay + batch_activity * (1.0 - sparsity.decay),
            None => batch_activity,
        };
        let penalty = (activity.clone() - sparsity.target) * (learning_rate * sparsity.cost);
        let mean_visible = batch.mean_dim(0); // [1, n_visible]
        update.weight = update.weight.clone()
            - mean_visible
                .transpose()
                .matmul(penalty.clone().unsqueeze::<2>());
        update.hidden_bias = update.hidden_bias.clone() - penalty;
        self.hidden_activity = Some(activity);
    }

    /// velocity = momentum * velocity + update - lr * weight_decay * W;
    /// parameters += velocity.
    fn apply_update(
        &mut self,
        rbm: Rbm,
        update: ParameterTensors,
        learning_rate: f64,
        momentum: f64,
    ) -> Rbm {
        let decay = learning_rate * self.config.weight_decay;
        let (velocity_weight, velocity_visible, velocity_hidden) = match self.velocity.take() {
            Some(v) => (Some(v.weight), Some(v.visible_bias), Some(v.hidden_bias)),
            None => (None, None, None),
        };
        // Each parameter moves out of the model and back (held once, so a
        // host backend updates it in place); only weights decay.
        let mut velocity = (None, None, None);
        let rbm = Rbm {
            weight: rbm.weight.map(|w| {
                let (w, v) = momentum_ascent(w, velocity_weight, update.weight, momentum, decay);
                velocity.0 = Some(v);
                w
            }),
            visible_bias: rbm.visible_bias.map(|b| {
                let (b, v) =
                    momentum_ascent(b, velocity_visible, update.visible_bias, momentum, 0.0);
                velocity.1 = Some(v);
                b
            }),
            hidden_bias: rbm.hidden_bias.map(|b| {
                let (b, v) = momentum_ascent(b, velocity_hidden, update.hidden_bias, momentum, 0.0);
                velocity.2 = Some(v);
                b
            }),
            ..rbm
        };
        let velocity = ParameterTensors {
            weight: velocity.0.expect("mapped"),
            visible_bias: velocity.1.expect("mapped"),
            hidden_bias: velocity.2.expect("mapped"),
        };
        self.velocity = Some(velocity);
        rbm
    }

    fn measure(
        &self,
        data: &Tensor<2>,
        held_out: Option<&Tensor<2>>,
        epoch: usize,
        learning_rate: f64,
        momentum: f64,
    ) -> EpochMetrics {
        let rbm = self.rbm();
        let rows = self.config.monitor_rows.max(1);
        let head = |x: &Tensor<2>| {
            let n = x.dims()[0].min(rows);
            x.clone().slice(0..n)
        };
        let train = head(data);
        let trivial = (train.clone() - train.clone().mean_dim(0))
            .square()
            .mean()
            .into_scalar::<f32>() as f64;
        let max_abs_weight = rbm.weight.val().abs().max().into_scalar::<f32>() as f64;
        let max_abs_bias = Tensor::cat(vec![rbm.visible_bias.val(), rbm.hidden_bias.val()], 0)
            .abs()
            .max()
            .into_scalar::<f32>() as f64;
        let hidden = rbm.hidden_given_visible(train.clone());
        let reconstruction = rbm.visible_given_hidden(hidden.clone());
        let recon = (train.clone() - reconstruction)
            .square()
            .mean()
            .into_scalar::<f32>() as f64;
        let activity = hidden.mean().into_scalar::<f32>() as f64;
        let free_train = rbm.free_energy(train).mean().into_scalar::<f32>() as f64;
        let (held_recon, held_free) = match held_out {
            Some(h) => {
                let h = head(h);
                let recon = (h.clone() - rbm.reconstruct(h.clone())).square().mean();
                let free = rbm.free_energy(h).mean();
                (
                    Some(recon.into_scalar::<f32>() as f64),
                    Some(free.into_scalar::<f32>() as f64),
                )
            }
            None => (None, None),
        };
        EpochMetrics {
            epoch,
            learning_rate,
            momentum,
            reconstruction_error: recon,
            trivial_reconstruction_error: trivial,
            updates: 0,
            max_abs_weight,
            max_abs_bias,
            held_out_reconstruction_error: held_recon,
            free_energy_train: free_train,
            free_energy_held_out: held_free,
            free_energy_gap: held_free.map(|f| f - free_train),
            mean_hidden_activation: activity,
            train_seconds: 0.0,
            samples_per_second: 0.0,
            wall_seconds: 0.0,
        }
    }
}
