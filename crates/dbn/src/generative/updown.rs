//! Contrastive wake-sleep (up-down) fine-tuning of a generative DBN (HOT
//! 2006, appendix B): its hyperparameters, one update, one epoch.

use burn::module::Param;
use burn::prelude::*;
use rbm::math::matmul;
use rbm::{Rbm, Sampler, contrastive_statistics};
use serde::{Deserialize, Serialize};

use super::model::{GenerativeDbn, split_features, top_visible};
use crate::error::{DbnConfigError, DbnError};

/// How the label group is set in the negative phase's Gibbs steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegativeLabels {
    /// The softmax probabilities drive the top units and enter the
    /// statistics, and the label biases learn `targets - probabilities`
    /// (HOT 2006, appendix B: `neglabprobs`).
    MeanField,
    /// A one-hot sample at every Gibbs step (this crate's up-down before
    /// the mean-field labels; the value of configurations that do not say).
    Sampled,
}

/// The value of configurations written before the choice existed.
fn labels_sampled_before() -> NegativeLabels {
    NegativeLabels::Sampled
}

/// Which of the top RBM's hidden values enter up-down's contrastive
/// statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopStatistics {
    /// The hidden probabilities given each phase's visible states: CD's
    /// lower-variance choice, the same expectations (this crate's default,
    /// and the value of configurations that do not say).
    #[default]
    Probabilities,
    /// Sampled binary states in both phases, as appendix B's code
    /// (`waketopstates`, `negtopstates`).
    SampledStates,
}

impl TopStatistics {
    /// Whether this is the default (configurations leave it out, so a
    /// run's identity from before the choice existed stays the same).
    pub fn is_probabilities(&self) -> bool {
        *self == TopStatistics::Probabilities
    }
}

/// How an epoch's rows are grouped into mini-batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchComposition {
    /// Shuffled rows; the last batch may be smaller.
    #[default]
    Shuffled,
    /// Every batch holds `batch_size / classes` images of each class (HOT
    /// 2006: 10 of each in 100), each class's images shuffled every epoch.
    /// An epoch has as many batches as the smallest class fills; the other
    /// classes' remaining images wait for a later epoch (on a balanced
    /// training set such as HOT's 4,400 per class, none wait).
    ClassBalanced,
}

/// Hyperparameters of up-down fine-tuning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpDownConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Learning rate of every weight and bias (per mean over a batch).
    pub learning_rate: f64,
    /// L2 penalty on the weights, times the learning rate.
    pub weight_decay: f64,
    /// Momentum of every parameter's update, `v <- momentum v + change`
    /// as in CD (HOT 2006 chose it on validation; appendix B's code has
    /// none, which is 0, the value of configurations that do not say).
    #[serde(default)]
    pub momentum: f64,
    #[serde(default = "labels_sampled_before")]
    pub negative_labels: NegativeLabels,
    #[serde(default)]
    pub batches: BatchComposition,
    #[serde(default, skip_serializing_if = "TopStatistics::is_probabilities")]
    pub top_statistics: TopStatistics,
    /// Gibbs steps in the top RBM per update: `(first epoch, k)` pairs in
    /// increasing order, e.g. `[(0, 3), (100, 6), (200, 10)]` (the lecture's
    /// 3, 6, 10).
    pub gibbs_schedule: Vec<(usize, usize)>,
    pub seed: u64,
}

impl UpDownConfig {
    /// The number of Gibbs steps in `epoch` (0-based).
    pub fn gibbs_steps_at(&self, epoch: usize) -> usize {
        self.gibbs_schedule
            .iter()
            .take_while(|(start, _)| *start <= epoch)
            .last()
            .map_or(1, |&(_, k)| k)
    }

    /// Checks every rule.
    pub fn validate(&self) -> Result<(), DbnConfigError> {
        use DbnConfigError as E;
        if self.epochs == 0 {
            return Err(E::ZeroEpochs);
        }
        if self.batch_size == 0 {
            return Err(E::ZeroBatchSize);
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(E::InvalidLearningRate(self.learning_rate));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(E::InvalidWeightDecay(self.weight_decay));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(E::UpDownMomentumOutOfRange(self.momentum));
        }
        if self.gibbs_schedule.iter().any(|&(_, k)| k == 0)
            || self.gibbs_schedule.windows(2).any(|w| w[0].0 >= w[1].0)
        {
            return Err(E::InvalidGibbsSchedule);
        }
        Ok(())
    }
}

