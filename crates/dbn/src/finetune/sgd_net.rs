//! Many small logistic classifiers trained by plain stochastic gradient
//! descent, side by side: each is a [`SgdNet`] with its own data
//! order, learning rate and state, and [`for_each_net`] runs them
//! in parallel, one per core.
//!
//! Why: studies such as Erhan et al. (2009) train hundreds of small
//! networks with per-example (or mini-batch 10) updates. At those batch
//! sizes a step costs more in bookkeeping than in arithmetic: Burn's
//! autodiff graph and the Learner's per-step work dominate, and one
//! `[10, 784] x [784, 500]` product cannot keep two cores busy. Here the
//! backward pass is written out (and tested against autodiff), and whole
//! networks are the unit of parallel work. Measured on 2 AVX2 cores
//! (784-500-500-10, batch 10): 3.8k examples/s per core, 7.5k on two;
//! stacking the members into `[members, ..]` batched matmuls instead gave
//! 2.7k (Flex's batched GEMM at these sizes).

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rbm::Sampler;
use rbm::math::matmul;

use crate::error::DbnConfigError;
use crate::finetune::classifier::DbnClassifier;
#[cfg(test)]
use crate::finetune::classifier::{ClassifierConfig, Initialisation};
use crate::finetune::config::DropoutRates;

/// A feed-forward classifier of logistic hidden layers and a softmax head
/// with its parameters as plain tensors, each layer computing `x W + b`.
#[derive(Debug, Clone)]
pub struct SgdNet {
    /// `[inputs, outputs]` per layer, bottom first, the head last.
    pub weights: Vec<Tensor<2>>,
    /// `[1, outputs]` per layer.
    pub biases: Vec<Tensor<2>>,
    /// The momentum velocity (weights, then biases), once a step with
    /// momentum has run.
    pub velocity: Option<Vec<Tensor<2>>>,
}

/// How one step moves a net: `w - rate * g` with `momentum` 0 (plain
/// stochastic gradient descent, bit for bit), else `v = momentum v + g`,
/// `w - rate v`; with `weight_decay` positive, `g` is first the
/// gradient plus `weight_decay * w` on every parameter (an L2 penalty, as
/// [`crate::finetune::optimizer::MomentumSgd`] with `DecayScope::All`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdStep {
    pub rate: f64,
    pub momentum: f64,
    pub weight_decay: f64,
}

