//! The stack as a feed-forward classifier: logistic hidden layers
//! initialised from the RBMs, and a new linear layer with a softmax head.

use burn::module::Param;
use burn::nn::Linear;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use rbm::math::matmul;
use rbm::{Sampler, UnitKind};
use serde::{Deserialize, Serialize};

use crate::error::DbnConfigError;
use crate::finetune::batch::ClassificationBatch;
use crate::finetune::config::DropoutRates;
use crate::stack::model::RbmStack;

/// Architecture of a [`DbnClassifier`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Input size, then each hidden layer's size: `[784, 500, 500, 2000]`.
    pub layer_sizes: Vec<usize>,
    /// Unit type of each hidden layer (its activation is the unit's
    /// conditional mean: logistic for binary units).
    pub hidden_units: Vec<UnitKind>,
    /// Number of classes of the softmax head.
    pub n_classes: usize,
}

impl ClassifierConfig {
    /// Binary (logistic) hidden units throughout.
    pub fn new(layer_sizes: Vec<usize>, n_classes: usize) -> Self {
        let hidden = layer_sizes.len().saturating_sub(1);
        Self {
            layer_sizes,
            hidden_units: vec![UnitKind::Bernoulli; hidden],
            n_classes,
        }
    }

    /// The classifier architecture of a trained stack.
    pub fn of_stack(stack: &RbmStack, n_classes: usize) -> Self {
        Self {
            layer_sizes: stack.sizes(),
            hidden_units: stack.layers.iter().map(|l| l.hidden_units).collect(),
            n_classes,
        }
    }

    /// Checks every rule on the architecture.
    pub fn validate(&self) -> Result<(), DbnConfigError> {
        if self.layer_sizes.len() < 2 {
            return Err(DbnConfigError::TooFewLayerSizes(self.layer_sizes.len()));
        }
        if let Some(index) = self.layer_sizes.iter().position(|&s| s == 0) {
            return Err(DbnConfigError::ZeroLayerSize { index });
        }
        check_sizes(&self.layer_sizes)?;
        check_sizes(&[
            *self.layer_sizes.last().expect("two or more"),
            self.n_classes,
        ])
        .map_err(|e| match e {
            DbnConfigError::TooManyWeights {
                inputs,
                outputs,
                max,
                ..
            } => DbnConfigError::TooManyWeights {
                index: self.layer_sizes.len() - 1,
                next: self.layer_sizes.len(),
                inputs,
                outputs,
                max,
            },
            other => other,
        })?;
        if self.hidden_units.len() != self.layer_sizes.len() - 1 {
            return Err(DbnConfigError::UnitKindCount {
                expected: self.layer_sizes.len() - 1,
                found: self.hidden_units.len(),
            });
        }
        if self.n_classes < 2 {
            return Err(DbnConfigError::TooFewClasses(self.n_classes));
        }
        Ok(())
    }

    /// The number of f32 values of the classifier (weights and biases of
    /// every layer and the head); `None` if it overflows.
    pub fn parameter_count(&self) -> Option<usize> {
        let mut sizes = self.layer_sizes.clone();
        sizes.push(self.n_classes);
        sizes.windows(2).try_fold(0usize, |total, pair| {
            total.checked_add(pair[0].checked_mul(pair[1])?.checked_add(pair[1])?)
        })
    }

    /// A randomly initialised classifier: the no-pretraining baseline.
    /// Weights are uniform in `±4 sqrt(6 / (fan_in + fan_out))` for the
    /// logistic layers and `±sqrt(6 / (fan_in + fan_out))` for the head
    /// (Glorot & Bengio 2010), drawn on the host with `seed` so that every
    /// backend starts from the same model; biases are zero.
    ///
    /// # Panics
    /// If the configuration is invalid; call [`ClassifierConfig::validate`]
    /// first to get a typed error instead.
    pub fn init(&self, device: &Device, seed: u64) -> DbnClassifier {
        self.init_with(Initialisation::Glorot4, device, seed)
    }