/// The settings of one up-down update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpDownStep {
    pub gibbs_steps: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub negative_labels: NegativeLabels,
    pub top_statistics: TopStatistics,
}

/// How many of `labels` fall in each of `classes` classes; labels beyond
/// them are left out (the caller's other checks name them).
pub fn class_counts(labels: &[u8], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for &label in labels {
        if let Some(count) = counts.get_mut(usize::from(label)) {
            *count += 1;
        }
    }
    counts
}

impl UpDownConfig {
    /// Checks that training images with `class_counts` images of each
    /// class can be composed into the configured batches: for
    /// [`BatchComposition::ClassBalanced`], a batch size that is a multiple
    /// of the classes and at least `batch_size / classes` images of every
    /// class. A run checks it before it trains anything; an epoch checks
    /// it again on the labels it is given.
    ///
    /// # Errors
    /// [`DbnError::UnbalanceableBatches`] naming the smallest class.
    pub fn check_class_counts(&self, class_counts: &[usize]) -> Result<(), DbnError> {
        if self.batches != BatchComposition::ClassBalanced {
            return Ok(());
        }
        let classes = class_counts.len();
        let per_class = self.batch_size / classes.max(1);
        let (smallest, found) = class_counts
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(_, count)| count)
            .unwrap_or((0, 0));
        if classes == 0
            || !self.batch_size.is_multiple_of(classes)
            || per_class == 0
            || found < per_class
        {
            return Err(DbnError::UnbalanceableBatches {
                what: "up-down data",
                batch_size: self.batch_size,
                classes,
                per_class: per_class.max(1),
                class: smallest,
                found,
            });
        }
        Ok(())
    }

    /// The settings of the updates in `epoch` (0-based).
    pub fn step_at(&self, epoch: usize) -> UpDownStep {
        UpDownStep {
            gibbs_steps: self.gibbs_steps_at(epoch),
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            negative_labels: self.negative_labels,
            top_statistics: self.top_statistics,
        }
    }
}

/// Moves a parameter by `momentum velocity + change` and keeps that as its
/// velocity (with momentum 0, by `change` alone: the same numbers as a
/// plain update). Both tensors move out of their `Param`s, held once, so
/// on a host backend the update is one fused pass in place
/// ([`rbm::fused_update::momentum_ascent`] without decay: the same f32
/// operations as `velocity * momentum + change`, then `parameter + that`).
fn move_by<const D: usize>(
    parameter: &mut Param<Tensor<D>>,
    velocity: &mut Param<Tensor<D>>,
    change: Tensor<D>,
    momentum: f64,
) {
    let device = change.device();
    let placeholder = || Param::from_tensor(Tensor::<D>::zeros([0; D], &device));
    let (p_id, p, p_mapper) = std::mem::replace(parameter, placeholder()).consume();
    let (v_id, v, v_mapper) = std::mem::replace(velocity, placeholder()).consume();
    let (p, v) =
        rbm::fused_update::momentum_ascent(p, (momentum > 0.0).then_some(v), change, momentum, 0.0);
    *parameter = Param::from_mapped_value(p_id, p, p_mapper);
    *velocity = Param::from_mapped_value(v_id, v, v_mapper);
}

/// What one up-down epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpDownMetrics {
    /// 1-based.
    pub epoch: usize,
    pub gibbs_steps: usize,
    /// Images the epoch trained on (class-balanced batches may leave some
    /// for a later epoch; absent in older records).
    #[serde(default)]
    pub rows: usize,
    /// Mean squared error of the generative weights' prediction of the data
    /// from the sampled first hidden layer (wake phase).
    pub wake_reconstruction: f64,
    /// Mean squared error of the recognition weights' prediction of the
    /// sleep phase's top features from the layer below.
    pub sleep_prediction: f64,
    pub seconds: f64,
}

impl GenerativeDbn {
    /// Checks a batch or data set for up-down: rows, widths, labels.
    fn check_up_down_data(&self, images: &Tensor<2>, labels: &Tensor<2>) -> Result<(), DbnError> {
        let [rows, pixels] = images.dims();
        let [label_rows, label_width] = labels.dims();
        if rows == 0 {
            return Err(DbnError::EmptyData {
                what: "up-down images",
            });
        }
        let expected = self.up.first().map_or(0, |l| l.n_visible());
        if pixels != expected {
            return Err(DbnError::DataWidth {
                what: "up-down images",
                expected,
                found: pixels,
            });
        }
        if label_width != self.n_labels() {
            return Err(DbnError::DataWidth {
                what: "up-down labels (one-hot)",
                expected: self.n_labels(),
                found: label_width,
            });
        }
        if label_rows != rows {
            return Err(DbnError::LabelCount {
                what: "up-down data",
                images: rows,
                labels: label_rows,
            });
        }
        Ok(())
    }

