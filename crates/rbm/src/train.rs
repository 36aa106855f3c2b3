//! Contrastive-divergence training: CD-k and persistent CD, with momentum,
//! L2 weight decay and an optional sparsity target (Hinton 2010, "A
//! practical guide to training restricted Boltzmann machines").

use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::check_data;
use crate::gradient::contrastive_statistics;
use crate::host::momentum_ascent;
use crate::{ConfigError, GibbsState, ParameterTensors, Rbm, RbmError, Sampler};

/// A target for the mean activation of each hidden unit (guide, section 11).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SparsityConfig {
    /// Desired probability of a hidden unit being on, e.g. 0.05.
    pub target: f64,
    /// Weight of the penalty, e.g. 0.1 (multiplied by the learning rate).
    pub cost: f64,
    /// Decay of the running estimate of each unit's activation, e.g. 0.95.
    pub decay: f64,
}

/// Hyperparameters of contrastive-divergence training.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Gibbs steps per update (the k of CD-k / PCD-k).
    #[config(default = 1)]
    pub k: usize,
    /// Persistent CD (Tieleman 2008): the negative chains carry over from
    /// one update to the next instead of restarting at the data.
    #[config(default = false)]
    pub persistent: bool,
    /// For CD-k: use the conditional mean of the last visible layer, not a
    /// sample, in the negative statistics (Hinton's guide, section 3.3).
    /// Less noisy, but biased even as k grows; `false` samples it, which
    /// makes CD-k approach the exact gradient as k grows. PCD always samples
    /// (its chains must hold states), and so does CD when Gaussian visible
    /// units learn their sigma (the mean has no spread to learn it from).
    #[config(default = true)]
    pub mean_field_reconstruction: bool,
    /// Mini-batch size (also the number of persistent chains).
    #[config(default = 100)]
    pub batch_size: usize,
    /// Passes over the training data.
    #[config(default = 10)]
    pub epochs: usize,
    /// Learning rate for weights and biases.
    #[config(default = 0.1)]
    pub learning_rate: f64,
    /// If set, the learning rate falls linearly from `learning_rate` in the
    /// first epoch to this value in the last (helps PCD settle).
    #[config(default = "None")]
    pub final_learning_rate: Option<f64>,
    /// Momentum before `momentum_switch_epoch`.
    #[config(default = 0.5)]
    pub initial_momentum: f64,
    /// Momentum from `momentum_switch_epoch` on.
    #[config(default = 0.9)]
    pub final_momentum: f64,
    /// First epoch (0-based) that uses `final_momentum`.
    #[config(default = 5)]
    pub momentum_switch_epoch: usize,
    /// L2 weight cost on the weights (not the biases), times the learning rate.
    #[config(default = 0.0002)]
    pub weight_decay: f64,
    /// Optional sparsity target for the hidden units.
    #[config(default = "None")]
    pub sparsity: Option<SparsityConfig>,
    /// Start the visible biases at log(p / (1 - p)) of the training data.
    #[config(default = true)]
    pub init_visible_bias_from_data: bool,
    /// Shuffle the training data every epoch.
    #[config(default = true)]
    pub shuffle: bool,
    /// Rows of training and held-out data used for the per-epoch metrics.
    #[config(default = 2000)]
    pub monitor_rows: usize,
    /// Learning rate of `log sigma` for Gaussian visible units whose sigma
    /// is learned (`RbmConfig::visible_sigma`); no momentum or decay.
    /// `None` means 0.001 (optional so that older configuration files load).
    #[config(default = "None")]
    pub sigma_learning_rate: Option<f64>,
    /// Seed for shuffling and sampling.
    #[config(default = 42)]
    pub seed: u64,
}

impl TrainConfig {
    /// Checks every rule on the hyperparameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.k == 0 {
            return Err(ConfigError::ZeroGibbsSteps);
        }
        if self.batch_size == 0 {
            return Err(ConfigError::ZeroBatchSize);
        }
        if self.epochs == 0 {
            return Err(ConfigError::ZeroEpochs);
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ConfigError::InvalidLearningRate(self.learning_rate));
        }
        if let Some(last) = self.final_learning_rate
            && !(last.is_finite() && (0.0..=self.learning_rate).contains(&last))
        {
            return Err(ConfigError::InvalidFinalLearningRate(last));
        }
        for (name, value) in [
            ("initial_momentum", self.initial_momentum),
            ("final_momentum", self.final_momentum),
        ] {
            if !(0.0..1.0).contains(&value) {
                return Err(ConfigError::MomentumOutOfRange { name, value });
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(ConfigError::InvalidWeightDecay(self.weight_decay));
        }
        if let Some(rate) = self.sigma_learning_rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(ConfigError::InvalidSigmaLearningRate(rate));
        }
        if let Some(s) = self.sparsity {
            if !(s.target > 0.0 && s.target < 1.0) {
                return Err(ConfigError::SparsityTargetOutOfRange(s.target));
            }
            if !(s.cost.is_finite() && s.cost >= 0.0) {
                return Err(ConfigError::InvalidSparsityCost(s.cost));
            }
            if !(0.0..1.0).contains(&s.decay) {
                return Err(ConfigError::SparsityDecayOutOfRange(s.decay));
            }
        }
        Ok(())
    }

    /// Learning rate in `epoch` (0-based).
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        match self.final_learning_rate {
            Some(last) if self.epochs > 1 => {
                let t = epoch.min(self.epochs - 1) as f64 / (self.epochs - 1) as f64;
                self.learning_rate + (last - self.learning_rate) * t
            }
            _ => self.learning_rate,
        }
    }

    /// Momentum in `epoch` (0-based).
    pub fn momentum_at(&self, epoch: usize) -> f64 {
        if epoch < self.momentum_switch_epoch {
            self.initial_momentum
        } else {
            self.final_momentum
        }
    }
}

