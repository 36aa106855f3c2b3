//! The generative DBN (Hinton, Osindero & Teh 2006): lower layers with
//! recognition (up) and generative (down) weights, and a top RBM over
//! [penultimate features, one softmax label group]. It generates by long
//! alternating Gibbs sampling in the top RBM and one top-down pass, and
//! classifies by the top RBM's free energy.

use burn::prelude::*;
use rbm::math::matmul;
use rbm::{Rbm, Sampler, UnitKind};
use serde::{Deserialize, Serialize};

use crate::error::DbnError;
use crate::stack::model::RbmStack;

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

/// How an image is read off the top RBM's last Gibbs state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownPass {
    /// The penultimate units' probabilities given the last hidden states,
    /// then each lower layer's probabilities: no sampling below the top
    /// RBM, a smooth image.
    #[default]
    MeanField,
    /// HOT 2006, section 7: the penultimate units' sampled states "as input
    /// to the layers below", each lower hidden layer sampled on the way
    /// down (as up-down's sleep phase), the pixels' probabilities.
    Sampled,
}

/// How [`GenerativeDbn::sample`] runs its chains and reads images off them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplePlan {
    /// Where the top RBM's chains start.
    pub start: SampleStart,
    /// Alternating Gibbs steps in the top RBM (at least 1).
    pub steps: usize,
    /// How each chain's last state becomes an image.
    pub down_pass: DownPass,
}

impl SamplePlan {
    /// `steps` Gibbs steps from random features, a mean-field down pass.
    pub fn new(steps: usize) -> Self {
        Self {
            start: SampleStart::default(),
            steps,
            down_pass: DownPass::default(),
        }
    }

    pub fn with_start(self, start: SampleStart) -> Self {
        Self { start, ..self }
    }

    pub fn with_down_pass(self, down_pass: DownPass) -> Self {
        Self { down_pass, ..self }
    }
}

