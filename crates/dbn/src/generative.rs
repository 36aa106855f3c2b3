//! The generative DBN (Hinton, Osindero & Teh 2006): lower layers with
//! recognition (up) and generative (down) weights, and a top RBM over
//! [penultimate features, one softmax label group]. It generates by long
//! alternating Gibbs sampling in the top RBM and one top-down pass,
//! classifies by the top RBM's free energy, and is fine-tuned by
//! contrastive wake-sleep (up-down).

use burn::prelude::*;
use rbm::{Rbm, Sampler, UnitKind, contrastive_statistics};
use serde::{Deserialize, Serialize};

use crate::{DbnError, RbmStack};

/// A generative DBN. Up and down copies of each lower layer start equal
/// (tied, as greedy training leaves them) and are untied by up-down.
///
/// Tensor names when saved ([`crate::save_generative`]): `up.{i}.weight`,
/// `up.{i}.hidden_bias` (recognition), `down.{i}.weight`,
/// `down.{i}.visible_bias` (generation; a layer's down-pass is
/// `sigmoid(h W^T + b)`), `top.weight`, `top.visible_bias`,
/// `top.hidden_bias` (the top RBM; its visible units are the penultimate
/// features followed by the label group). The unused biases of the copies
/// are saved as well.
#[derive(Module, Debug)]
pub struct GenerativeDbn {
    pub up: Vec<Rbm>,
    pub down: Vec<Rbm>,
    pub top: Rbm,
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
    pub fn validate(&self) -> Result<(), crate::DbnConfigError> {
        use crate::DbnConfigError as E;
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
        if self.gibbs_schedule.iter().any(|&(_, k)| k == 0)
            || self.gibbs_schedule.windows(2).any(|w| w[0].0 >= w[1].0)
        {
            return Err(E::InvalidGibbsSchedule);
        }
        Ok(())
    }
}

/// Where the top RBM's Gibbs chains start when generating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleStart {
    /// Penultimate features on with probability 1/2, independently.
    #[default]
    RandomFeatures,
    /// A stochastic up-pass from a random binary image, each pixel on with
    /// probability 1/2 (HOT 2006, figure 9).
    NoiseImage,
}

/// What one up-down epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpDownMetrics {
    /// 1-based.
    pub epoch: usize,
    pub gibbs_steps: usize,
    /// Mean squared error of the generative weights' prediction of the data
    /// from the sampled first hidden layer (wake phase).
    pub wake_reconstruction: f64,
    /// Mean squared error of the recognition weights' prediction of the
    /// sleep phase's top features from the layer below.
    pub sleep_prediction: f64,
    pub seconds: f64,
}

impl GenerativeDbn {
    /// The DBN of a greedily trained stack (its layers become both the up and
    /// the down copies) and a top RBM whose visible units are the stack's
    /// top units followed by a softmax label group.
    pub fn from_greedy(stack: &RbmStack, top: Rbm) -> Result<Self, DbnError> {
        let Some(&features) = stack.sizes().last() else {
            return Err(crate::DbnConfigError::NoLayers.into());
        };
        let UnitKind::BinaryWithSoftmax { group } = top.visible_units else {
            return Err(DbnError::BadTop(format!(
                "the top RBM's visible units must be binary+softmax, not {}",
                top.visible_units.name()
            )));
        };
        if top.n_visible() != features + group {
            return Err(DbnError::BadTop(format!(
                "the top RBM has {} visible units; the stack's {features} features and {group} labels need {}",
                top.n_visible(),
                features + group
            )));
        }
        Ok(Self {
            up: stack.layers.clone(),
            down: stack.layers.clone(),
            top,
        })
    }

    /// Number of label units.
    pub fn n_labels(&self) -> usize {
        match self.top.visible_units {
            UnitKind::BinaryWithSoftmax { group } => group,
            _ => 0,
        }
    }

    /// Mean-field recognition pass to the penultimate features.
    ///
    /// # Shapes
    /// - images: `[batch, pixels]` -> `[batch, features]`
    pub fn features(&self, images: Tensor<2>) -> Tensor<2> {
        self.up
            .iter()
            .fold(images, |below, layer| layer.hidden_given_visible(below))
    }

    /// The top RBM's free energy of `[features, label]` for every label.
    ///
    /// # Shapes
    /// - features: `[batch, features]` -> `[batch, n_labels]`
    pub fn label_free_energies(&self, features: Tensor<2>) -> Tensor<2> {
        let [batch, _] = features.dims();
        let device = features.device();
        let labels = self.n_labels();
        let columns = (0..labels)
            .map(|label| {
                let one_hot = one_hot_rows(&vec![label; batch], labels, &device)
                    .expect("every label is below the number of labels");
                let joint = Tensor::cat(vec![features.clone(), one_hot], 1);
                self.top.free_energy(joint).unsqueeze_dim::<2>(1)
            })
            .collect();
        Tensor::cat(columns, 1)
    }