    /// Zeros shaped as every parameter: the velocity of up-down before its
    /// first update.
    pub fn zero_velocity(&self) -> GenerativeDbn {
        let zero = |layer: &Rbm| {
            let mut layer = layer.clone();
            layer.weight = layer.weight.map(|w| w.zeros_like());
            layer.visible_bias = layer.visible_bias.map(|b| b.zeros_like());
            layer.hidden_bias = layer.hidden_bias.map(|b| b.zeros_like());
            layer
        };
        GenerativeDbn {
            up: self.up.iter().map(zero).collect(),
            down: self.down.iter().map(zero).collect(),
            top: zero(&self.top),
        }
    }

    /// Errors unless `velocity` has this model's layers and shapes (a
    /// velocity read from a checkpoint).
    pub fn check_velocity(&self, velocity: &GenerativeDbn) -> Result<(), DbnError> {
        let shapes = |m: &GenerativeDbn| -> Vec<[usize; 2]> {
            m.up.iter()
                .chain(&m.down)
                .chain([&m.top])
                .map(|l| l.weight.dims())
                .collect()
        };
        let (expected, found) = (shapes(self), shapes(velocity));
        if expected != found {
            return Err(DbnError::VelocityMismatch(format!(
                "the model's weights are {expected:?}, the velocity's {found:?}"
            )));
        }
        Ok(())
    }

    /// The negative phase in the top RBM: `gibbs_steps` of alternating
    /// Gibbs sampling from hidden states, the features sampled, the label
    /// group set as `labels` says. Returns the last visible states and the
    /// hidden probabilities they give.
    ///
    /// # Shapes
    /// - hidden: `[batch, top hidden]` -> (`[batch, features + labels]`,
    ///   `[batch, top hidden]`)
    fn negative_phase(
        &self,
        hidden: Tensor<2>,
        gibbs_steps: usize,
        labels: NegativeLabels,
        sampler: &mut Sampler,
    ) -> (Tensor<2>, Tensor<2>) {
        match labels {
            NegativeLabels::Sampled => {
                let negative = self
                    .top
                    .gibbs_from_hidden(hidden, gibbs_steps, false, sampler);
                (negative.visible, negative.hidden_mean)
            }
            NegativeLabels::MeanField => {
                let n_labels = self.n_labels();
                let mut hidden = hidden;
                let mut step = 1;
                loop {
                    let mean = self.top.visible_given_hidden(hidden); // [batch, visible]
                    let [rows, units] = mean.dims();
                    let label_probabilities =
                        mean.clone().slice([0..rows, units - n_labels..units]);
                    let features = sampler.bernoulli(split_features(mean, n_labels));
                    let visible = top_visible(features, label_probabilities);
                    let hidden_mean = self.top.hidden_given_visible(visible.clone());
                    if step == gibbs_steps {
                        return (visible, hidden_mean);
                    }
                    hidden = sampler.bernoulli(hidden_mean);
                    step += 1;
                }
            }
        }
    }