    /// A randomly initialised classifier drawn with `seed` by `init`
    /// (hidden layers bottom first, then the head).
    ///
    /// # Panics
    /// If the configuration is invalid (see [`ClassifierConfig::validate`]).
    pub fn init_with(&self, init: Initialisation, device: &Device, seed: u64) -> DbnClassifier {
        if let Err(e) = self.validate() {
            panic!("invalid ClassifierConfig: {e}");
        }
        let mut sampler = Sampler::new(seed);
        let hidden = self
            .layer_sizes
            .windows(2)
            .map(|pair| init.linear(pair[0], pair[1], false, &mut sampler, device))
            .collect();
        let top = *self.layer_sizes.last().expect("validated");
        let head = init.linear(top, self.n_classes, true, &mut sampler, device);
        DbnClassifier {
            hidden,
            head,
            hidden_units: self.hidden_units.clone(),
            dropout: DropoutRates::NONE,
        }
    }
}

/// How a randomly initialised layer's weights are drawn (biases are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initialisation {
    /// Erhan et al. (2009), following LeCun et al. (1998): uniform in
    /// `±1 / sqrt(fan_in)`, for hidden layers and the head alike.
    Erhan,
    /// Glorot & Bengio (2010): uniform in `±4 sqrt(6 / (fan_in + fan_out))`
    /// for logistic layers, `±sqrt(6 / (fan_in + fan_out))` for the head.
    Glorot4,
}

impl Initialisation {
    /// The half-width of the uniform interval of a layer's weights.
    pub fn limit(self, inputs: usize, outputs: usize, is_head: bool) -> f64 {
        match self {
            Initialisation::Erhan => 1.0 / (inputs as f64).sqrt(),
            Initialisation::Glorot4 => {
                let gain = if is_head { 1.0 } else { 4.0 };
                gain * (6.0 / (inputs + outputs) as f64).sqrt()
            }
        }
    }

    /// A layer of `inputs -> outputs` drawn from `sampler`: weights uniform
    /// in `±limit`, zero biases.
    pub fn linear(
        self,
        inputs: usize,
        outputs: usize,
        is_head: bool,
        sampler: &mut Sampler,
        device: &Device,
    ) -> Linear {
        let limit = self.limit(inputs, outputs, is_head);
        let uniform = sampler.uniform([inputs, outputs], device);
        Linear {
            weight: burn::module::Param::from_tensor(
                uniform.mul_scalar(2.0 * limit).sub_scalar(limit),
            ),
            bias: Some(burn::module::Param::from_tensor(Tensor::zeros(
                [outputs],
                device,
            ))),
        }
    }
}

/// Each size at most [`rbm::MAX_UNITS`], each pair's weights at most
/// [`rbm::MAX_WEIGHTS`]: checked before anything is allocated.
fn check_sizes(sizes: &[usize]) -> Result<(), DbnConfigError> {
    if let Some((index, &found)) = sizes.iter().enumerate().find(|(_, s)| **s > rbm::MAX_UNITS) {
        return Err(DbnConfigError::LayerTooLarge {
            index,
            found,
            max: rbm::MAX_UNITS,
        });
    }
    for (index, pair) in sizes.windows(2).enumerate() {
        if pair[0]
            .checked_mul(pair[1])
            .is_none_or(|w| w > rbm::MAX_WEIGHTS)
        {
            return Err(DbnConfigError::TooManyWeights {
                index,
                next: index + 1,
                inputs: pair[0],
                outputs: pair[1],
                max: rbm::MAX_WEIGHTS,
            });
        }
    }
    Ok(())
}

/// A feed-forward classifier: hidden layers with the activation of their
/// unit type, then a linear layer whose outputs are the logits of a
/// softmax over the classes (the softmax itself is in the loss).
///
/// Tensor names when saved ([`crate::save_classifier`]): `hidden.{i}.weight`
/// `[inputs, outputs]`, `hidden.{i}.bias` `[outputs]`, `head.weight`
/// `[top, n_classes]`, `head.bias` `[n_classes]`; a layer computes
/// `x W + b`, as an RBM's up-pass does.
#[derive(Module, Debug)]
pub struct DbnClassifier {
    pub hidden: Vec<Linear>,
    pub head: Linear,
    #[module(skip)]
    pub hidden_units: Vec<UnitKind>,
    /// Dropout applied in training passes only (those on an autodiff
    /// device); not part of the architecture, so not saved.
    #[module(skip)]
    pub dropout: DropoutRates,
}