impl SgdStep {
    /// Plain SGD at `rate`: no momentum, no penalty.
    pub fn plain(rate: f64) -> Self {
        Self {
            rate,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// What the steps of an epoch train beyond the plain mean cross-entropy
/// of the whole net: the head alone (the hidden layers fixed, as H&S's
/// first epochs), and dropout in the forward pass (Hinton et al. 2012:
/// each input and hidden unit zeroed with its probability, the kept ones
/// scaled by `1 / (1 - p)`, so evaluation uses the whole net unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SgdTraining {
    pub head_only: bool,
    pub dropout: DropoutRates,
}

/// The dropout masks of one batch: one per layer input (the images, then
/// each hidden layer's output), `None` where that probability is 0;
/// values 0 and `1 / (1 - p)`.
type Masks = Vec<Option<Tensor<2>>>;

impl SgdNet {
    /// The classifier's parameters.
    ///
    /// # Errors
    /// [`DbnConfigError::NotLogistic`] if a hidden layer is not binary
    /// (logistic): the hand-written backward pass is for those only.
    pub fn from_classifier(classifier: &DbnClassifier) -> Result<Self, DbnConfigError> {
        if let Some(layer) = classifier
            .hidden_units
            .iter()
            .position(|u| *u != rbm::UnitKind::Bernoulli)
        {
            return Err(DbnConfigError::NotLogistic { layer });
        }
        let layers: Vec<&Linear> = classifier
            .hidden
            .iter()
            .chain(std::iter::once(&classifier.head))
            .collect();
        Ok(Self {
            weights: layers.iter().map(|l| l.weight.val()).collect(),
            biases: layers
                .iter()
                .map(|l| match &l.bias {
                    Some(b) => b.val().unsqueeze_dim::<2>(0),
                    None => Tensor::zeros([1, l.weight.dims()[1]], &l.weight.device()),
                })
                .collect(),
            velocity: None,
        })
    }

    /// Whether `other` holds the same parameters, bit for bit (velocities
    /// aside). A conjugate-gradient epoch is a function of the net alone
    /// (fixed batches, a fresh line search on each), so one that returns
    /// its net unchanged returns it at every later epoch.
    pub fn same_parameters(&self, other: &SgdNet) -> bool {
        let same = |x: &[Tensor<2>], y: &[Tensor<2>]| {
            x.len() == y.len()
                && x.iter().zip(y).all(|(x, y)| {
                    let (x, y) = (x.to_data(), y.to_data());
                    x.shape() == y.shape() && x.dtype() == y.dtype() && x.as_bytes() == y.as_bytes()
                })
        };
        same(&self.weights, &other.weights) && same(&self.biases, &other.biases)
    }

    /// The net as a [`DbnClassifier`] (to save, evaluate or picture it).
    pub fn to_classifier(&self) -> DbnClassifier {
        let mut layers: Vec<Linear> = self
            .weights
            .iter()
            .zip(&self.biases)
            .map(|(w, b)| Linear {
                weight: burn::module::Param::from_tensor(w.clone()),
                bias: Some(burn::module::Param::from_tensor(
                    b.clone().squeeze_dim::<1>(0),
                )),
            })
            .collect();
        let head = layers.pop().expect("a head");
        let hidden_units = vec![rbm::UnitKind::Bernoulli; layers.len()];
        DbnClassifier {
            hidden: layers,
            head,
            hidden_units,
            dropout: crate::finetune::config::DropoutRates::NONE,
        }
    }

    /// Every layer's input: the images, then each hidden layer's output.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]` -> one `[batch, size]` per layer
    fn layer_inputs(&self, images: Tensor<2>) -> Vec<Tensor<2>> {
        self.activations(images, &[]).0
    }

    /// Every layer's input under dropout `masks` (none: the whole net),
    /// and each hidden layer's logistic output before its mask (the
    /// slope `s (1 - s)` of backpropagation).
    ///
    /// # Shapes
    /// - images: `[batch, inputs]` -> (one `[batch, size]` per layer, one
    ///   `[batch, size]` per hidden layer)
    fn activations(
        &self,
        images: Tensor<2>,
        masks: &[Option<Tensor<2>>],
    ) -> (Vec<Tensor<2>>, Vec<Tensor<2>>) {
        let masked = |x: Tensor<2>, layer: usize| match masks.get(layer) {
            Some(Some(mask)) => x * mask.clone(),
            _ => x,
        };
        let last = self.weights.len() - 1;
        let mut inputs = vec![masked(images, 0)];
        let mut outputs = Vec::with_capacity(last);
        for (layer, (weight, bias)) in self.weights[..last].iter().zip(&self.biases).enumerate() {
            let below = inputs.last().expect("the images at least").clone();
            let output = rbm::math::logistic(matmul(below, weight.clone()) + bias.clone());
            outputs.push(output.clone());
            inputs.push(masked(output, layer + 1));
        }
        (inputs, outputs)
    }

    /// Fresh dropout masks for a batch of `rows` at `rates`, drawn from
    /// `sampler` (the images' mask first, then each hidden layer's).
    fn dropout_masks(&self, rows: usize, rates: DropoutRates, sampler: &mut Sampler) -> Masks {
        let device = self.weights[0].device();
        let last = self.weights.len() - 1;
        let widths = std::iter::once(self.weights[0].dims()[0])
            .chain(self.weights[..last].iter().map(|w| w.dims()[1]));
        widths
            .enumerate()
            .map(|(layer, width)| {
                let p = if layer == 0 {
                    rates.input
                } else {
                    rates.hidden
                };
                (p > 0.0).then(|| sampler.dropout_mask([rows, width], 1.0 - p, &device))
            })
            .collect()
    }

    /// The top hidden layer's output: the head's input.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]` -> `[batch, top hidden units]`
    pub fn top_features(&self, images: Tensor<2>) -> Tensor<2> {
        self.layer_inputs(images)
            .pop()
            .expect("the images at least")
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]` -> `[batch, classes]`
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        let last = self.weights.len() - 1;
        let top = self
            .layer_inputs(images)
            .pop()
            .expect("the images at least");
        matmul(top, self.weights[last].clone()) + self.biases[last].clone()
    }

    /// Mean cross-entropy of the softmax on the batch.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]`, one_hot: `[batch, classes]`
    pub fn loss(&self, images: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
        self.masked_loss(images, one_hot, &[])
    }

    /// [`SgdNet::loss`] under dropout `masks` (see [`SgdNet::activations`]).
    ///
    /// # Shapes
    /// - images: `[batch, inputs]`, one_hot: `[batch, classes]`
    fn masked_loss(
        &self,
        images: Tensor<2>,
        one_hot: Tensor<2>,
        masks: &[Option<Tensor<2>>],
    ) -> Tensor<1> {
        let batch = images.dims()[0] as f64;
        let last = self.weights.len() - 1;
        let top = self
            .activations(images, masks)
            .0
            .pop()
            .expect("the images at least");
        let logits = matmul(top, self.weights[last].clone()) + self.biases[last].clone();
        let (per_row, _) = cross_entropy_and_slope(log_softmax(logits, 1), one_hot);
        per_row.sum().div_scalar(batch)
    }

    /// The gradients of [`SgdNet::loss`] (weights bottom first, then biases
    /// bottom first) by hand-written backpropagation, and the loss.
    /// Autodiff computes the same values ([`SgdNet::autodiff_gradients`],
    /// tested) but records a graph per step, which costs more than the
    /// arithmetic at mini-batches of 1-10.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]`, one_hot: `[batch, classes]`
    pub fn gradients(&self, images: Tensor<2>, one_hot: Tensor<2>) -> (Vec<Tensor<2>>, Tensor<1>) {
        self.backpropagate(images, one_hot, &[], false)
    }

    /// The gradients of the mean cross-entropy of the net under dropout
    /// `masks` (those of [`SgdNet::dropout_masks`]; none: the whole net),
    /// for every parameter or, `head_only`, for the head's weights and
    /// biases alone; and the loss.
    ///
    /// # Shapes
    /// - images: `[batch, inputs]`, one_hot: `[batch, classes]`
    fn backpropagate(
        &self,
        images: Tensor<2>,
        one_hot: Tensor<2>,
        masks: &[Option<Tensor<2>>],
        head_only: bool,
    ) -> (Vec<Tensor<2>>, Tensor<1>) {
        let batch = images.dims()[0] as f64;
        let last = self.weights.len() - 1;
        let (inputs, outputs) = self.activations(images, masks);
        let logits =
            matmul(inputs[last].clone(), self.weights[last].clone()) + self.biases[last].clone();
        let log_p = log_softmax(logits, 1); // [batch, classes]
        let (per_row, slope) = cross_entropy_and_slope(log_p, one_hot);
        // Kept on the device: a training loop reads it once per epoch.
        let loss = per_row.sum().div_scalar(batch);
        let mut delta = slope.div_scalar(batch); // d loss / d logits
        let lowest = if head_only { last } else { 0 };
        let mut weight_grads = Vec::with_capacity(last + 1);
        let mut bias_grads = Vec::with_capacity(last + 1);
        for layer in (lowest..=last).rev() {
            let input = inputs[layer].clone(); // [batch, inputs of the layer]
            weight_grads.push(matmul(input.transpose(), delta.clone()));
            bias_grads.push(delta.clone().sum_dim(0));
            if layer > lowest {
                // Through the mask and the logistic below: s (1 - s).
                let output = outputs[layer - 1].clone();
                let slope = output.clone() - output.square();
                delta = matmul(delta, self.weights[layer].clone().transpose());
                if let Some(Some(mask)) = masks.get(layer) {
                    delta = delta * mask.clone();
                }
                delta = delta * slope;
            }
        }
        weight_grads.reverse();
        bias_grads.reverse();
        weight_grads.extend(bias_grads);
        (weight_grads, loss)
    }

    /// [`SgdNet::gradients`] by Burn's autodiff on a tracked copy of the
    /// parameters: the reference the hand-written pass is tested against.
    pub fn autodiff_gradients(
        &self,
        images: Tensor<2>,
        one_hot: Tensor<2>,
    ) -> (Vec<Tensor<2>>, f64) {
        let track = |t: &Tensor<2>| t.clone().autodiff().require_grad();
        let tracked = SgdNet {
            weights: self.weights.iter().map(track).collect(),
            biases: self.biases.iter().map(track).collect(),
            velocity: None,
        };
        let loss = tracked.loss(images.autodiff(), one_hot.autodiff());
        let mut grads = loss.backward();
        let value = loss.inner().into_scalar::<f32>() as f64;
        let all = tracked
            .weights
            .iter()
            .chain(&tracked.biases)
            .map(|p| p.grad_remove(&mut grads).expect("a tracked parameter"))
            .collect();
        (all, value)
    }

    /// One step on one mini-batch; returns the loss before it (`[1]`, on
    /// the device).
    ///
    /// # Shapes
    /// - images: `[batch, inputs]`, one_hot: `[batch, classes]`
    pub fn step(&mut self, images: Tensor<2>, one_hot: Tensor<2>, step: SgdStep) -> Tensor<1> {
        let (grads, loss) = self.gradients(images, one_hot);
        self.apply(grads, step, false);
        loss
    }

    /// Moves the parameters by `grads` (every parameter's, or the head's
    /// weights and biases alone when `head_only`) as `step` says. The
    /// velocity belongs to one scope: a step of the other scope starts a
    /// fresh one, as a new phase's optimiser does.
    fn apply(&mut self, grads: Vec<Tensor<2>>, step: SgdStep, head_only: bool) {
        let last = self.weights.len() - 1;
        let (weights, biases) = if head_only {
            (&mut self.weights[last..], &mut self.biases[last..])
        } else {
            (&mut self.weights[..], &mut self.biases[..])
        };
        let params: Vec<&mut Tensor<2>> = weights.iter_mut().chain(biases.iter_mut()).collect();
        let mut grads: Vec<Tensor<2>> = if step.weight_decay > 0.0 {
            grads
                .into_iter()
                .zip(&params)
                .map(|(g, p)| g + (**p).clone().mul_scalar(step.weight_decay))
                .collect()
        } else {
            grads
        };
        if step.momentum > 0.0 {
            grads = match self.velocity.take().filter(|v| v.len() == grads.len()) {
                Some(old) => old
                    .into_iter()
                    .zip(grads)
                    .map(|(v, g)| v.mul_scalar(step.momentum) + g)
                    .collect(),
                None => grads,
            };
            self.velocity = Some(grads.clone());
        }
        for (param, g) in params.into_iter().zip(grads) {
            *param = param.clone() - g.mul_scalar(step.rate);
        }
    }

    /// One epoch over the rows of `images` in `order`, mini-batches of
    /// `batch` (the last may be smaller); returns the mean loss of its
    /// steps.
    ///
    /// # Shapes
    /// - images: `[n, inputs]`, one_hot: `[n, classes]`
    pub fn epoch(
        &mut self,
        images: &Tensor<2>,
        one_hot: &Tensor<2>,
        order: &[usize],
        batch: usize,
        step: SgdStep,
    ) -> f64 {
        // Without dropout no random number is drawn: any sampler serves.
        self.epoch_with(
            images,
            one_hot,
            order,
            batch,
            step,
            SgdTraining::default(),
            &mut Sampler::new(0),
        )
    }

    /// [`SgdNet::epoch`] training as `training` says, each batch's dropout
    /// masks drawn from `sampler` in batch order (nothing is drawn without
    /// dropout).
    ///
    /// # Shapes
    /// - images: `[n, inputs]`, one_hot: `[n, classes]`
    #[allow(clippy::too_many_arguments)]
    pub fn epoch_with(
        &mut self,
        images: &Tensor<2>,
        one_hot: &Tensor<2>,
        order: &[usize],
        batch: usize,
        step: SgdStep,
        training: SgdTraining,
        sampler: &mut Sampler,
    ) -> f64 {
        let device = images.device();
        let mut total = Tensor::<1>::zeros([1], &device);
        let mut steps = 0usize;
        for rows in order.chunks(batch.max(1)) {
            let index = Tensor::<1, Int>::from_data(
                TensorData::new(rows.iter().map(|&r| r as i64).collect(), [rows.len()]),
                &device,
            );
            let x = images.clone().select(0, index.clone());
            let y = one_hot.clone().select(0, index);
            let masks = if training.dropout.is_active() {
                self.dropout_masks(rows.len(), training.dropout, sampler)
            } else {
                Vec::new()
            };
            let (grads, loss) = self.backpropagate(x, y, &masks, training.head_only);
            self.apply(grads, step, training.head_only);
            total = total + loss;
            steps += 1;
        }
        total.into_scalar::<f32>() as f64 / steps.max(1) as f64
    }

    /// The number of misclassified rows, evaluated `chunk` rows at a time.
    ///
    /// # Shapes
    /// - images: `[n, inputs]`, labels: `[n]`
    pub fn errors(&self, images: &Tensor<2>, labels: &Tensor<1, Int>, chunk: usize) -> usize {
        let n = images.dims()[0];
        let mut wrong = 0usize;
        let mut start = 0;
        while start < n {
            let end = (start + chunk.max(1)).min(n);
            let predicted = self
                .forward(images.clone().slice(start..end))
                .argmax(1)
                .squeeze_dim::<1>(1);
            let truth = labels.clone().slice(start..end);
            wrong += predicted.not_equal(truth).int().sum().into_scalar::<i64>() as usize;
            start = end;
        }
        wrong
    }

    /// The softmax outputs on `images`, row by row (`n * classes` values).
    ///
    /// # Shapes
    /// - images: `[n, inputs]`
    pub fn probabilities(&self, images: &Tensor<2>) -> Vec<f32> {
        burn::tensor::activation::softmax(self.forward(images.clone()), 1)
            .into_data()
            .try_to_vec::<f32>()
            .expect("float data")
    }
}

/// Runs `work` on every net, in parallel (one net per core at a time);
/// the results in the nets' order. A net's computation does not depend on
/// which thread runs it or on the other nets (tested bit for bit).
pub fn for_each_net<T: Send>(
    nets: &mut [SgdNet],
    work: impl Fn(usize, &mut SgdNet) -> T + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    nets.par_iter_mut()
        .enumerate()
        .map(|(index, net)| work(index, net))
        .collect()
}

/// Each row's cross-entropy `-log p_t` and its slope `p - one_hot` with
/// respect to the logits, from the log-softmax `log_p`, accurate in f32
/// when the net is confident.
///
/// Written as `-log p_t` and `p - one_hot` directly, both vanish in f32
/// once `1 - p_t` falls below about 6e-8 (p_t rounds to 1): the loss
/// becomes 0 and the true class's slope 0 while the others' stay
/// positive, a gradient of no function. Conjugate gradients, which trust
/// value and slope together, then spent three to four times the
/// evaluations per line search once the training loss was that small.
/// Here `r = 1 - p_t` is summed from the other classes' probabilities
/// (each accurate), the true class's slope is `-r`, and the loss is
/// `-log1p(-r)` where `r < 1/2` (`-log p_t` as it is elsewhere, which is
/// then no smaller than log 2).
///
/// # Shapes
/// - log_p, one_hot: `[batch, classes]` (exactly one 1 per row)
/// - returns `([batch, 1], [batch, classes])`
fn cross_entropy_and_slope(log_p: Tensor<2>, one_hot: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let others = log_p.clone().exp() * (one_hot.clone().neg() + 1.0); // [batch, classes]
    let rest = others.clone().sum_dim(1); // [batch, 1]: 1 - p_t
    let slope = others - one_hot.clone() * rest.clone();
    let direct = (log_p * one_hot).sum_dim(1).neg(); // [batch, 1]
    let near_one = rest.clone().lower_elem(0.5);
    let precise = rest.neg().log1p().neg();
    (direct.mask_where(near_one, precise), slope)
}

/// A net's order of `n` training rows in `epoch`, a function of its
/// seed and the epoch only, so a resumed run draws the same batches.
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    Sampler::for_epoch(seed, epoch).shuffle(&mut order);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn host(t: &Tensor<2>) -> Vec<f32> {
        t.clone().into_data().try_to_vec::<f32>().expect("f32")
    }

    fn bits(t: &Tensor<2>) -> Vec<u32> {
        host(t).into_iter().map(f32::to_bits).collect()
    }

    /// A small net and a batch with one-hot labels.
    fn net_and_batch(device: &Device, seed: u64) -> (SgdNet, Tensor<2>, Tensor<2>) {
        let classifier = ClassifierConfig::new(vec![6, 5, 4], 3).init_with(
            Initialisation::Glorot4,
            device,
            seed,
        );
        let net = SgdNet::from_classifier(&classifier).unwrap();
        let images = {
            let _generator = crate::tests::device_generator();
            device.seed(seed);
            Tensor::<2>::random([7, 6], Distribution::Default, device)
        };
        let labels = [0usize, 1, 2, 2, 1, 0, 1];
        let one_hot = crate::one_hot_rows(&labels, 3, device).unwrap();
        (net, images, one_hot)
    }

    #[test]
    fn erhan_weights_lie_within_one_over_root_fan_in_and_biases_are_zero() {
        let device = Device::flex();
        let config = ClassifierConfig::new(vec![784, 500, 300], 10);
        let classifier = config.init_with(Initialisation::Erhan, &device, 7);
        let layers: Vec<&Linear> = classifier
            .hidden
            .iter()
            .chain(std::iter::once(&classifier.head))
            .collect();
        for (layer, fan_in) in layers.iter().zip([784usize, 500, 300]) {
            let bound = 1.0 / (fan_in as f32).sqrt();
            let w = host(&layer.weight.val());
            let largest = w.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(largest <= bound, "fan-in {fan_in}: {largest} > {bound}");
            // Uniform draws: P(all n below 0.99 bound) = 0.99^n, under e^-30
            // for the 3,000 weights of the smallest layer.
            assert!(largest > 0.99 * bound, "fan-in {fan_in}: largest {largest}");
            // The mean square is bound^2 / 3; w^2 has relative sd
            // sqrt(4/45) / (1/3) = 0.894 per draw: 5 standard errors allowed.
            let n = w.len() as f64;
            let mean_square = w.iter().map(|v| (v * v) as f64).sum::<f64>() / n;
            let expected = (bound * bound / 3.0) as f64;
            let tolerance = 5.0 * 0.894 / n.sqrt();
            assert!(
                (mean_square / expected - 1.0).abs() < tolerance,
                "fan-in {fan_in}: {mean_square} vs {expected} (tolerance {tolerance})"
            );
            let bias = layer.bias.as_ref().unwrap().val();
            assert!(
                bias.into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .all(|b| *b == 0.0)
            );
        }
        // Glorot x4: within 4 sqrt(6 / (fan_in + fan_out)), the head within
        // sqrt(6 / (fan_in + fan_out)), reaching to 1% of it.
        let glorot = config.init_with(Initialisation::Glorot4, &device, 7);
        let layers: Vec<(&Linear, f32)> = glorot
            .hidden
            .iter()
            .zip([
                4.0 * (6.0f32 / 1284.0).sqrt(),
                4.0 * (6.0f32 / 800.0).sqrt(),
            ])
            .chain(std::iter::once((&glorot.head, (6.0f32 / 310.0).sqrt())))
            .collect();
        for (layer, bound) in layers {
            let w = host(&layer.weight.val());
            let largest = w.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(
                largest <= bound * (1.0 + 1e-6) && largest > 0.99 * bound,
                "{largest} vs {bound}"
            );
        }
    }

    #[test]
    fn hand_written_gradients_match_autodiff() {
        let device = Device::flex();
        let (net, images, one_hot) = net_and_batch(&device, 3);
        let (hand, hand_loss) = net.gradients(images.clone(), one_hot.clone());
        let hand_loss = hand_loss.into_scalar::<f32>() as f64;
        let (auto, auto_loss) = net.autodiff_gradients(images, one_hot);
        assert!(
            (hand_loss - auto_loss).abs() < 1e-6,
            "{hand_loss} vs {auto_loss}"
        );
        assert_eq!(hand.len(), 6);
        for (h, a) in hand.iter().zip(&auto) {
            assert_eq!(h.dims(), a.dims());
            let (h, a) = (host(h), host(a));
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 1e-4, "a gradient that is not all zero");
            for (x, y) in h.iter().zip(&a) {
                assert!((x - y).abs() <= 1e-5 * scale.max(1.0), "{x} vs {y}");
            }
        }
    }