    /// One up-down update on a batch (HOT 2006, appendix B): a stochastic
    /// up-pass with the recognition weights, `gibbs_steps` of Gibbs
    /// sampling in the top RBM from there with a CD update of it, a
    /// stochastic down-pass with the generative weights; the generative
    /// weights learn to reconstruct each wake layer from the one above, the
    /// recognition weights each sleep layer from the one below. Every
    /// parameter moves by its `velocity` (`momentum v + change`), which is
    /// updated in place. Returns the wake reconstruction and sleep
    /// prediction errors (on the device).
    ///
    /// Where this differs from appendix B's code: by default the top RBM's
    /// statistics use the hidden probabilities rather than sampled states
    /// (CD's usual lower-variance choice, as the greedy layers;
    /// `step.top_statistics` chooses), and a weight decay and momentum are
    /// applied (HOT's text: chosen on validation).
    ///
    /// # Shapes
    /// - images: `[batch, pixels]`, labels: `[batch, n_labels]` one-hot
    ///
    /// # Errors
    /// An empty batch, widths that do not fit the model, a velocity of
    /// other shapes, `gibbs_steps` 0.
    pub fn up_down_step(
        &mut self,
        velocity: &mut GenerativeDbn,
        images: Tensor<2>,
        labels: Tensor<2>,
        step: &UpDownStep,
        sampler: &mut Sampler,
    ) -> Result<(Tensor<1>, Tensor<1>), DbnError> {
        self.check_up_down_data(&images, &labels)?;
        self.check_velocity(velocity)?;
        if step.gibbs_steps == 0 {
            return Err(DbnError::Rbm(rbm::ConfigError::ZeroGibbsSteps.into()));
        }
        let rows = images.dims()[0] as f64;
        let rate = step.learning_rate / rows;
        let decay = step.learning_rate * step.weight_decay;
        let momentum = step.momentum;
        let n_labels = self.n_labels();
        // wake[i] is layer i, 0 = pixels.
        let wake = self.sampled_up_pass(images, sampler);
        // Top RBM: CD-k from the wake states and the labels.
        let positive = top_visible(wake.last().expect("top").clone(), labels);
        let positive_hidden = self.top.hidden_given_visible(positive.clone());
        let start = sampler.bernoulli(positive_hidden.clone());
        let (negative_visible, negative_hidden) = self.negative_phase(
            start.clone(),
            step.gibbs_steps,
            step.negative_labels,
            sampler,
        );
        let (positive_hidden, negative_hidden) = match step.top_statistics {
            TopStatistics::Probabilities => (positive_hidden, negative_hidden),
            TopStatistics::SampledStates => (start, sampler.bernoulli(negative_hidden)),
        };
        let top_update = contrastive_statistics(
            positive,
            positive_hidden,
            negative_visible.clone(),
            negative_hidden,
            rate,
            rate,
        );
        // Sleep: stochastic top-down pass from the negative phase's features.
        // sleep[i] is layer i, 0 = pixels.
        let sleep = self.sampled_down_pass(split_features(negative_visible, n_labels), sampler);
        // Predictions with the old weights, then the updates.
        let mut wake_error = None;
        for i in 0..self.down.len() {
            let predicted = self.down[i].visible_given_hidden(wake[i + 1].clone());
            let error = wake[i].clone() - predicted;
            if i == 0 {
                wake_error = Some(error.clone().square().mean());
            }
            let (layer, moving) = (&mut self.down[i], &mut velocity.down[i]);
            let change_w = matmul(error.clone().transpose(), wake[i + 1].clone()) * rate
                - layer.weight.val() * decay;
            let change_b = error.sum_dim(0).squeeze_dim::<1>(0) * rate;
            move_by(&mut layer.weight, &mut moving.weight, change_w, momentum);
            move_by(
                &mut layer.visible_bias,
                &mut moving.visible_bias,
                change_b,
                momentum,
            );
        }
        let mut sleep_error = None;
        for i in 0..self.up.len() {
            let predicted = self.up[i].hidden_given_visible(sleep[i].clone());
            let error = sleep[i + 1].clone() - predicted;
            if i + 1 == self.up.len() {
                sleep_error = Some(error.clone().square().mean());
            }
            let (layer, moving) = (&mut self.up[i], &mut velocity.up[i]);
            let change_w = matmul(sleep[i].clone().transpose(), error.clone()) * rate
                - layer.weight.val() * decay;
            let change_b = error.sum_dim(0).squeeze_dim::<1>(0) * rate;
            move_by(&mut layer.weight, &mut moving.weight, change_w, momentum);
            move_by(
                &mut layer.hidden_bias,
                &mut moving.hidden_bias,
                change_b,
                momentum,
            );
        }
        let (top, moving) = (&mut self.top, &mut velocity.top);
        let change_w = top_update.weight - top.weight.val() * decay;
        move_by(&mut top.weight, &mut moving.weight, change_w, momentum);
        move_by(
            &mut top.visible_bias,
            &mut moving.visible_bias,
            top_update.visible_bias,
            momentum,
        );
        move_by(
            &mut top.hidden_bias,
            &mut moving.hidden_bias,
            top_update.hidden_bias,
            momentum,
        );
        Ok((
            wake_error.expect("at least one lower layer"),
            sleep_error.expect("at least one lower layer"),
        ))
    }