impl DbnClassifier {
    /// The stack's RBMs become the hidden layers (weights and hidden biases;
    /// the visible biases are only needed to generate), topped by a new
    /// Glorot-initialised head drawn with `seed`. For Gaussian visible
    /// units, `1 / sigma` is folded into the weights, so the layer computes
    /// the RBM's `(v / sigma) W + b_h` from the data itself.
    ///
    /// # Errors
    /// [`DbnConfigError::NoLayers`] for an empty stack; the checks of
    /// [`ClassifierConfig::validate`] (e.g. fewer than 2 classes).
    pub fn from_stack(
        stack: &RbmStack,
        n_classes: usize,
        seed: u64,
    ) -> Result<Self, crate::error::DbnError> {
        let Some(first) = stack.layers.first() else {
            return Err(DbnConfigError::NoLayers.into());
        };
        let device = first.weight.device();
        let config = ClassifierConfig::of_stack(stack, n_classes);
        config.validate()?;
        let head = config.init(&device, seed).head;
        let hidden = stack
            .layers
            .iter()
            .map(|rbm| Linear {
                weight: Param::from_tensor(match rbm.visible_sigma() {
                    Some(sigma) => rbm.weight.val() / sigma.unsqueeze_dim(1),
                    None => rbm.weight.val(),
                }),
                bias: Some(Param::from_tensor(rbm.hidden_bias.val())),
            })
            .collect();
        Ok(Self {
            hidden,
            head,
            hidden_units: config.hidden_units,
            dropout: DropoutRates::NONE,
        })
    }

    /// This classifier with only its head trainable (`true`: the hidden
    /// layers' parameters stop requiring gradients, so autodiff records
    /// nothing for them) or all layers (`false`). Hinton's
    /// `backpropclassify.m` trains only the top weights for its first epochs.
    pub fn with_head_only(mut self, head_only: bool) -> Self {
        self.hidden = self
            .hidden
            .into_iter()
            .map(|layer| layer.set_require_grad(!head_only))
            .collect();
        self
    }

    /// This classifier with `rates` of dropout in its training passes.
    pub fn with_dropout(mut self, rates: DropoutRates) -> Self {
        self.dropout = rates;
        self
    }

    /// The architecture of this classifier.
    pub fn config(&self) -> ClassifierConfig {
        let mut layer_sizes: Vec<usize> = self
            .hidden
            .first()
            .map(|l| l.weight.dims()[0])
            .into_iter()
            .collect();
        layer_sizes.extend(self.hidden.iter().map(|l| l.weight.dims()[1]));
        ClassifierConfig {
            layer_sizes,
            hidden_units: self.hidden_units.clone(),
            n_classes: self.head.weight.dims()[1],
        }
    }