    /// The label whose free energy is lowest, after a deterministic up-pass.
    ///
    /// # Shapes
    /// - images: `[batch, pixels]` -> `[batch]`
    pub fn classify(&self, images: Tensor<2>) -> Tensor<1, Int> {
        self.label_free_energies(self.features(images))
            .argmin(1)
            .squeeze_dim(1)
    }

    /// Fraction of rows classified wrongly, in chunks of `batch_size`.
    ///
    /// # Panics
    /// If `batch_size` is 0 or the row counts differ.
    pub fn error_rate(
        &self,
        images: &Tensor<2>,
        labels: &Tensor<1, Int>,
        batch_size: usize,
    ) -> f64 {
        crate::classifier::chunked_error_rate(images, labels, batch_size, |chunk| {
            self.classify(chunk)
        })
    }

    /// Top-down mean-field pass from penultimate states to pixel probabilities.
    ///
    /// # Shapes
    /// - features: `[batch, features]` -> `[batch, pixels]`
    pub fn generate_from_features(&self, features: Tensor<2>) -> Tensor<2> {
        self.down
            .iter()
            .rev()
            .fold(features, |above, layer| layer.visible_given_hidden(above))
    }

    /// Generates `labels.len()` images: alternating Gibbs sampling in the
    /// top RBM for `steps` steps from `start`, with each chain's
    /// label clamped (`Some(label)`) or free (`None`), then one top-down
    /// pass. `on_frame(step, pixels)` sees the pixel probabilities of the
    /// current states every `frame_every` steps (0: never).
    ///
    /// # Shapes
    /// - returns `[labels.len(), pixels]`
    ///
    /// # Errors
    /// No chains, `steps` 0, or a clamped label not below the number of labels.
    pub fn sample(
        &self,
        labels: &[Option<usize>],
        start: SampleStart,
        steps: usize,
        sampler: &mut Sampler,
        frame_every: usize,
        mut on_frame: impl FnMut(usize, Tensor<2>),
    ) -> Result<Tensor<2>, DbnError> {
        let device = self.top.weight.device();
        let chains = labels.len();
        let n_labels = self.n_labels();
        if chains == 0 {
            return Err(DbnError::EmptyData {
                what: "sampling chains",
            });
        }
        if steps == 0 {
            return Err(DbnError::Rbm(rbm::ConfigError::ZeroGibbsSteps.into()));
        }
        if let Some((row, label)) = labels
            .iter()
            .enumerate()
            .find_map(|(row, l)| l.filter(|&l| l >= n_labels).map(|l| (row, l)))
        {
            return Err(DbnError::ClassOutOfRange {
                what: "clamped labels",
                row,
                label,
                classes: n_labels,
            });
        }
        let n_features = self.top.n_visible() - n_labels;
        let start_labels: Vec<usize> = labels
            .iter()
            .map(|l| {
                l.unwrap_or_else(|| {
                    (sampler.uniform_vec(1)[0] * n_labels as f32) as usize % n_labels
                })
            })
            .collect();
        let clamp = labels.iter().any(Option::is_some).then(|| {
            let mask: Vec<f32> = labels
                .iter()
                .flat_map(|l| vec![if l.is_some() { 1.0 } else { 0.0 }; n_labels])
                .collect();
            Tensor::<2>::from_data(TensorData::new(mask, [chains, n_labels]), &device)
        });
        let clamped_labels = one_hot_rows(&start_labels, n_labels, &device)?;
        // Starting from all features off reached the clamped digit sooner on
        // a well-trained model (91% of samples classified as their label
        // after 1,000 steps, against 86% from random features), but on a
        // weakly trained one (the `quick` preset) every chain stayed stuck
        // near that state (11%, chance), so it is not offered.
        let features = match start {
            SampleStart::RandomFeatures => {
                sampler.bernoulli(Tensor::full([chains, n_features], 0.5, &device))
            }
            SampleStart::NoiseImage => {
                let pixels = self.up[0].n_visible();
                let noise = sampler.bernoulli(Tensor::full([chains, pixels], 0.5, &device));
                self.up
                    .iter()
                    .fold(noise, |below, layer| layer.sample_hidden(below, sampler))
            }
        };
        let mut visible = Tensor::cat(vec![features, clamped_labels.clone()], 1);
        let mut visible_mean = visible.clone();
        for step in 1..=steps {
            let hidden = self.top.sample_hidden(visible, sampler);
            let input = self.top.visible_input(hidden);
            visible_mean = self.top.visible_units.mean(input.clone());
            visible = self
                .top
                .visible_units
                .sample(input, visible_mean.clone(), sampler);
            if let Some(mask) = &clamp {
                visible = clamp_labels(visible, &clamped_labels, mask, n_labels);
            }
            if frame_every > 0 && (step % frame_every == 0 || step == steps) {
                on_frame(
                    step,
                    self.generate_from_features(split_features(visible_mean.clone(), n_labels)),
                );
            }
        }
        Ok(self.generate_from_features(split_features(visible_mean, n_labels)))
    }

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