impl GenerativeDbn {
    /// The DBN of a greedily trained stack (its layers become both the up and
    /// the down copies) and a top RBM whose visible units are the stack's
    /// top units followed by a softmax label group.
    pub fn from_greedy(stack: &RbmStack, top: Rbm) -> Result<Self, DbnError> {
        let Some(&features) = stack.sizes().last() else {
            return Err(crate::error::DbnConfigError::NoLayers.into());
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

    /// Stochastic bottom-up pass with the recognition weights, each hidden
    /// layer sampled (up-down's wake phase). Returns every layer's states,
    /// `[0]` the images.
    ///
    /// # Shapes
    /// - images: `[batch, pixels]` -> one `[batch, units of layer i]` per
    ///   layer, pixels first
    pub fn sampled_up_pass(&self, images: Tensor<2>, sampler: &mut Sampler) -> Vec<Tensor<2>> {
        let mut states = vec![images];
        for layer in &self.up {
            let below = states.last().expect("the images").clone();
            states.push(layer.sample_hidden(below, sampler));
        }
        states
    }

    /// The top RBM's data as up-down's wake phase gives it: the sampled
    /// penultimate states of `images` beside their one-hot `labels`.
    ///
    /// # Shapes
    /// - images: `[rows, pixels]`, labels: `[rows, n_labels]` ->
    ///   `[rows, features + n_labels]`
    pub fn sampled_top_data(
        &self,
        images: Tensor<2>,
        labels: Tensor<2>,
        sampler: &mut Sampler,
    ) -> Tensor<2> {
        let features = self
            .sampled_up_pass(images, sampler)
            .pop()
            .expect("the features");
        top_visible(features, labels)
    }

    /// The top RBM's free energy of `[features, label]` for every label.
    /// The features' share of the hidden input and of the energy is
    /// computed once and each label adds its own row of weights: one
    /// matrix product instead of one per label (the labels' visible units
    /// are binary+softmax, whose energy is linear in the states).
    ///
    /// # Shapes
    /// - features: `[batch, features]` -> `[batch, n_labels]`
    pub fn label_free_energies(&self, features: Tensor<2>) -> Tensor<2> {
        let n_labels = self.n_labels();
        let [_, n_features] = features.dims();
        let weight = self.top.weight.val(); // [features + labels, hidden]
        let [_, hidden] = weight.dims();
        let visible_bias = self.top.visible_bias.val(); // [features + labels]
        let hidden_input = matmul(
            features.clone(),
            weight.clone().slice([0..n_features, 0..hidden]),
        ) + self.top.hidden_bias.val().unsqueeze_dim(0); // [batch, hidden]
        let feature_energy = matmul(
            features,
            visible_bias.clone().slice(0..n_features).unsqueeze_dim(1),
        )
        .neg(); // [batch, 1]
        let columns = (n_features..n_features + n_labels)
            .map(|unit| {
                let label_row = weight.clone().slice([unit..unit + 1, 0..hidden]); // [1, hidden]
                let label_bias = visible_bias.clone().slice(unit..unit + 1).unsqueeze_dim(0); // [1, 1]
                let log_partition = self
                    .top
                    .hidden_units
                    .log_partition(hidden_input.clone() + label_row)
                    .unsqueeze_dim(1); // [batch, 1]
                feature_energy.clone() - label_bias - log_partition
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
        crate::finetune::classifier::chunked_error_rate(images, labels, batch_size, |chunk| {
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

    /// Top-down pass from penultimate states, each hidden layer sampled and
    /// the pixels left as probabilities (up-down's sleep phase; HOT's
    /// generation). Returns every layer's states, `[0]` the pixels.
    ///
    /// # Shapes
    /// - features: `[batch, features]` -> one `[batch, units of layer i]`
    ///   per layer, pixels first
    pub fn sampled_down_pass(&self, features: Tensor<2>, sampler: &mut Sampler) -> Vec<Tensor<2>> {
        let mut states = vec![features];
        for layer in self.down.iter().rev() {
            let above = states.last().expect("the features").clone();
            let probabilities = layer.visible_given_hidden(above);
            states.push(if states.len() == self.down.len() {
                probabilities // the visible layer: probabilities, as in HOT's code
            } else {
                sampler.bernoulli(probabilities)
            });
        }
        states.reverse();
        states
    }

    /// Generates `labels.len()` images: alternating Gibbs sampling in the
    /// top RBM for `plan.steps` steps from `plan.start`, with each chain's
    /// label clamped (`Some(label)`) or free (`None`), then one top-down
    /// pass as `plan.down_pass` says. `on_frame(step, pixels)` sees the
    /// mean-field pixel probabilities of the current states every
    /// `frame_every` steps (0: never; frames draw no random numbers, so
    /// they leave the chains as they are).
    ///
    /// # Shapes
    /// - returns `[labels.len(), pixels]`
    ///
    /// # Errors
    /// No chains, `plan.steps` 0, or a clamped label not below the number
    /// of labels.
    pub fn sample(
        &self,
        labels: &[Option<usize>],
        plan: SamplePlan,
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
        let steps = plan.steps;
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
        let features = match plan.start {
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
        let mut visible = top_visible(features, clamped_labels.clone());
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
        Ok(match plan.down_pass {
            DownPass::MeanField => {
                self.generate_from_features(split_features(visible_mean, n_labels))
            }
            DownPass::Sampled => self
                .sampled_down_pass(split_features(visible, n_labels), sampler)
                .swap_remove(0),
        })
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
}

/// The top RBM's visible rows: the penultimate features, then the label
/// group (the one place this layout is built).
///
/// # Shapes
/// - features: `[rows, features]`, labels: `[rows, n_labels]` ->
///   `[rows, features + n_labels]`
pub fn top_visible(features: Tensor<2>, labels: Tensor<2>) -> Tensor<2> {
    Tensor::cat(vec![features, labels], 1)
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
pub(crate) fn split_features(visible: Tensor<2>, n_labels: usize) -> Tensor<2> {
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