/// What one epoch measured. Reconstruction errors are mean squared errors
/// per unit of the mean-field reconstruction `E[v | h = E[h | v]]`; free
/// energies are means over up to `monitor_rows` rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    pub learning_rate: f64,
    pub momentum: f64,
    pub reconstruction_error: f64,
    /// The reconstruction error of the trivial predictor that ignores its
    /// input and answers the mean of the monitor rows (their mean variance
    /// per unit): the yardstick of the divergence rule.
    #[serde(default)]
    pub trivial_reconstruction_error: f64,
    /// The largest absolute weight.
    #[serde(default)]
    pub max_abs_weight: f64,
    pub held_out_reconstruction_error: Option<f64>,
    pub free_energy_train: f64,
    pub free_energy_held_out: Option<f64>,
    /// Held-out minus training mean free energy: it grows when the model
    /// starts to overfit (guide, section 6).
    pub free_energy_gap: Option<f64>,
    /// Mean hidden activation on the training monitor rows.
    pub mean_hidden_activation: f64,
    /// Seconds spent on parameter updates in this epoch.
    pub train_seconds: f64,
    /// Training rows processed per second of `train_seconds`.
    pub samples_per_second: f64,
    /// Seconds for the whole epoch, metrics included.
    pub wall_seconds: f64,
}

/// Progress reports passed to the training callback.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// After each mini-batch update (`batch` is 1-based).
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
    },
    /// After each epoch, with its metrics.
    Epoch(&'a EpochMetrics),
}

/// A contrastive-divergence estimate of the log-likelihood gradient.
#[derive(Debug, Clone)]
pub struct CdEstimate {
    /// `scale` times (data statistics minus negative-phase statistics), each
    /// averaged over its rows.
    pub gradient: ParameterTensors,
    /// E[h | v] on the batch, `[batch, n_hidden]`.
    pub positive_hidden: Tensor<2>,
    /// The negative phase's final states.
    pub negative: GibbsState,
    /// For Gaussian visible units, `scale` times the data-minus-model
    /// statistic of `log sigma`, `[n_visible]`.
    pub log_sigma: Option<Tensor<1>>,
}

/// The CD-k estimate of the gradient on `batch`, times `scale`: with
/// `chains = None` the negative chains start at h ~ p(h | batch) (CD-k);
/// with `Some(hidden states)` they continue from those states (PCD-k).
/// With `mean_field_reconstruction` the last visible layer is its conditional
/// mean rather than a sample (only meaningful for CD).
/// The trainer and the tests both estimate gradients through this function.
///
/// # Shapes
/// - batch: `[batch, n_visible]`; chains: `[chains, n_hidden]`
pub fn contrastive_divergence(
    rbm: &Rbm,
    batch: Tensor<2>,
    chains: Option<Tensor<2>>,
    k: usize,
    mean_field_reconstruction: bool,
    scale: f64,
    sampler: &mut Sampler,
) -> CdEstimate {
    let batch_rows = batch.dims()[0];
    let positive_input = rbm.hidden_input(batch.clone()); // [batch, n_hidden]
    let positive_hidden = rbm.hidden_units.mean(positive_input.clone());
    let start = match chains {
        Some(chains) => chains,
        None => rbm
            .hidden_units
            .sample(positive_input, positive_hidden.clone(), sampler),
    };
    let negative = rbm.gibbs_from_hidden(start, k, mean_field_reconstruction, sampler);
    let chain_rows = negative.visible.dims()[0];
    let positive_scale = scale / batch_rows as f64;
    let negative_scale = scale / chain_rows as f64;
    // Statistics of the normalised visible states (v / sigma for Gaussian
    // units); the visible bias's is one more division by sigma.
    let mut gradient = contrastive_statistics(
        rbm.normalize_visible(batch.clone()),
        positive_hidden.clone(),
        rbm.normalize_visible(negative.visible.clone()),
        negative.hidden_mean.clone(),
        positive_scale,
        negative_scale,
    );
    let log_sigma = rbm.visible_sigma().map(|sigma| {
        gradient.visible_bias = gradient.visible_bias.clone() / sigma;
        log_sigma_statistic(rbm, batch, positive_hidden.clone()) * positive_scale
            - log_sigma_statistic(rbm, negative.visible.clone(), negative.hidden_mean.clone())
                * negative_scale
    });
    CdEstimate {
        gradient,
        positive_hidden,
        negative,
        log_sigma,
    }
}

