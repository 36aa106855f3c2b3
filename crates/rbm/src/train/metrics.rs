//! What an epoch of CD measured, and the divergence rule applied to it.

use serde::{Deserialize, Serialize};

use crate::error::RbmError;

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
    /// Mini-batch updates from the trainer's start to the end of this
    /// epoch, counting every epoch as this one's (epochs x batches): the
    /// reconstruction rule waits [`DIVERGENCE_WARMUP_UPDATES`] of them.
    #[serde(default)]
    pub updates: usize,
    /// The largest absolute weight.
    #[serde(default)]
    pub max_abs_weight: f64,
    /// The largest absolute visible or hidden bias.
    #[serde(default)]
    pub max_abs_bias: f64,
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
/// The reconstruction rule applies once this many updates are done. A
/// fresh RBM with many hidden units passes through a transient in its
/// first updates: each update moves every visible unit's input by the
/// sum over all hidden units. Measured on a 510-2000 top RBM at rate 0.03
/// (CD-1, sampled reconstruction) over 1,000 images, 10 updates an epoch:
/// errors 0.112, 0.085, 0.048 after 10, 20, 30 updates (trivial predictor
/// 0.048), 0.004 after 300; on features without variance (trivial
/// 0.0018) 0.115, 0.016, 0.0085. The runs on 44,000 images pass the rule
/// after their first epoch of 440 updates. The other rules (non-finite
/// values, weights and biases far too large) apply from the first epoch.
pub const DIVERGENCE_WARMUP_UPDATES: usize = 200;
/// Divergence rule, part 3: a weight or a bias larger than this in
/// magnitude. One such weight saturates every logistic unit it feeds for
/// any input in the units' range, and such a bias fixes its unit's state
/// unless weights of the same size oppose it; trained RBMs have weights of
/// order 0.01 to 10 and biases of order 0.1 to 20 (a pixel that is never
/// on drifts to about -log(updates x rate)). Biases need their own check:
/// they carry no weight decay, and an exploded rate can drive them to
/// thousands while the decayed weights shrink, killing every hidden unit
/// with a reconstruction error still near the trivial predictor's.
pub const MAX_ABS_WEIGHT: f64 = 1e3;

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
        ("largest bias", Some(metrics.max_abs_bias)),
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
    if metrics.updates >= DIVERGENCE_WARMUP_UPDATES && metrics.reconstruction_error > limit {
        return diverged(
            "reconstruction error",
            metrics.reconstruction_error,
            format!(
                "above {DIVERGENCE_FACTOR} x the trivial mean predictor's {:.5} + {DIVERGENCE_FLOOR}",
                metrics.trivial_reconstruction_error
            ),
        );
    }
    for (quantity, value) in [
        ("largest weight", metrics.max_abs_weight),
        ("largest bias", metrics.max_abs_bias),
    ] {
        if value > MAX_ABS_WEIGHT {
            return diverged(
                quantity,
                value,
                format!("above {MAX_ABS_WEIGHT} in magnitude"),
            );
        }
    }
    Ok(())
}
