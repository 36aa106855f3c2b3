//! Unit types behind one abstraction. The trainer, the Gibbs sampler, the
//! free energy and the partition functions only call the methods here, so a
//! new unit type is a new variant, not a new trainer.
//!
//! Every method takes the units' *total input* `x` (weights times the
//! other layer, plus bias). Gaussian units are handled in normalised
//! coordinates `v / sigma` (see [`crate::Rbm`]), where they have unit variance.

use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::error::RbmError;
use crate::math::{logistic, softplus};
use crate::sampler::Sampler;

/// Terms on each side of `x + 1/2` kept in the NReLU free energy's sum; the
/// terms left out are below `exp(-15)` each and fall geometrically.
const NRELU_WINDOW: i32 = 15;

/// The kind of stochastic unit on one side of an RBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnitKind {
    /// Binary stochastic units: p(s = 1 | x) = sigmoid(x).
    #[default]
    Bernoulli,
    /// Real-valued units with Gaussian noise: s | x ~ N(x, 1) in normalised
    /// coordinates (N(b + sigma * (W h), sigma^2) in data coordinates), with
    /// the energy `(s - b)^2 / 2` up to a constant. Only one side of an RBM
    /// may be Gaussian (a Gaussian-Gaussian RBM has no normaliser in general).
    Gaussian,
    /// `copies` binary units that share weights and bias, with bias offsets
    /// -0.5, -1.5, ...; the state is how many are on, so in 0..=copies and
    /// the mean is `sum_n sigmoid(x - n + 0.5)` (Teh & Hinton 2001).
    SteppedSigmoid { copies: usize },
    /// Noisy rectified linear units (Nair & Hinton 2010):
    /// `s = max(0, x + N(0, sigmoid(x)))`, the cheap stand-in for a stepped
    /// sigmoid with infinitely many copies. Free energies use that limit (see
    /// [`UnitKind::log_partition`]).
    NoisyRectified,
    /// Binary units followed by one softmax group of `group` units, of which
    /// exactly one is on (`p(k) = exp(x_k) / sum_j exp(x_j)` within the
    /// group): the generative DBN's top layer, features then a label.
    BinaryWithSoftmax { group: usize },
}