    /// Every hidden layer's activations, bottom first.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]` -> one `[batch, size]` per hidden layer
    pub fn hidden_activations(&self, images: Tensor<2>) -> Vec<Tensor<2>> {
        let mut activations = Vec::with_capacity(self.hidden.len());
        let mut below = images;
        for (layer, units) in self.hidden.iter().zip(&self.hidden_units) {
            below = units.mean(linear(layer, below));
            activations.push(below.clone());
        }
        activations
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]` -> `[batch, n_classes]`
    ///
    /// In a training pass (parameters on an autodiff device) the inputs and
    /// hidden activations are dropped out at [`DbnClassifier::dropout`]'s rates.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        // Training passes are those of a model whose parameters live on an
        // autodiff device (`Module::train`); the batches themselves may not.
        let training = self.head.weight.device().is_autodiff();
        let rates = if training {
            self.dropout
        } else {
            DropoutRates::NONE
        };
        let top = self
            .hidden
            .iter()
            .zip(&self.hidden_units)
            .fold(dropped_out(images, rates.input), |below, (layer, units)| {
                dropped_out(units.mean(linear(layer, below)), rates.hidden)
            });
        linear(&self.head, top)
    }

    /// Logits, mean cross-entropy loss and targets of a batch.
    pub fn forward_classification(&self, batch: ClassificationBatch) -> ClassificationOutput {
        let logits = self.forward(batch.images); // [batch, n_classes]
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }

    /// Predicted class of each row (the arg-max logit).
    ///
    /// # Shapes
    /// - images: `[batch, inputs]` -> `[batch]`
    pub fn predict(&self, images: Tensor<2>) -> Tensor<1, Int> {
        self.forward(images).argmax(1).squeeze_dim(1)
    }

    /// Fraction of rows whose predicted class differs from `labels`,
    /// evaluated in chunks of `batch_size` rows.
    ///
    /// # Shapes
    /// - images: `[rows, inputs]`, labels: `[rows]`
    ///
    /// # Panics
    /// If `batch_size` is 0 or the row counts differ.
    pub fn error_rate(
        &self,
        images: &Tensor<2>,
        labels: &Tensor<1, Int>,
        batch_size: usize,
    ) -> f64 {
        chunked_error_rate(images, labels, batch_size, |chunk| self.predict(chunk))
    }
}

/// `layer`'s `x W + b` as Burn's `Linear::forward` computes it (matmul,
/// then the bias added), the matmul through [`rbm::math::matmul`] (on
/// Flex: the same bits without the output's extra copy).
///
/// # Shapes
/// - x: `[batch, inputs]` -> `[batch, outputs]`
pub(crate) fn linear(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let product = matmul(x, layer.weight.val()); // [batch, outputs]
    match &layer.bias {
        Some(bias) => product + bias.val().unsqueeze(),
        None => product,
    }
}

/// `activations` with each entry zeroed with `probability` and the others
/// scaled by `1 / (1 - probability)`, so the expected value is unchanged.
///
/// # Shapes
/// - activations: `[batch, units]` -> `[batch, units]`
pub(crate) fn dropped_out(activations: Tensor<2>, probability: f64) -> Tensor<2> {
    if probability <= 0.0 {
        return activations;
    }
    let keep = 1.0 - probability;
    let device = activations.device();
    if rbm::host_ops::on_flex(&device) {
        // Flex's `random_like` draws each value through a generic sampler
        // on one thread: 46% of a dropout epoch's CPU samples (perf, Zen 5
        // EPYC). The mask is drawn on the host instead, by xoshiro256++
        // from a seed that the device's generator gives, so masks still
        // follow the device's (seed, epoch) reseeding.
        let mask = Sampler::new(seed_from(&device)).dropout_mask(activations.dims(), keep, &device);
        return activations * mask;
    }
    let mask = activations.random_like(Distribution::Bernoulli(keep));
    (activations * mask).div_scalar(keep)
}

/// A 64-bit seed drawn from `device`'s generator: the bits of two of its
/// uniforms (about 48 random bits; `Sampler::new` spreads them by
/// SplitMix64).
fn seed_from(device: &Device) -> u64 {
    let uniforms = Tensor::<1>::random([2], Distribution::Default, device)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 uniforms");
    ((uniforms[0].to_bits() as u64) << 32) | uniforms[1].to_bits() as u64
}

/// Fraction of rows whose `predict`ed class differs from `labels`, with
/// `predict` called on chunks of `batch_size` rows; one host read per chunk.
///
/// # Panics
/// If `batch_size` is 0 or the row counts differ.
pub(crate) fn chunked_error_rate(
    images: &Tensor<2>,
    labels: &Tensor<1, Int>,
    batch_size: usize,
    predict: impl Fn(Tensor<2>) -> Tensor<1, Int>,
) -> f64 {
    let rows = images.dims()[0];
    assert_eq!(
        rows,
        labels.dims()[0],
        "error_rate: images and labels differ in rows"
    );
    assert!(batch_size > 0, "error_rate: batch_size must be positive");
    let mut wrong = 0i64;
    for start in (0..rows).step_by(batch_size) {
        let end = (start + batch_size).min(rows);
        let predicted = predict(images.clone().slice(start..end));
        let truth = labels.clone().slice(start..end);
        wrong += predicted.not_equal(truth).int().sum().into_scalar::<i64>();
    }
    wrong as f64 / rows.max(1) as f64
}

impl TrainStep for DbnClassifier {
    type Input = ClassificationBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ClassificationBatch) -> TrainOutput<ClassificationOutput> {
        let output = self.forward_classification(batch);
        let gradients = output.loss.backward();
        // The metrics need values, not the graph: detached outputs do not
        // keep the spent autodiff graph reachable while the Learner holds
        // them. (The parameters stay shared anyway: the Learner clones the
        // model for its optimizer step.)
        let output =
            ClassificationOutput::new(output.loss.detach(), output.output.detach(), output.targets);
        TrainOutput::new(self, gradients, output)
    }
}

impl InferenceStep for DbnClassifier {
    type Input = ClassificationBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ClassificationBatch) -> ClassificationOutput {
        self.forward_classification(batch)
    }
}
