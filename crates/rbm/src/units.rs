//! Unit types behind one abstraction. The trainer, the Gibbs sampler, the
//! free energy and the partition functions only call the methods here, so a
//! new unit type is a new variant, not a new trainer.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Sampler;
use crate::math::{logistic, softplus};

/// The kind of stochastic unit on one side of an RBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnitKind {
    /// Binary stochastic units: p(s = 1 | input x) = sigmoid(x).
    #[default]
    Bernoulli,
}

impl UnitKind {
    /// Conditional mean of the units given their total input (weights times
    /// the other layer, plus bias).
    ///
    /// # Shapes
    /// - total_input: `[batch, units]` -> `[batch, units]`
    pub fn mean(&self, total_input: Tensor<2>) -> Tensor<2> {
        match self {
            UnitKind::Bernoulli => logistic(total_input),
        }
    }

    /// A sample of the units given their conditional mean.
    ///
    /// # Shapes
    /// - mean: `[batch, units]` -> `[batch, units]`
    pub fn sample(&self, mean: Tensor<2>, sampler: &mut Sampler) -> Tensor<2> {
        match self {
            UnitKind::Bernoulli => sampler.bernoulli(mean),
        }
    }

    /// `log sum_s exp(s * x)` over the states `s` of one unit, summed over the
    /// units of each row: what a layer contributes to a free energy (with the
    /// sign flipped) once it is summed out.
    ///
    /// # Shapes
    /// - total_input: `[batch, units]` -> `[batch]`
    pub fn log_partition(&self, total_input: Tensor<2>) -> Tensor<1> {
        match self {
            UnitKind::Bernoulli => softplus(total_input).sum_dim(1).squeeze_dim(1),
        }
    }

    /// `log p(states | total_input)` under the factorial conditional,
    /// summed over the units of each row. For binary units this is
    /// `sum_j s_j x_j - softplus(x_j)`, stable for any input.
    ///
    /// # Shapes
    /// - states: `[batch, units]`, total_input: `[batch, units]` -> `[batch]`
    pub fn log_probability(&self, states: Tensor<2>, total_input: Tensor<2>) -> Tensor<1> {
        match self {
            UnitKind::Bernoulli => (states * total_input.clone() - softplus(total_input))
                .sum_dim(1)
                .squeeze_dim(1),
        }
    }

    /// The part of the energy that involves only this layer (its biases).
    ///
    /// # Shapes
    /// - states: `[batch, units]`, bias: `[units]` -> `[batch]`
    pub fn self_energy(&self, states: Tensor<2>, bias: Tensor<1>) -> Tensor<1> {
        match self {
            UnitKind::Bernoulli => states
                .matmul(bias.unsqueeze_dim::<2>(1))
                .squeeze_dim::<1>(1)
                .neg(),
        }
    }

    /// Whether the units take finitely many states per unit that
    /// [`UnitKind::enumerate_states`] can list (needed for exact log Z).
    pub fn enumerable(&self) -> bool {
        match self {
            UnitKind::Bernoulli => true,
        }
    }

    /// The states of `units` units from index `start` of the full joint
    /// enumeration, `count` of them, in row-major binary order.
    pub(crate) fn enumerate_states(&self, units: usize, start: usize, count: usize) -> Vec<f32> {
        match self {
            UnitKind::Bernoulli => {
                let mut out = Vec::with_capacity(units * count);
                for state in start..start + count {
                    out.extend((0..units).map(|bit| ((state >> bit) & 1) as f32));
                }
                out
            }
        }
    }

    /// The closed interval that data for these units must lie in, if any.
    pub fn valid_range(&self) -> Option<(f32, f32)> {
        match self {
            UnitKind::Bernoulli => Some((0.0, 1.0)),
        }
    }
}