    /// A net and a batch in f64 on the host, the reference the f32
    /// gradients are checked against: logistic hidden layers, softmax head
    /// (`weights[l]`: `[in, out]` row-major, as the tensors).
    struct HostNet {
        weights: Vec<Vec<f64>>,
        biases: Vec<Vec<f64>>,
        sizes: Vec<usize>,
        x: Vec<f64>,
        labels: Vec<usize>,
    }

    impl HostNet {
        fn of(net: &SgdNet, images: &Tensor<2>, labels: &[usize]) -> Self {
            let to_f64 = |t: &Tensor<2>| host(t).into_iter().map(f64::from).collect::<Vec<f64>>();
            let mut sizes = vec![net.weights[0].dims()[0]];
            sizes.extend(net.weights.iter().map(|w| w.dims()[1]));
            Self {
                weights: net.weights.iter().map(to_f64).collect(),
                biases: net.biases.iter().map(to_f64).collect(),
                sizes,
                x: to_f64(images),
                labels: labels.to_vec(),
            }
        }

        /// The mean cross-entropy on the batch.
        fn loss(&self) -> f64 {
            let (sizes, layers) = (&self.sizes, self.weights.len());
            let mut total = 0.0;
            for (row, &label) in self.labels.iter().enumerate() {
                let mut activity: Vec<f64> = self.x[row * sizes[0]..(row + 1) * sizes[0]].to_vec();
                for layer in 0..layers {
                    let (n_in, n_out) = (sizes[layer], sizes[layer + 1]);
                    let z: Vec<f64> = (0..n_out)
                        .map(|j| {
                            self.biases[layer][j]
                                + (0..n_in)
                                    .map(|i| activity[i] * self.weights[layer][i * n_out + j])
                                    .sum::<f64>()
                        })
                        .collect();
                    activity = if layer + 1 < layers {
                        z.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
                    } else {
                        z
                    };
                }
                // -log p = log(1 + sum over the other classes of
                // exp(z_j - z_label)), exact, and accurate in f64 however
                // small the loss (`top + ln(sum) - z_label` would cancel).
                let others: f64 = (0..activity.len())
                    .filter(|&j| j != label)
                    .map(|j| (activity[j] - activity[label]).exp())
                    .sum();
                total += others.ln_1p();
            }
            total / self.labels.len() as f64
        }