/// `sum over rows of -dE/d(log sigma_i)` for Gaussian visible units:
/// `(v~ - b~)^2 - v~ (h W^T)` with `v~ = v / sigma`, `b~ = b / sigma`.
///
/// # Shapes
/// - visible: `[rows, n_visible]`, hidden: `[rows, n_hidden]` -> `[n_visible]`
fn log_sigma_statistic(rbm: &Rbm, visible: Tensor<2>, hidden: Tensor<2>) -> Tensor<1> {
    let normalized = rbm.normalize_visible(visible);
    let bias = rbm.normalize_visible(rbm.visible_bias.val().unsqueeze());
    let top_down = hidden.matmul(rbm.weight.val().transpose());
    ((normalized.clone() - bias).square() - normalized * top_down)
        .sum_dim(0)
        .squeeze_dim(0)
}

/// Divergence rule, part 2: an epoch whose reconstruction error exceeds
/// this many times the trivial predictor's
/// ([`EpochMetrics::trivial_reconstruction_error`]), plus
/// [`DIVERGENCE_FLOOR`], has diverged. A model at initialisation
/// reconstructs about as well as the trivial predictor (its visible biases
/// give the data means) and training only improves on it; a model whose
/// updates have exploded saturates its units and reconstructs far worse.
pub const DIVERGENCE_FACTOR: f64 = 2.0;
/// The absolute part of the threshold, so that data without variance
/// (trivial error 0) do not turn float rounding into a divergence.
pub const DIVERGENCE_FLOOR: f64 = 0.01;
/// Divergence rule, part 3: a weight larger than this in magnitude. One
/// such weight saturates every logistic unit it feeds for any input in the
/// units' range; trained RBMs have weights of order 0.01 to 10.
pub const MAX_ABS_WEIGHT: f64 = 1e3;

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
        while self.epochs_done < self.config.epochs {
            all.push(self.train_epoch(data, held_out, &mut on_progress)?);
        }
        Ok(all)
    }

    /// One pass over `data` in shuffled mini-batches, then the metrics.
    ///
    /// # Divergence
    /// After the epoch, on the monitor rows, the trainer stops with
    /// [`RbmError::Diverged`] (naming the epoch, the quantity and the rule)
    /// when (1) a metric is NaN or infinite, (2) the reconstruction error
    /// exceeds [`DIVERGENCE_FACTOR`] times the trivial predictor's plus
    /// [`DIVERGENCE_FLOOR`], or (3) a weight exceeds [`MAX_ABS_WEIGHT`] in
    /// magnitude. The epoch does not count as done; a caller that saves a
    /// checkpoint only after a successful epoch keeps the last good one.
    ///
    /// # Shapes
    /// - data: `[n, n_visible]`; held_out: `[m, n_visible]`
    pub fn train_epoch(
        &mut self,
        data: &Tensor<2>,
        held_out: Option<&Tensor<2>>,
        mut on_progress: impl FnMut(Progress<'_>),
    ) -> Result<EpochMetrics, RbmError> {
        let units = self.rbm().visible_units;
        let n_visible = self.rbm().n_visible();
        check_data(units, data, n_visible, "training data")?;
        if let Some(h) = held_out {
            check_data(units, h, n_visible, "held-out data")?;
        }
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
            max_abs_weight,
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

/// The divergence rule of [`CdTrainer::train_epoch`], on one epoch's metrics.
pub fn check_divergence(metrics: &EpochMetrics) -> Result<(), RbmError> {
    let diverged = |quantity, value, rule: String| {
        Err(RbmError::Diverged {
            epoch: metrics.epoch,
            quantity,
            value,
            rule,
        })
    };
    for (quantity, value) in [
        ("reconstruction error", Some(metrics.reconstruction_error)),
        ("free energy", Some(metrics.free_energy_train)),
        ("largest weight", Some(metrics.max_abs_weight)),
        (
            "mean hidden activation",
            Some(metrics.mean_hidden_activation),
        ),
        (
            "held-out reconstruction error",
            metrics.held_out_reconstruction_error,
        ),
        ("held-out free energy", metrics.free_energy_held_out),
    ] {
        if let Some(value) = value
            && !value.is_finite()
        {
            return diverged(quantity, value, "not a finite number".into());
        }
    }
    let limit = DIVERGENCE_FACTOR * metrics.trivial_reconstruction_error + DIVERGENCE_FLOOR;
    if metrics.reconstruction_error > limit {
        return diverged(
            "reconstruction error",
            metrics.reconstruction_error,
            format!(
                "above {DIVERGENCE_FACTOR} x the trivial mean predictor's {:.5} + {DIVERGENCE_FLOOR}",
                metrics.trivial_reconstruction_error
            ),
        );
    }
    if metrics.max_abs_weight > MAX_ABS_WEIGHT {
        return diverged(
            "largest weight",
            metrics.max_abs_weight,
            format!("above {MAX_ABS_WEIGHT} in magnitude"),
        );
    }
    Ok(())
}
