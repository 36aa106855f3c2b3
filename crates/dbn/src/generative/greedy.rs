//! The greedy part of HOT 2006's recipe as configurations: lower layers
//! (pixels-500-500, trained without labels), a top RBM of 2000 hidden units
//! over [500 features, one softmax label group], every layer by CD at rate
//! 0.1 with weight cost 2e-4; and the up-down settings that follow it.

use burn::prelude::*;
use rbm::{CdTrainer, EpochMetrics, RbmConfig, RbmError, Sampler, TrainConfig, UnitKind};

use super::model::{GenerativeDbn, top_visible};
use crate::stack::config::StackConfig;
use crate::stack::model::RbmStack;

/// Units of each lower hidden layer and of the top RBM's hidden layer.
pub const HOT_LOWER_UNITS: usize = 500;
pub const HOT_TOP_UNITS: usize = 2000;

/// CD for every greedy layer: rate 0.1, weight cost 2e-4, CD-`k`.
fn hot_cd(epochs: usize, k: usize, seed: u64) -> TrainConfig {
    TrainConfig::new()
        .with_epochs(epochs)
        .with_learning_rate(0.1)
        .with_weight_decay(2e-4)
        .with_k(k)
        .with_seed(seed)
}

/// The lower layers, `pixels`-500-500 by CD-1, `epochs` each.
pub fn hot_lower(pixels: usize, epochs: usize, seed: u64) -> StackConfig {
    StackConfig::uniform(
        &[pixels, HOT_LOWER_UNITS, HOT_LOWER_UNITS],
        &hot_cd(epochs, 1, seed),
    )
}

/// The top RBM over [500 features, `classes` softmax labels] with 2000
/// hidden units, by CD-`k`.
pub fn hot_top(classes: usize, epochs: usize, k: usize, seed: u64) -> StackConfig {
    top_stack(
        HOT_LOWER_UNITS,
        classes,
        HOT_TOP_UNITS,
        &hot_cd(epochs, k, seed),
    )
}

/// A top RBM over [`features` units, one softmax group of `classes`]
/// with `hidden` units, trained by `training`: a one-layer stack.
pub fn top_stack(
    features: usize,
    classes: usize,
    hidden: usize,
    training: &TrainConfig,
) -> StackConfig {
    let visible = features + classes;
    let mut top = StackConfig::uniform(&[visible, hidden], training);
    top.layers[0].rbm = RbmConfig::new(visible, hidden)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: classes });
    top
}

/// The rates of up-down that HOT 2006 chose on validation and did not
/// publish.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpDownRates {
    pub learning_rate: f64,
    pub momentum: f64,
    /// L2 penalty on the weights, times the learning rate.
    pub weight_decay: f64,
}

/// HOT's up-down: batches of 10 images of each of the `classes`, the
/// label group's softmax probabilities in the negative phase (appendix
/// B), and 3, 6, then 10 Gibbs steps in the top RBM over the thirds of the
/// `epochs`.
pub fn hot_updown(
    epochs: usize,
    classes: usize,
    rates: UpDownRates,
    seed: u64,
) -> super::updown::UpDownConfig {
    let mut schedule: Vec<(usize, usize)> = Vec::new();
    for step in [(0, 3), (epochs / 3, 6), (2 * epochs / 3, 10)] {
        if schedule.last().is_none_or(|last| last.0 < step.0) {
            schedule.push(step);
        }
    }
    super::updown::UpDownConfig {
        epochs,
        batch_size: 10 * classes,
        learning_rate: rates.learning_rate,
        weight_decay: rates.weight_decay,
        momentum: rates.momentum,
        negative_labels: super::updown::NegativeLabels::MeanField,
        batches: super::updown::BatchComposition::ClassBalanced,
        top_statistics: super::updown::TopStatistics::Probabilities,
        gibbs_schedule: schedule,
        seed,
    }
}

/// The top RBM's training rows: the lower stack's features of `images`
/// beside their one-hot `labels`.
///
/// # Shapes
/// - images: `[rows, pixels]`, labels: `[rows, classes]` ->
///   `[rows, features + classes]`
pub fn top_rbm_data(lower: &RbmStack, images: Tensor<2>, labels: Tensor<2>) -> Tensor<2> {
    top_visible(lower.features(images), labels)
}

/// Persistent CD-1 (Tieleman 2008) for the top RBM of a trained generative
/// DBN, `epochs` of it at `learning_rate` (falling linearly by epoch to
/// `final_learning_rate` when given), momentum 0.5, weight cost 1e-5:
/// this crate's extra phase for sampling, not HOT's. CD from the data
/// (greedy and up-down alike) shapes the top RBM near its data; the long
/// Gibbs chains that generate wander far from it, into states that CD
/// never corrected. Chains kept across updates find and lower those. A
/// constant rate leaves a snapshot of a moving model, whose samples vary
/// by several points from seed to seed; a rate falling to 0 settles it.
pub fn top_pcd(
    epochs: usize,
    learning_rate: f64,
    final_learning_rate: Option<f64>,
    seed: u64,
) -> TrainConfig {
    TrainConfig::new()
        .with_persistent(true)
        .with_k(1)
        .with_epochs(epochs)
        .with_learning_rate(learning_rate)
        .with_final_learning_rate(final_learning_rate)
        .with_initial_momentum(0.5)
        .with_final_momentum(0.5)
        .with_weight_decay(1e-5)
        // The trained visible biases are kept, not started again from the data.
        .with_init_visible_bias_from_data(false)
        .with_seed(seed)
}

/// The next epoch of `trainer` (a [`top_pcd`] phase on `model`'s top RBM)
/// on a fresh stochastic up-pass of `images`, as up-down's wake phase
/// feeds the top RBM. The up-pass draws from the epoch's own stream, a
/// function of the trainer's seed and the epoch only, so that a phase
/// resumed from a committed trainer sees the data the uninterrupted one
/// saw.
///
/// # Shapes
/// - images: `[rows, pixels]`, labels: `[rows, classes]`
pub fn top_pcd_epoch(
    model: &GenerativeDbn,
    trainer: &mut CdTrainer,
    images: &Tensor<2>,
    labels: &Tensor<2>,
) -> Result<EpochMetrics, RbmError> {
    let stream = trainer.config().seed.wrapping_add(2);
    let mut sampler = Sampler::for_epoch(stream, trainer.epochs_done());
    let data = model.sampled_top_data(images.clone(), labels.clone(), &mut sampler); // [rows, features + classes]
    trainer.train_epoch(&data, None, |_| {})
}