        /// The central difference (h = 1e-4) of the loss in parameter
        /// `entry` of group `group` (the weights bottom first, then the
        /// biases, as [`SgdNet::gradients`] orders them); the parameters
        /// are left as they were.
        fn central_difference(&mut self, group: usize, entry: usize) -> f64 {
            let h = 1e-4;
            let layers = self.weights.len();
            let mut nudge = |delta: f64| {
                if group < layers {
                    self.weights[group][entry] += delta;
                } else {
                    self.biases[group - layers][entry] += delta;
                }
                self.loss()
            };
            let up = nudge(h);
            let down = nudge(-2.0 * h);
            nudge(h);
            (up - down) / (2.0 * h)
        }
    }

    #[test]
    fn classifier_loss_gradients_match_central_differences_in_f64() {
        // Central differences of the loss computed in f64 on the host,
        // h = 1e-4: truncation error ~ h^2 |f^(3)| / 6 ~ 1e-9 and rounding
        // ~ 1e-16 / h ~ 1e-12, far below the f32 gradients' own rounding
        // (~1e-7 relative, summed over 7 rows and <= 6 terms): 1e-5 of the
        // largest gradient allows both with a wide margin, while a wrong
        // slope (s instead of s (1 - s)) or a missing 1/batch moves
        // entries by far more.
        let device = Device::flex();
        let (net, images, one_hot) = net_and_batch(&device, 11);
        let mut reference = HostNet::of(&net, &images, &[0, 1, 2, 2, 1, 0, 1]);
        let (hand, _) = net.gradients(images.clone(), one_hot.clone());
        let (auto, _) = net.autodiff_gradients(images, one_hot);
        for (index, (hand, auto)) in hand.iter().zip(&auto).enumerate() {
            let (hand, auto) = (host(hand), host(auto));
            let scale = hand.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            assert!(
                scale > 1e-4,
                "parameter group {index}: an all-zero gradient"
            );
            for entry in 0..hand.len() {
                let numeric = reference.central_difference(index, entry);
                for (what, value) in [("hand-written", hand[entry]), ("autodiff", auto[entry])] {
                    let error = (value as f64 - numeric).abs();
                    assert!(
                        error.is_finite() && error <= 1e-5 * scale.max(1e-2),
                        "group {index} entry {entry}: {what} {value} vs central difference {numeric}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_confident_nets_loss_and_gradients_keep_their_precision_in_f32() {
        // Every row labelled 0 and the head's bias 20 for class 0: the
        // other classes' probabilities are about e^-20 = 2e-9, so 1 - p_0
        // (about 4e-9) is below f32's resolution at 1 and `-log p_0`,
        // `p_0 - 1` computed directly are 0. The f64 reference: the loss
        // on the host and central differences of it (h = 1e-4; truncation
        // ~ h^2 / 6 of the gradient, negligible). The f32 values' own
        // error: the logits carry ~1e-7 relative rounding per operation on
        // values of ~20, a few times 1e-6 absolute, so each exp(z_j - z_0)
        // is good to ~1e-5 relative; 1e-4 leaves a margin, while the
        // direct formulas miss by 100% (a zero loss, a zero true-class
        // slope). The lower layers' entries are held to 1e-4 of their
        // group's largest, as in the test above: a saturated hidden unit's
        // 1 - s is only as good as f32's absolute resolution near 1.
        let device = Device::flex();
        let (mut net, images, _) = net_and_batch(&device, 13);
        let labels = [0usize; 7];
        let one_hot = crate::one_hot_rows(&labels, 3, &device).unwrap();
        let head = net.weights.len() - 1;
        net.biases[head] = Tensor::<2>::from_floats([[20.0, 0.0, 0.0]], &device);
        let mut reference = HostNet::of(&net, &images, &labels);
        let (hand, loss) = net.gradients(images, one_hot);
        let expected = reference.loss();
        let loss = loss.into_scalar::<f32>() as f64;
        assert!(expected > 1e-9 && expected < 1e-8, "the set-up: {expected}");
        assert!(
            (loss - expected).abs() <= 1e-4 * expected,
            "loss {loss} vs {expected} in f64"
        );
        let layers = reference.weights.len();
        for (index, hand) in hand.iter().enumerate() {
            let hand = host(hand);
            let scale = hand.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            assert!(scale > 1e-10, "group {index}: an all-zero gradient");
            for (entry, &value) in hand.iter().enumerate() {
                let numeric = reference.central_difference(index, entry);
                assert!(
                    (value as f64 - numeric).abs() <= 1e-4 * scale,
                    "group {index} entry {entry}: {value} vs central difference {numeric}"
                );
            }
        }
        // The head's bias slopes sum to 0 (softmax ignores a common
        // shift); the true class's is minus the others'.
        let bias = host(&hand[layers + head]);
        assert!(bias[0] < 0.0 && bias[1] > 0.0 && bias[2] > 0.0, "{bias:?}");
    }

    #[test]
    fn a_plain_step_is_w_minus_rate_times_gradient_bit_for_bit() {
        let device = Device::flex();
        let (mut net, images, one_hot) = net_and_batch(&device, 4);
        let before: Vec<Vec<f32>> = net.weights.iter().chain(&net.biases).map(host).collect();
        let (grads, _) = net.gradients(images.clone(), one_hot.clone());
        let rate = 0.3f64;
        net.step(images, one_hot, SgdStep::plain(rate));
        assert!(net.velocity.is_none(), "plain SGD keeps no velocity");
        let after: Vec<Vec<f32>> = net.weights.iter().chain(&net.biases).map(host).collect();
        for ((w0, w1), g) in before.iter().zip(&after).zip(&grads) {
            let expected: Vec<u32> = w0
                .iter()
                .zip(host(g))
                .map(|(w, g)| (w - g * rate as f32).to_bits())
                .collect();
            assert_eq!(w1.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected);
        }
    }

    #[test]
    fn momentum_steps_follow_v_equals_m_v_plus_g() {
        let device = Device::flex();
        let (mut net, images, one_hot) = net_and_batch(&device, 5);
        let (rate, momentum) = (0.2f64, 0.9f64);
        let step = SgdStep {
            rate,
            momentum,
            weight_decay: 0.0,
        };
        let w0 = host(&net.weights[0]);
        let (g1, _) = net.gradients(images.clone(), one_hot.clone());
        net.step(images.clone(), one_hot.clone(), step);
        let w1 = host(&net.weights[0]);
        let (g2, _) = net.gradients(images.clone(), one_hot.clone());
        net.step(images, one_hot, step);
        let w2 = host(&net.weights[0]);
        let (g1, g2) = (host(&g1[0]), host(&g2[0]));
        for i in 0..w0.len() {
            let v1 = g1[i];
            let expected1 = w0[i] - v1 * rate as f32;
            assert_eq!(w1[i].to_bits(), expected1.to_bits());
            let v2 = v1 * momentum as f32 + g2[i];
            let expected2 = w1[i] - v2 * rate as f32;
            assert_eq!(w2[i].to_bits(), expected2.to_bits());
        }
    }

    #[test]
    fn nets_trained_in_parallel_equal_nets_trained_alone() {
        let device = Device::flex();
        let config = ClassifierConfig::new(vec![30, 20, 20], 4);
        let nets: Vec<SgdNet> = (0..3)
            .map(|s| {
                SgdNet::from_classifier(&config.init_with(Initialisation::Erhan, &device, s))
                    .unwrap()
            })
            .collect();
        let images = {
            let _generator = crate::tests::device_generator();
            device.seed(9);
            Tensor::<2>::random([64, 30], Distribution::Default, &device)
        };
        let labels: Vec<usize> = (0..64).map(|i| (i * 7) % 4).collect();
        let one_hot = crate::one_hot_rows(&labels, 4, &device).unwrap();
        let step = SgdStep::plain(0.5);
        let mut parallel = nets.clone();
        for_each_net(&mut parallel, |k, net| {
            net.epoch(&images, &one_hot, &epoch_order(k as u64, 1, 64), 5, step)
        });
        for (k, mut alone) in nets.into_iter().enumerate() {
            let before = bits(&alone.weights[0]);
            alone.epoch(&images, &one_hot, &epoch_order(k as u64, 1, 64), 5, step);
            assert_ne!(bits(&alone.weights[0]), before, "the epoch moved the net");
            for (a, p) in alone.weights.iter().zip(&parallel[k].weights) {
                assert_eq!(bits(a), bits(p));
            }
        }
    }

    #[test]
    fn a_net_converts_to_a_classifier_and_back_unchanged() {
        let device = Device::flex();
        let (net, images, _) = net_and_batch(&device, 6);
        let back = SgdNet::from_classifier(&net.to_classifier()).unwrap();
        assert_eq!(
            bits(&net.forward(images.clone())),
            bits(&back.forward(images.clone()))
        );
        assert_eq!(
            bits(&net.forward(images.clone())),
            bits(&net.to_classifier().forward(images))
        );
    }

    #[test]
    fn a_non_logistic_hidden_layer_is_refused_naming_it() {
        let device = Device::flex();
        let mut config = ClassifierConfig::new(vec![6, 5, 4], 3);
        config.hidden_units[1] = rbm::UnitKind::NoisyRectified;
        let classifier = config.init(&device, 1);
        assert_eq!(
            SgdNet::from_classifier(&classifier).unwrap_err(),
            DbnConfigError::NotLogistic { layer: 1 }
        );
    }

    #[test]
    fn orders_depend_on_seed_and_epoch_only() {
        let a = epoch_order(3, 2, 100);
        assert_eq!(a, epoch_order(3, 2, 100));
        assert_ne!(a, epoch_order(3, 3, 100));
        assert_ne!(a, epoch_order(4, 2, 100));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn same_parameters_sees_one_bit_and_ignores_velocities() {
        let device = Device::flex();
        let (net, _, _) = net_and_batch(&device, 5);
        let mut moving = net.clone();
        moving.velocity = Some(
            net.weights
                .iter()
                .chain(&net.biases)
                .map(|p| p.ones_like())
                .collect(),
        );
        assert!(net.same_parameters(&moving));
        // The last bit of one bias of the head.
        let head = net.biases.len() - 1;
        let mut values = host(&net.biases[head]);
        values[2] = f32::from_bits(values[2].to_bits() ^ 1);
        let mut nudged = net.clone();
        let shape = net.biases[head].dims();
        nudged.biases[head] = Tensor::<2>::from_data(TensorData::new(values, shape), &device);
        assert!(!net.same_parameters(&nudged));
        assert!(!nudged.same_parameters(&net));
    }

    /// Weights and biases of a net as host vectors, in `gradients`' order.
    fn parameters(net: &SgdNet) -> Vec<Vec<f32>> {
        net.weights.iter().chain(&net.biases).map(host).collect()
    }

    #[test]
    fn gradients_under_dropout_match_autodiff_with_the_same_masks() {
        let device = Device::flex();
        let (net, images, one_hot) = net_and_batch(&device, 6);
        let rates = DropoutRates {
            input: 0.2,
            hidden: 0.5,
        };
        let masks = net.dropout_masks(7, rates, &mut Sampler::new(11));
        assert_eq!(masks.len(), 3, "the images and two hidden layers");
        for (mask, keep) in masks.iter().zip([0.8f32, 0.5, 0.5]) {
            let values = host(mask.as_ref().expect("every probability is positive"));
            assert!(
                values.iter().all(|&v| v == 0.0 || v == 1.0 / keep),
                "{values:?}"
            );
            assert!(values.contains(&0.0) && values.contains(&(1.0 / keep)));
        }
        let (hand, hand_loss) = net.backpropagate(images.clone(), one_hot.clone(), &masks, false);
        let track = |t: &Tensor<2>| t.clone().autodiff().require_grad();
        let tracked = SgdNet {
            weights: net.weights.iter().map(track).collect(),
            biases: net.biases.iter().map(track).collect(),
            velocity: None,
        };
        let masks_tracked: Masks = masks
            .iter()
            .map(|m| m.as_ref().map(|m| m.clone().autodiff()))
            .collect();
        let loss = tracked.masked_loss(
            images.clone().autodiff(),
            one_hot.clone().autodiff(),
            &masks_tracked,
        );
        let mut grads = loss.backward();
        let auto_loss = loss.inner().into_scalar::<f32>();
        assert!((hand_loss.into_scalar::<f32>() - auto_loss).abs() < 1e-6);
        let plain = net.gradients(images, one_hot).0;
        for ((h, p), plain) in hand
            .iter()
            .zip(tracked.weights.iter().chain(&tracked.biases))
            .zip(&plain)
        {
            let a = host(&p.grad_remove(&mut grads).expect("a tracked parameter"));
            let h = host(h);
            let scale = a.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (x, y) in h.iter().zip(&a) {
                assert!((x - y).abs() <= 1e-5 * scale.max(1.0), "{x} vs {y}");
            }
            assert_ne!(h, host(plain), "the masks change every gradient");
        }
    }

    #[test]
    fn head_only_steps_move_the_head_alone_as_a_net_of_the_head_would() {
        let device = Device::flex();
        let (mut net, images, one_hot) = net_and_batch(&device, 7);
        let last = net.weights.len() - 1;
        let mut head = SgdNet {
            weights: vec![net.weights[last].clone()],
            biases: vec![net.biases[last].clone()],
            velocity: None,
        };
        let features = net.top_features(images.clone());
        let hidden_before: Vec<Vec<f32>> = parameters(&net)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != last && *i != 2 * last + 1)
            .map(|(_, p)| p)
            .collect();
        let step = SgdStep {
            rate: 0.3,
            momentum: 0.9,
            weight_decay: 1e-3,
        };
        let order: Vec<usize> = (0..7).collect();
        let head_only = SgdTraining {
            head_only: true,
            dropout: DropoutRates::NONE,
        };
        for _ in 0..2 {
            net.epoch_with(
                &images,
                &one_hot,
                &order,
                3,
                step,
                head_only,
                &mut Sampler::new(0),
            );
            head.epoch(&features, &one_hot, &order, 3, step);
        }
        let after = parameters(&net);
        let hidden_after: Vec<Vec<f32>> = after
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != last && *i != 2 * last + 1)
            .map(|(_, p)| p.clone())
            .collect();
        assert_eq!(hidden_after, hidden_before, "the hidden layers stay");
        assert_eq!(bits(&net.weights[last]), bits(&head.weights[0]));
        assert_eq!(bits(&net.biases[last]), bits(&head.biases[0]));
        assert_eq!(
            net.velocity.as_ref().map(Vec::len),
            Some(2),
            "the head's velocity"
        );
        // The whole net's first step starts a fresh velocity, of every parameter.
        let (grads, _) = net.gradients(images.clone(), one_hot.clone());
        let before = parameters(&net);
        net.step(
            images,
            one_hot,
            SgdStep {
                momentum: 0.9,
                ..SgdStep::plain(0.3)
            },
        );
        assert_eq!(net.velocity.as_ref().map(Vec::len), Some(2 * (last + 1)));
        for ((w0, w1), g) in before.iter().zip(parameters(&net)).zip(&grads) {
            let expected: Vec<f32> = w0.iter().zip(host(g)).map(|(w, g)| w - g * 0.3).collect();
            assert_eq!(w1, expected);
        }
    }

    #[test]
    fn weight_decay_adds_the_penalty_before_the_momentum() {
        let device = Device::flex();
        let (mut net, images, one_hot) = net_and_batch(&device, 8);
        let (rate, momentum, decay) = (0.2f32, 0.9f32, 0.01f32);
        let step = SgdStep {
            rate: rate as f64,
            momentum: momentum as f64,
            weight_decay: decay as f64,
        };
        let w0 = host(&net.weights[1]);
        let g1 = host(&net.gradients(images.clone(), one_hot.clone()).0[1]);
        net.step(images.clone(), one_hot.clone(), step);
        let w1 = host(&net.weights[1]);
        let g2 = host(&net.gradients(images.clone(), one_hot.clone()).0[1]);
        net.step(images, one_hot, step);
        let w2 = host(&net.weights[1]);
        for i in 0..w0.len() {
            let v1 = g1[i] + w0[i] * decay;
            assert_eq!(w1[i].to_bits(), (w0[i] - v1 * rate).to_bits());
            let v2 = v1 * momentum + (g2[i] + w1[i] * decay);
            assert_eq!(w2[i].to_bits(), (w1[i] - v2 * rate).to_bits());
        }
    }

    #[test]
    fn dropout_epochs_repeat_with_their_sampler_and_differ_from_plain_ones() {
        let device = Device::flex();
        let (net, images, one_hot) = net_and_batch(&device, 9);
        let order: Vec<usize> = (0..7).collect();
        let dropout = SgdTraining {
            head_only: false,
            dropout: DropoutRates {
                input: 0.1,
                hidden: 0.25,
            },
        };
        let run = |training: SgdTraining, seed: u64| {
            let mut net = net.clone();
            let mut sampler = Sampler::new(seed);
            net.epoch_with(
                &images,
                &one_hot,
                &order,
                2,
                SgdStep::plain(0.5),
                training,
                &mut sampler,
            );
            parameters(&net)
        };
        assert_eq!(run(dropout, 1), run(dropout, 1));
        assert_ne!(run(dropout, 1), run(dropout, 2));
        let mut plain = net.clone();
        plain.epoch(&images, &one_hot, &order, 2, SgdStep::plain(0.5));
        assert_eq!(run(SgdTraining::default(), 1), parameters(&plain));
        assert_ne!(run(dropout, 1), parameters(&plain));
    }
}