    /// The largest absolute weight of every layer (up, down and top), on
    /// the host; NaN if any weight is NaN.
    pub fn max_abs_weight(&self) -> f64 {
        self.up
            .iter()
            .chain(&self.down)
            .chain([&self.top])
            .map(|l| l.weight.val().abs().max().into_scalar::<f32>() as f64)
            .fold(0.0, |a, b| {
                if b.is_nan() || a.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            })
    }

    /// One up-down update on a batch (HOT 2006, appendix B): a stochastic
    /// up-pass with the recognition weights, `gibbs_steps` of Gibbs
    /// sampling in the top RBM from there with a CD update of it, a
    /// stochastic down-pass with the generative weights; the generative
    /// weights learn to reconstruct each wake layer from the one above, the
    /// recognition weights each sleep layer from the one below. Returns the
    /// wake reconstruction and sleep prediction errors (on the device).
    ///
    /// # Shapes
    /// - images: `[batch, pixels]`, labels: `[batch, n_labels]` one-hot
    ///
    /// # Errors
    /// An empty batch, widths that do not fit the model, `gibbs_steps` 0.
    pub fn up_down_step(
        &mut self,
        images: Tensor<2>,
        labels: Tensor<2>,
        gibbs_steps: usize,
        learning_rate: f64,
        weight_decay: f64,
        sampler: &mut Sampler,
    ) -> Result<(Tensor<1>, Tensor<1>), DbnError> {
        self.check_up_down_data(&images, &labels)?;
        if gibbs_steps == 0 {
            return Err(DbnError::Rbm(rbm::ConfigError::ZeroGibbsSteps.into()));
        }
        let rows = images.dims()[0] as f64;
        let rate = learning_rate / rows;
        let n_labels = self.n_labels();
        // Wake: stochastic bottom-up pass.
        let mut wake = vec![images];
        for layer in &self.up {
            let below = wake.last().expect("data").clone();
            wake.push(layer.sample_hidden(below, sampler));
        }
        // Top RBM: CD-k from the wake states and the labels.
        let positive = Tensor::cat(vec![wake.last().expect("top").clone(), labels], 1);
        let positive_hidden = self.top.hidden_given_visible(positive.clone());
        let start = sampler.bernoulli(positive_hidden.clone());
        let negative = self
            .top
            .gibbs_from_hidden(start, gibbs_steps, false, sampler);
        let top_update = contrastive_statistics(
            positive,
            positive_hidden,
            negative.visible.clone(),
            negative.hidden_mean,
            rate,
            rate,
        );
        // Sleep: stochastic top-down pass from the negative phase's features.
        let mut sleep = vec![split_features(negative.visible, n_labels)];
        for layer in self.down.iter().rev() {
            let above = sleep.last().expect("top").clone();
            let probabilities = layer.visible_given_hidden(above);
            sleep.push(if sleep.len() == self.down.len() {
                probabilities // the visible layer: probabilities, as in HOT's code
            } else {
                sampler.bernoulli(probabilities)
            });
        }
        sleep.reverse(); // sleep[i] is layer i, 0 = pixels
        // Predictions with the old weights, then the updates.
        let mut wake_error = None;
        for i in 0..self.down.len() {
            let predicted = self.down[i].visible_given_hidden(wake[i + 1].clone());
            let error = wake[i].clone() - predicted;
            if i == 0 {
                wake_error = Some(error.clone().square().mean());
            }
            let layer = &mut self.down[i];
            let delta_w = error.clone().transpose().matmul(wake[i + 1].clone()) * rate
                - layer.weight.val() * (learning_rate * weight_decay);
            let delta_b = error.sum_dim(0).squeeze_dim::<1>(0) * rate;
            layer.weight = layer.weight.clone().map(|w| w + delta_w);
            layer.visible_bias = layer.visible_bias.clone().map(|b| b + delta_b);
        }
        let mut sleep_error = None;
        for i in 0..self.up.len() {
            let predicted = self.up[i].hidden_given_visible(sleep[i].clone());
            let error = sleep[i + 1].clone() - predicted;
            if i + 1 == self.up.len() {
                sleep_error = Some(error.clone().square().mean());
            }
            let layer = &mut self.up[i];
            let delta_w = sleep[i].clone().transpose().matmul(error.clone()) * rate
                - layer.weight.val() * (learning_rate * weight_decay);
            let delta_b = error.sum_dim(0).squeeze_dim::<1>(0) * rate;
            layer.weight = layer.weight.clone().map(|w| w + delta_w);
            layer.hidden_bias = layer.hidden_bias.clone().map(|b| b + delta_b);
        }
        let top = &mut self.top;
        let decay = top.weight.val() * (learning_rate * weight_decay);
        top.weight = top.weight.clone().map(|w| w + top_update.weight - decay);
        top.visible_bias = top
            .visible_bias
            .clone()
            .map(|b| b + top_update.visible_bias);
        top.hidden_bias = top.hidden_bias.clone().map(|b| b + top_update.hidden_bias);
        Ok((
            wake_error.expect("at least one lower layer"),
            sleep_error.expect("at least one lower layer"),
        ))
    }

