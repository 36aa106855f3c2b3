//! The hyperparameters of contrastive-divergence training, validated once
//! up front (Hinton 2010, "A practical guide to training restricted
//! Boltzmann machines").

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

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
            // Positive: every update refuses a rate of 0, so a schedule
            // ending at 0 would fail in its last epoch.
            && !(last.is_finite() && last > 0.0 && last <= self.learning_rate)
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