impl UnitKind {
    /// Checks the unit's own parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            UnitKind::SteppedSigmoid { copies: 0 } => Err(ConfigError::ZeroCopies),
            UnitKind::BinaryWithSoftmax { group } if *group < 2 => {
                Err(ConfigError::SoftmaxGroupTooSmall(*group))
            }
            _ => Ok(()),
        }
    }

    /// Whether the units' states have no upper bound and no confining energy
    /// of their own, so that pairing two such layers can leave the model
    /// without a normaliser.
    pub fn unbounded(&self) -> bool {
        matches!(self, UnitKind::Gaussian | UnitKind::NoisyRectified)
    }

    /// A short name for messages and file names.
    pub fn name(&self) -> String {
        match self {
            UnitKind::Bernoulli => "binary".into(),
            UnitKind::Gaussian => "gaussian".into(),
            UnitKind::SteppedSigmoid { copies } => format!("stepped-sigmoid({copies})"),
            UnitKind::NoisyRectified => "nrelu".into(),
            UnitKind::BinaryWithSoftmax { group } => format!("binary+softmax({group})"),
        }
    }

    /// Conditional mean of the units given their total input.
    /// For NReLU, the exact mean of `max(0, x + s z)` with `s^2 = sigmoid(x)`:
    /// `x Phi(x / s) + s phi(x / s)`.
    ///
    /// # Shapes
    /// - total_input: `[batch, units]` -> `[batch, units]`
    pub fn mean(&self, total_input: Tensor<2>) -> Tensor<2> {
        match self {
            UnitKind::Bernoulli => logistic(total_input),
            UnitKind::Gaussian => total_input,
            UnitKind::SteppedSigmoid { copies } => (1..=*copies)
                .map(|n| logistic(total_input.clone().sub_scalar(n as f64 - 0.5)))
                .reduce(|a, b| a + b)
                .expect("copies >= 1"),
            UnitKind::NoisyRectified => {
                // The variance is floored at 1e-20 (inputs below about -46):
                // the mean is 0 there either way, and sqrt's gradient at 0 and
                // x / 0 would make the backward pass NaN.
                let std = logistic(total_input.clone()).clamp_min(1e-20).sqrt();
                let z = total_input.clone() / std.clone();
                let cdf = (z.clone() * std::f64::consts::FRAC_1_SQRT_2)
                    .erf()
                    .add_scalar(1.0)
                    * 0.5;
                let pdf = (z.square() * -0.5).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
                // Never below 0, which rounding could otherwise give.
                relu(total_input * cdf + std * pdf)
            }
            UnitKind::BinaryWithSoftmax { group } => {
                let (binary, softmax) = split_group(total_input, *group);
                Tensor::cat(
                    vec![
                        logistic(binary),
                        burn::tensor::activation::softmax(softmax, 1),
                    ],
                    1,
                )
            }
        }
    }

    /// A sample of the units given their total input and its conditional
    /// mean (as [`UnitKind::mean`] returned; binary and Gaussian units only
    /// need the mean, the others the input).
    ///
    /// # Shapes
    /// - total_input, mean: `[batch, units]` -> `[batch, units]`
    pub fn sample(
        &self,
        total_input: Tensor<2>,
        mean: Tensor<2>,
        sampler: &mut Sampler,
    ) -> Tensor<2> {
        match self {
            UnitKind::Bernoulli => sampler.bernoulli(mean),
            UnitKind::Gaussian => {
                let noise = sampler.normal(mean.dims(), 0.0, 1.0, &mean.device());
                mean + noise
            }
            UnitKind::SteppedSigmoid { copies } => (1..=*copies)
                .map(|n| {
                    sampler.bernoulli(logistic(total_input.clone().sub_scalar(n as f64 - 0.5)))
                })
                .reduce(|a, b| a + b)
                .expect("copies >= 1"),
            UnitKind::NoisyRectified => {
                // The variance is floored at 1e-20 (inputs below about -46):
                // the mean is 0 there either way, and sqrt's gradient at 0 and
                // x / 0 would make the backward pass NaN.
                let std = logistic(total_input.clone()).clamp_min(1e-20).sqrt();
                let noise = sampler.normal(total_input.dims(), 0.0, 1.0, &total_input.device());
                relu(total_input + noise * std)
            }
            UnitKind::BinaryWithSoftmax { group } => {
                let (binary, probabilities) = split_group(mean, *group);
                Tensor::cat(
                    vec![
                        sampler.bernoulli(binary),
                        sample_one_hot(probabilities, sampler),
                    ],
                    1,
                )
            }
        }
    }

    /// `log sum_s exp(-self_energy(s) + s x)` over one unit's states, summed
    /// over the units of each row (an integral for Gaussian units): what the
    /// layer contributes to a free energy, with the sign flipped, once it is
    /// summed out.
    ///
    /// - binary: `softplus(x)`; Gaussian: `x^2 / 2 + ln(2 pi) / 2`;
    /// - stepped sigmoid: `sum_{n=1..copies} softplus(x - n + 0.5)`, exact
    ///   (the copies are independent binary units);
    /// - NReLU: the same sum with infinitely many copies, the model NReLUs
    ///   approximate (Nair & Hinton 2010). It is computed exactly up to
    ///   ~1e-6: the positive parts in closed form, `softplus - relu` over the
    ///   31 terms nearest `x + 0.5` (the rest are below e^-15 and decay
    ///   geometrically).
    ///
    /// # Shapes
    /// - total_input: `[batch, units]` -> `[batch]`
    pub fn log_partition(&self, total_input: Tensor<2>) -> Tensor<1> {
        if let UnitKind::BinaryWithSoftmax { group } = self {
            let (binary, softmax) = split_group(total_input, *group);
            return softplus(binary).sum_dim(1).squeeze_dim(1) + log_sum_exp_rows(softmax);
        }
        self.log_partition_terms(total_input)
            .sum_dim(1)
            .squeeze_dim(1)
    }

    /// The terms whose sum over columns is [`UnitKind::log_partition`]: one
    /// per unit, and one for a softmax group as a whole (for
    /// [`UnitKind::BinaryWithSoftmax`], the binary units' columns and then
    /// the group's). AIS takes differences of these term by term before
    /// summing, so that f32 does not subtract two large sums.
    ///
    /// # Shapes
    /// - total_input: `[batch, units]` -> `[batch, terms]`
    pub fn log_partition_terms(&self, total_input: Tensor<2>) -> Tensor<2> {
        match self {
            UnitKind::Bernoulli => softplus(total_input),
            UnitKind::Gaussian => {
                total_input.square() * 0.5 + 0.5 * (2.0 * std::f64::consts::PI).ln()
            }
            UnitKind::SteppedSigmoid { copies } => (1..=*copies)
                .map(|n| softplus(total_input.clone().sub_scalar(n as f64 - 0.5)))
                .reduce(|a, b| a + b)
                .expect("copies >= 1"),
            UnitKind::NoisyRectified => infinite_stepped_log_partition(total_input),
            UnitKind::BinaryWithSoftmax { group } => {
                let (binary, softmax) = split_group(total_input, *group);
                Tensor::cat(
                    vec![softplus(binary), log_sum_exp_rows(softmax).unsqueeze_dim(1)],
                    1,
                )
            }
        }
    }

    /// `log p(states | total_input)` under the factorial conditional, summed
    /// over the units of each row.
    ///
    /// # Errors
    /// [`RbmError::Unsupported`] for stepped sigmoid and NReLU units, whose
    /// conditional has no closed form.
    ///
    /// # Shapes
    /// - states: `[batch, units]`, total_input: `[batch, units]` -> `[batch]`
    pub fn log_probability(
        &self,
        states: Tensor<2>,
        total_input: Tensor<2>,
    ) -> Result<Tensor<1>, RbmError> {
        let per_unit = match self {
            UnitKind::Bernoulli => states * total_input.clone() - softplus(total_input),
            UnitKind::Gaussian => {
                (states - total_input).square() * -0.5 - 0.5 * (2.0 * std::f64::consts::PI).ln()
            }
            UnitKind::BinaryWithSoftmax { group } => {
                let (states_binary, states_group) = split_group(states, *group);
                let (binary, softmax) = split_group(total_input, *group);
                let binary = (states_binary * binary.clone() - softplus(binary))
                    .sum_dim(1)
                    .squeeze_dim(1);
                let chosen = (states_group * softmax.clone()).sum_dim(1).squeeze_dim(1);
                return Ok(binary + chosen - log_sum_exp_rows(softmax));
            }
            UnitKind::SteppedSigmoid { .. } | UnitKind::NoisyRectified => {
                return Err(RbmError::Unsupported {
                    what: "log p(h | v) for stepped sigmoid or NReLU units",
                });
            }
        };
        Ok(per_unit.sum_dim(1).squeeze_dim(1))
    }

    /// The part of the energy that involves only this layer.
    /// - binary: `-s.b`; Gaussian: `sum (s^2 / 2 - s b)` (the lecture's
    ///   `(s - b)^2 / 2` less the constant `b^2 / 2`);
    /// - stepped sigmoid and NReLU: `sum (s^2 / 2 - s b)`, the energy of the
    ///   copies when the first `s` of them are on (offsets 0.5 + 1.5 + ... =
    ///   s^2 / 2). The other configurations with the same count are ignored,
    ///   so as a *visible* layer their free energy is an approximation.
    ///
    /// # Shapes
    /// - states: `[batch, units]`, bias: `[units]` -> `[batch]`
    pub fn self_energy(&self, states: Tensor<2>, bias: Tensor<1>) -> Tensor<1> {
        let linear = crate::math::matmul(states.clone(), bias.unsqueeze_dim::<2>(1))
            .squeeze_dim::<1>(1)
            .neg();
        match self {
            UnitKind::Bernoulli | UnitKind::BinaryWithSoftmax { .. } => linear,
            UnitKind::Gaussian | UnitKind::SteppedSigmoid { .. } | UnitKind::NoisyRectified => {
                linear + (states.square() * 0.5).sum_dim(1).squeeze_dim(1)
            }
        }
    }

    /// Whether the units take finitely many states per unit that
    /// can be listed one by one (needed for exact log Z).
    pub fn enumerable(&self) -> bool {
        matches!(self, UnitKind::Bernoulli)
    }

    /// The states of `units` units from index `start` of the full joint
    /// enumeration, `count` of them, in row-major binary order.
    ///
    /// # Panics
    /// For units that are not [`UnitKind::enumerable`].
    pub(crate) fn enumerate_states(&self, units: usize, start: usize, count: usize) -> Vec<f32> {
        assert!(
            self.enumerable(),
            "{} units cannot be enumerated",
            self.name()
        );
        let mut out = Vec::with_capacity(units * count);
        for state in start..start + count {
            out.extend((0..units).map(|bit| ((state >> bit) & 1) as f32));
        }
        out
    }

    /// The closed interval that data for these units must lie in, if any.
    pub fn valid_range(&self) -> Option<(f32, f32)> {
        match self {
            UnitKind::Bernoulli => Some((0.0, 1.0)),
            UnitKind::Gaussian => None,
            UnitKind::SteppedSigmoid { copies } => Some((0.0, *copies as f32)),
            UnitKind::NoisyRectified => Some((0.0, f32::INFINITY)),
            UnitKind::BinaryWithSoftmax { .. } => Some((0.0, 1.0)),
        }
    }

    /// The bias that makes a unit with no other input have the given mean
    /// (Hinton's guide, section 8): the logit for binary units, the mean
    /// itself for Gaussian units; `None` where there is no simple inverse.
    ///
    /// # Shapes
    /// - means: `[units]` -> `[units]`
    pub fn bias_for_mean(&self, means: Tensor<1>) -> Option<Tensor<1>> {
        match self {
            UnitKind::Bernoulli => {
                let p = means.clamp(1e-3, 1.0 - 1e-3);
                Some(p.clone().log() - p.neg().add_scalar(1.0).log())
            }
            UnitKind::Gaussian => Some(means),
            UnitKind::BinaryWithSoftmax { group } => {
                // Logits for the binary units, log-probabilities for the group.
                let units = means.dims()[0];
                let binary =
                    UnitKind::Bernoulli.bias_for_mean(means.clone().slice(0..units - group))?;
                let group = means.slice(units - group..units).clamp(1e-3, 1.0).log();
                Some(Tensor::cat(vec![binary, group], 0))
            }
            UnitKind::SteppedSigmoid { .. } | UnitKind::NoisyRectified => None,
        }
    }
}