    /// One epoch of up-down on shuffled mini-batches; the random stream is
    /// a function of `(seed, epoch)`, so a resumed run continues exactly.
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
        images: &Tensor<2>,
        labels: &Tensor<2>,
        config: &UpDownConfig,
        epoch: usize,
        mut on_batch: impl FnMut(usize, usize),
    ) -> Result<UpDownMetrics, DbnError> {
        config.validate()?;
        self.check_up_down_data(images, labels)?;
        let started = std::time::Instant::now();
        let mut sampler = Sampler::for_epoch(config.seed, epoch);
        let rows = images.dims()[0];
        let mut order: Vec<i64> = (0..rows as i64).collect();
        sampler.shuffle(&mut order);
        let gibbs_steps = config.gibbs_steps_at(epoch);
        let device = images.device();
        let batches = rows.div_ceil(config.batch_size);
        let mut wake = Vec::new();
        let mut sleep = Vec::new();
        for (index, chunk) in order.chunks(config.batch_size).enumerate() {
            let indices = Tensor::<1, Int>::from_data(
                TensorData::new(chunk.to_vec(), [chunk.len()]),
                &device,
            );
            let (w, s) = self.up_down_step(
                images.clone().select(0, indices.clone()),
                labels.clone().select(0, indices),
                gibbs_steps,
                config.learning_rate,
                config.weight_decay,
                &mut sampler,
            )?;
            wake.push(w);
            sleep.push(s);
            on_batch(index + 1, batches);
        }
        let mean = |v: Vec<Tensor<1>>| Tensor::cat(v, 0).mean().into_scalar::<f32>() as f64;
        let metrics = UpDownMetrics {
            epoch: epoch + 1,
            gibbs_steps,
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

/// One-hot rows for class indices.
///
/// # Shapes
/// - returns `[labels.len(), classes]`
///
/// # Errors
/// [`DbnError::ClassOutOfRange`] for a label not below `classes`.
pub fn one_hot_rows(
    labels: &[usize],
    classes: usize,
    device: &Device,
) -> Result<Tensor<2>, DbnError> {
    if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
        return Err(DbnError::ClassOutOfRange {
            what: "one-hot labels",
            row,
            label,
            classes,
        });
    }
    let mut values = vec![0.0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        values[row * classes + label] = 1.0;
    }
    Ok(Tensor::from_data(
        TensorData::new(values, [labels.len(), classes]),
        device,
    ))
}

/// The feature columns of top-RBM visible states (all but the labels).
fn split_features(visible: Tensor<2>, n_labels: usize) -> Tensor<2> {
    let [rows, units] = visible.dims();
    visible.slice([0..rows, 0..units - n_labels])
}

/// Puts back the clamped labels where `mask` is 1.
fn clamp_labels(
    visible: Tensor<2>,
    labels: &Tensor<2>,
    mask: &Tensor<2>,
    n_labels: usize,
) -> Tensor<2> {
    let [rows, units] = visible.dims();
    let features = visible.clone().slice([0..rows, 0..units - n_labels]);
    let current = visible.slice([0..rows, units - n_labels..units]);
    let label_part = current * (mask.clone().neg().add_scalar(1.0)) + labels.clone() * mask.clone();
    Tensor::cat(vec![features, label_part], 1)
}