    /// The row indices of each mini-batch of an epoch, as
    /// `config.batches` composes them, drawn from `sampler`.
    ///
    /// # Shapes
    /// - labels: `[rows, n_labels]` one-hot
    fn epoch_batches(
        labels: &Tensor<2>,
        config: &UpDownConfig,
        sampler: &mut Sampler,
    ) -> Result<Vec<Vec<i64>>, DbnError> {
        let [rows, classes] = labels.dims();
        match config.batches {
            BatchComposition::Shuffled => {
                let mut order: Vec<i64> = (0..rows as i64).collect();
                sampler.shuffle(&mut order);
                Ok(order
                    .chunks(config.batch_size)
                    .map(<[i64]>::to_vec)
                    .collect())
            }
            BatchComposition::ClassBalanced => {
                let class_of = labels
                    .clone()
                    .argmax(1)
                    .into_data()
                    .try_into_vec_as::<i64>()
                    .expect("argmax gives integers");
                let mut by_class: Vec<Vec<i64>> = vec![Vec::new(); classes];
                for (row, &class) in class_of.iter().enumerate() {
                    by_class[class as usize].push(row as i64);
                }
                let counts: Vec<usize> = by_class.iter().map(Vec::len).collect();
                config.check_class_counts(&counts)?;
                let per_class = config.batch_size / classes;
                let found = counts.iter().copied().min().expect("checked: classes");
                for rows in &mut by_class {
                    sampler.shuffle(rows);
                }
                Ok((0..found / per_class)
                    .map(|batch| {
                        by_class
                            .iter()
                            .flat_map(|rows| &rows[batch * per_class..(batch + 1) * per_class])
                            .copied()
                            .collect()
                    })
                    .collect())
            }
        }
    }

    /// One epoch of up-down on mini-batches composed as `config.batches`
    /// says, every parameter moved with its `velocity`; the random stream is
    /// a function of `(seed, epoch)`, so a resumed run (model and velocity
    /// from its checkpoint) continues exactly.
    ///
    /// # Shapes
    /// - images: `[rows, pixels]`, labels: `[rows, n_labels]` one-hot
    ///
    /// # Errors
    /// The configuration is validated and the data checked first.
    /// Divergence: after the epoch, a wake or sleep error that is not
    /// finite, or a weight that is not finite or exceeds
    /// [`rbm::MAX_ABS_WEIGHT`] in magnitude, is [`DbnError::Diverged`]
    /// (the errors are mean squares of probabilities, so bounded by 1 in a
    /// healthy model). The model is then broken: keep the last checkpoint.
    pub fn up_down_epoch(
        &mut self,
        velocity: &mut GenerativeDbn,
        images: &Tensor<2>,
        labels: &Tensor<2>,
        config: &UpDownConfig,
        epoch: usize,
        mut on_batch: impl FnMut(usize, usize),
    ) -> Result<UpDownMetrics, DbnError> {
        config.validate()?;
        self.check_up_down_data(images, labels)?;
        self.check_velocity(velocity)?;
        let started = std::time::Instant::now();
        let mut sampler = Sampler::for_epoch(config.seed, epoch);
        let step = config.step_at(epoch);
        let device = images.device();
        let batches = Self::epoch_batches(labels, config, &mut sampler)?;
        let mut wake = Vec::new();
        let mut sleep = Vec::new();
        for (index, batch) in batches.iter().enumerate() {
            let indices =
                Tensor::<1, Int>::from_data(TensorData::new(batch.clone(), [batch.len()]), &device);
            let (w, s) = self.up_down_step(
                velocity,
                images.clone().select(0, indices.clone()),
                labels.clone().select(0, indices),
                &step,
                &mut sampler,
            )?;
            wake.push(w);
            sleep.push(s);
            on_batch(index + 1, batches.len());
        }
        let mean = |v: Vec<Tensor<1>>| Tensor::cat(v, 0).mean().into_scalar::<f32>() as f64;
        let metrics = UpDownMetrics {
            epoch: epoch + 1,
            gibbs_steps: step.gibbs_steps,
            rows: batches.iter().map(Vec::len).sum(),
            wake_reconstruction: mean(wake),
            sleep_prediction: mean(sleep),
            seconds: started.elapsed().as_secs_f64(),
        };
        let diverged = |quantity, value, rule: &str| {
            Err(DbnError::Diverged {
                phase: "up-down",
                epoch: epoch + 1,
                quantity,
                value,
                rule: rule.to_string(),
            })
        };
        for (quantity, value) in [
            ("wake reconstruction error", metrics.wake_reconstruction),
            ("sleep prediction error", metrics.sleep_prediction),
        ] {
            if !value.is_finite() {
                return diverged(quantity, value, "not a finite number");
            }
        }
        let largest = self.max_abs_weight();
        if largest.is_nan() || largest > rbm::MAX_ABS_WEIGHT {
            return diverged(
                "largest weight",
                largest,
                &format!("not finite or above {} in magnitude", rbm::MAX_ABS_WEIGHT),
            );
        }
        Ok(metrics)
    }
}