/// The binary columns and the softmax group's `group` last columns.
///
/// # Shapes
/// - x: `[rows, units]` -> `[rows, units - group]`, `[rows, group]`
fn split_group(x: Tensor<2>, group: usize) -> (Tensor<2>, Tensor<2>) {
    let [rows, units] = x.dims();
    (
        x.clone().slice([0..rows, 0..units - group]),
        x.slice([0..rows, units - group..units]),
    )
}

/// `log sum_k exp(x_k)` of each row, stable.
///
/// # Shapes
/// - x: `[rows, k]` -> `[rows]`
fn log_sum_exp_rows(x: Tensor<2>) -> Tensor<1> {
    let max = x.clone().max_dim(1); // [rows, 1]
    ((x - max.clone()).exp().sum_dim(1).log() + max).squeeze_dim(1)
}

/// One category per row drawn from `probabilities` (rows sum to 1), as a
/// one-hot row: the first column whose cumulative probability passes a
/// uniform draw (the last column if rounding leaves the sum below it).
///
/// # Shapes
/// - probabilities: `[rows, k]` -> `[rows, k]`
fn sample_one_hot(probabilities: Tensor<2>, sampler: &mut Sampler) -> Tensor<2> {
    let [rows, k] = probabilities.dims();
    let device = probabilities.device();
    let cumulative = probabilities.cumsum(1);
    let uniform = sampler.uniform([rows, 1], &device);
    // Count the columns whose cumulative sum is still at or below u: that
    // count is the chosen index (capped at k - 1).
    let index = cumulative
        .lower_equal(uniform)
        .int()
        .sum_dim(1)
        .clamp_max(k as i64 - 1); // [rows, 1]
    let columns = Tensor::<1, Int>::arange(0..k as i64, &device).unsqueeze::<2>(); // [1, k]
    index.equal(columns).float()
}

/// `sum_{n>=1} softplus(x - n + 1/2)`: with `m = floor(x + 1/2)` and
/// `f = x + 1/2 - m`, the positive parts sum to `m (x + 1/2) - m (m + 1) / 2`
/// (for `m > 0`), and `softplus(y) - relu(y) = log1p(exp(-|y|))` is summed
/// over the terms with `y = f + j` near zero, for `j <= m - 1`.
fn infinite_stepped_log_partition(x: Tensor<2>) -> Tensor<2> {
    let shifted = x.add_scalar(0.5);
    let m = shifted.clone().floor();
    let fraction = shifted.clone() - m.clone();
    let positive = relu(m.clone());
    let mut total = positive.clone() * shifted - positive.clone() * positive.add_scalar(1.0) * 0.5;
    for j in -NRELU_WINDOW..NRELU_WINDOW {
        let y = fraction.clone().add_scalar(j as f64);
        let included = m
            .clone()
            .sub_scalar(1.0 + j as f64)
            .greater_equal_elem(0.0)
            .float();
        total = total + y.abs().neg().exp().log1p() * included;
    }
    total
}
