//! Hyperparameters of discriminative fine-tuning, and the Burn optimiser
//! and learning-rate schedule they describe.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::{ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::error::DbnConfigError;
use crate::finetune::optimizer::MomentumSgd;

/// Backpropagation fine-tuning: mini-batch SGD with classical momentum,
/// L2 weight decay and a learning rate that decays exponentially per
/// epoch, with early stopping on the validation error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneConfig {
    /// Upper bound on the epochs (early stopping usually ends sooner).
    pub max_epochs: usize,
    pub batch_size: usize,
    /// Learning rate of the first epoch (on the mean cross-entropy of a batch).
    pub learning_rate: f64,
    /// Factor by which the learning rate shrinks over each epoch (applied
    /// smoothly per update): 1 keeps it constant.
    pub lr_decay: f64,
    /// Classical momentum (no dampening).
    pub momentum: f64,
    /// L2 penalty, `weight_decay * parameter` added to the gradient of
    /// the parameters that `weight_decay_scope` names.
    pub weight_decay: f64,
    /// Which parameters the L2 penalty reaches: all (the default, Burn's
    /// SGD) or the weight matrices only (Hinton's code, Srivastava et al.'s
    /// `deepnet`).
    #[serde(default, skip_serializing_if = "DecayScope::is_all")]
    pub weight_decay_scope: DecayScope,
    /// Stop when the validation accuracy has not improved for this many
    /// epochs; `None` trains all `max_epochs`.
    pub patience: Option<usize>,
    /// Seed of the data loader's shuffling.
    pub seed: u64,
    /// Epochs that train only the softmax head before all layers are
    /// fine-tuned (0: none), at `learning_rate` without decay.
    #[serde(default)]
    pub head_epochs: usize,
    /// Dropout during fine-tuning (Hinton et al. 2012); none by default.
    #[serde(default)]
    pub dropout: DropoutRates,
    /// The optimiser: SGD with momentum through Burn's Learner (the fields
    /// above), or Hinton & Salakhutdinov's conjugate gradients.
    #[serde(default)]
    pub method: FinetuneMethod,
}

/// How fine-tuning moves the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinetuneMethod {
    /// Mini-batch SGD with classical momentum, weight decay and a decaying
    /// rate, through Burn's `Learner`.
    #[default]
    Sgd,
    /// Hinton & Salakhutdinov's `backpropclassify.m`: on each batch of
    /// `batch_size` images (fixed batches), `line_searches` line searches
    /// of conjugate gradients ([`crate::minimize`]) on the summed
    /// cross-entropy; the head alone for `head_epochs`; no learning rate,
    /// momentum, weight decay or dropout.
    ConjugateGradient { line_searches: usize },
}

/// The parameters an L2 weight cost reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecayScope {
    /// Every parameter, biases too, as Burn's `SgdConfig` weight decay.
    #[default]
    All,
    /// The weight matrices only (parameters of rank 2 or more; a
    /// classifier's biases are rank 1): a bias gets no cost, as in Hinton's
    /// `rbm.m` and in `deepnet` (Srivastava et al. 2014), whose biases
    /// carry `apply_l2_decay: false`.
    Weights,
}

impl DecayScope {
    /// True for [`DecayScope::All`] (the default, left out of saved configs
    /// so that configs from before the option keep their identity).
    pub fn is_all(&self) -> bool {
        *self == DecayScope::All
    }

    /// Whether a parameter of rank `rank` is decayed.
    pub fn reaches(&self, rank: usize) -> bool {
        match self {
            DecayScope::All => true,
            DecayScope::Weights => rank >= 2,
        }
    }
}

/// Probabilities of dropping units while fine-tuning: each input pixel and
/// each hidden unit is zeroed independently in every training forward pass,
/// and the kept ones are scaled by `1 / (1 - p)`, so that evaluation uses
/// the whole net unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DropoutRates {
    /// Probability of dropping an input pixel (Srivastava et al. 2014: 0.2).
    pub input: f64,
    /// Probability of dropping a hidden unit (Srivastava et al. 2014: 0.5).
    pub hidden: f64,
}

impl DropoutRates {
    /// No dropout.
    pub const NONE: DropoutRates = DropoutRates {
        input: 0.0,
        hidden: 0.0,
    };

