//! Contrastive wake-sleep (up-down) fine-tuning of a generative DBN (HOT
//! 2006, appendix B): its hyperparameters, one update, one epoch.

use burn::prelude::*;
use rbm::{Sampler, contrastive_statistics};
use serde::{Deserialize, Serialize};

use super::model::{GenerativeDbn, split_features};
use crate::error::{DbnConfigError, DbnError};

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
        if self.gibbs_schedule.iter().any(|&(_, k)| k == 0)
            || self.gibbs_schedule.windows(2).any(|w| w[0].0 >= w[1].0)
        {
            return Err(E::InvalidGibbsSchedule);
        }
        Ok(())
    }
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
