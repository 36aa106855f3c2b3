//! Contrastive statistics: the one computation that CD, PCD and the exact
//! and long-chain estimates in tests all share.

use burn::prelude::*;

use crate::math::matmul;

/// One tensor per RBM parameter (weights, visible biases, hidden biases),
/// whatever the tensors mean; this crate uses it for
/// - gradient estimates: [`CdEstimate::gradient`](crate::CdEstimate) (CD-k/PCD-k)
///   and [`exact_log_likelihood_gradient`](crate::exact_log_likelihood_gradient);
/// - expectations `<v h^T>`, `<v>`, `<h>` under the data or the model
///   ([`statistics`], [`exact_model_statistics`](crate::exact_model_statistics));
/// - the momentum velocity of training ([`TrainerState::velocity`](crate::TrainerState)),
///   i.e. the last parameter update.
#[derive(Debug, Clone)]
pub struct ParameterTensors {
    /// `[n_visible, n_hidden]`
    pub weight: Tensor<2>,
    /// `[n_visible]`
    pub visible_bias: Tensor<1>,
    /// `[n_hidden]`
    pub hidden_bias: Tensor<1>,
}

impl ParameterTensors {
    /// Largest absolute difference over all entries, read to the host.
    pub fn max_abs_diff(&self, other: &ParameterTensors) -> f64 {
        let w = (self.weight.clone() - other.weight.clone()).abs().max();
        let v = (self.visible_bias.clone() - other.visible_bias.clone())
            .abs()
            .max();
        let h = (self.hidden_bias.clone() - other.hidden_bias.clone())
            .abs()
            .max();
        Tensor::cat(vec![w, v, h], 0).max().into_scalar::<f32>() as f64
    }

    /// Root mean square difference over all entries, read to the host.
    pub fn rms_diff(&self, other: &ParameterTensors) -> f64 {
        let count = self.weight.shape().num_elements()
            + self.visible_bias.dims()[0]
            + self.hidden_bias.dims()[0];
        let w = (self.weight.clone() - other.weight.clone()).square().sum();
        let v = (self.visible_bias.clone() - other.visible_bias.clone())
            .square()
            .sum();
        let h = (self.hidden_bias.clone() - other.hidden_bias.clone())
            .square()
            .sum();
        let total = (w + v + h).into_scalar::<f32>() as f64;
        (total / count as f64).sqrt()
    }
}

/// `scale * <v h^T>`, `scale * <v>`, `scale * <h>`, where `<.>` sums over rows.
///
/// # Shapes
/// - visible: `[rows, n_visible]`, hidden: `[rows, n_hidden]`
pub fn statistics(visible: Tensor<2>, hidden: Tensor<2>, scale: f64) -> ParameterTensors {
    let visible_bias = sum_rows(visible.clone()) * scale;
    let (weight, hidden_bias) = products(visible, hidden * scale);
    ParameterTensors {
        weight,
        visible_bias,
        hidden_bias,
    }
}

/// `positive_scale * <v h^T>_positive - negative_scale * <v h^T>_negative`
/// and likewise for the biases, where `<.>` sums over the rows.
///
/// Both phases go through one GEMM over the stacked rows,
/// `[v+; v-]^T [s+ h+; -s- h-]`, which costs about what one of the two
/// separate products would (the work is the same; the GEMM is better used).
///
/// # Shapes
/// - positive_visible: `[batch, n_visible]`, positive_hidden: `[batch, n_hidden]`
/// - negative_visible: `[chains, n_visible]`, negative_hidden: `[chains, n_hidden]`
pub fn contrastive_statistics(
    positive_visible: Tensor<2>,
    positive_hidden: Tensor<2>,
    negative_visible: Tensor<2>,
    negative_hidden: Tensor<2>,
    positive_scale: f64,
    negative_scale: f64,
) -> ParameterTensors {
    let visible_bias = sum_rows(positive_visible.clone()) * positive_scale
        - sum_rows(negative_visible.clone()) * negative_scale;
    let visible = Tensor::cat(vec![positive_visible, negative_visible], 0); // [batch + chains, n_visible]
    let hidden = Tensor::cat(
        vec![
            positive_hidden * positive_scale,
            negative_hidden * (-negative_scale),
        ],
        0,
    ); // [batch + chains, n_hidden]
    let (weight, hidden_bias) = products(visible, hidden);
    ParameterTensors {
        weight,
        visible_bias,
        hidden_bias,
    }
}

/// `(visible^T hidden, column sums of hidden)`.
fn products(visible: Tensor<2>, hidden: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
    let hidden_sum = sum_rows(hidden.clone());
    (matmul(visible.transpose(), hidden), hidden_sum)
}

/// Column sums: `[rows, units]` -> `[units]`.
fn sum_rows(x: Tensor<2>) -> Tensor<1> {
    x.sum_dim(0).squeeze_dim::<1>(0)
}