    /// True when any probability is positive.
    pub fn is_active(&self) -> bool {
        self.input > 0.0 || self.hidden > 0.0
    }
}

/// The rules on SGD's settings that both fine-tuning engines share
/// ([`FinetuneConfig`] through the Learner, [`crate::NetFinetuneConfig`]
/// on an `SgdNet`): a rate decay in (0, 1], a momentum in [0, 1), a
/// non-negative finite weight decay, dropout probabilities in [0, 1).
pub(crate) fn check_sgd_settings(
    lr_decay: f64,
    momentum: f64,
    weight_decay: f64,
    dropout: DropoutRates,
) -> Result<(), DbnConfigError> {
    if !(lr_decay > 0.0 && lr_decay <= 1.0) {
        return Err(DbnConfigError::InvalidLrDecay(lr_decay));
    }
    if !(0.0..1.0).contains(&momentum) {
        return Err(DbnConfigError::MomentumOutOfRange(momentum));
    }
    if !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(DbnConfigError::InvalidWeightDecay(weight_decay));
    }
    for (layer, probability) in [("input", dropout.input), ("hidden", dropout.hidden)] {
        if !(0.0..1.0).contains(&probability) {
            return Err(DbnConfigError::InvalidDropout { layer, probability });
        }
    }
    Ok(())
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            max_epochs: 50,
            batch_size: 100,
            learning_rate: 0.1,
            lr_decay: 0.95,
            momentum: 0.9,
            weight_decay: 1e-5,
            weight_decay_scope: DecayScope::All,
            patience: Some(10),
            seed: 42,
            head_epochs: 0,
            dropout: DropoutRates::NONE,
            method: FinetuneMethod::Sgd,
        }
    }
}

impl FinetuneConfig {
    /// Checks every rule on the hyperparameters.
    pub fn validate(&self) -> Result<(), DbnConfigError> {
        if self.max_epochs == 0 {
            return Err(DbnConfigError::ZeroEpochs);
        }
        if self.batch_size == 0 {
            return Err(DbnConfigError::ZeroBatchSize);
        }
        // Burn's exponential schedule accepts rates in (0, 1].
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(DbnConfigError::InvalidLearningRate(self.learning_rate));
        }
        check_sgd_settings(
            self.lr_decay,
            self.momentum,
            self.weight_decay,
            self.dropout,
        )?;
        if self.patience == Some(0) {
            return Err(DbnConfigError::ZeroPatience);
        }
        if let FinetuneMethod::ConjugateGradient { line_searches } = self.method {
            if line_searches == 0 {
                return Err(DbnConfigError::ZeroLineSearches);
            }
            // Nothing of SGD's regularisers is silently dropped.
            if self.dropout.is_active() || self.weight_decay > 0.0 {
                return Err(DbnConfigError::ConjugateGradientRegulariser {
                    weight_decay: self.weight_decay,
                    dropout: self.dropout,
                });
            }
        }
        Ok(())
    }

    /// SGD with classical momentum (no dampening) and L2 weight decay:
    /// [`MomentumSgd`], or Burn's `Sgd` without momentum when the decay
    /// reaches every parameter.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let weight_decay = (self.weight_decay > 0.0).then_some(self.weight_decay as f32);
        if self.momentum > 0.0 || !self.weight_decay_scope.is_all() {
            return ModuleOptimizer::from(MomentumSgd {
                momentum: self.momentum as f32,
                weight_decay,
                decay_scope: self.weight_decay_scope,
            });
        }
        SgdConfig::new()
            .with_weight_decay(weight_decay.map(WeightDecayConfig::new))
            .init()
    }

    /// The learning rate per update: `learning_rate * lr_decay^(t / batches_per_epoch)`
    /// after `t` updates.
    ///
    /// # Panics
    /// If the configuration is invalid (see [`FinetuneConfig::validate`]).
    pub fn lr_scheduler(&self, batches_per_epoch: usize) -> ModuleLrScheduler {
        let gamma = self.lr_decay.powf(1.0 / batches_per_epoch.max(1) as f64);
        ExponentialLrSchedulerConfig::new(self.learning_rate, gamma)
            .init()
            .unwrap_or_else(|e| panic!("invalid FinetuneConfig: {e}"))
    }

    /// The learning rate during `epoch` (0-based) at its start.
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        self.learning_rate * self.lr_decay.powi(epoch as i32)
    }
}
