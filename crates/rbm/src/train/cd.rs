//! The contrastive-divergence estimate of the log-likelihood gradient
//! (CD-k from the data, PCD-k from persistent chains): the one function
//! the trainer and the tests estimate gradients through.

use burn::prelude::*;

use crate::gradient::{ParameterTensors, contrastive_statistics};
use crate::math::matmul;
use crate::model::{GibbsState, Rbm};
use crate::sampler::Sampler;

/// A contrastive-divergence estimate of the log-likelihood gradient.
#[derive(Debug, Clone)]
pub struct CdEstimate {
    /// `scale` times (data statistics minus negative-phase statistics), each
    /// averaged over its rows.
    pub gradient: ParameterTensors,
    /// E[h | v] on the batch, `[batch, n_hidden]`.
    pub positive_hidden: Tensor<2>,
    /// The negative phase's final states.
    pub negative: GibbsState,
    /// For Gaussian visible units, `scale` times the data-minus-model
    /// statistic of `log sigma`, `[n_visible]`.
    pub log_sigma: Option<Tensor<1>>,
}

/// The CD-k estimate of the gradient on `batch`, times `scale`: with
/// `chains = None` the negative chains start at h ~ p(h | batch) (CD-k);
/// with `Some(hidden states)` they continue from those states (PCD-k).
/// With `mean_field_reconstruction` the last visible layer is its conditional
/// mean rather than a sample (only meaningful for CD).
/// The trainer and the tests both estimate gradients through this function.
///
/// # Shapes
/// - batch: `[batch, n_visible]`; chains: `[chains, n_hidden]`
pub fn contrastive_divergence(
    rbm: &Rbm,
    batch: Tensor<2>,
    chains: Option<Tensor<2>>,
    k: usize,
    mean_field_reconstruction: bool,
    scale: f64,
    sampler: &mut Sampler,
) -> CdEstimate {
    let batch_rows = batch.dims()[0];
    let positive_input = rbm.hidden_input(batch.clone()); // [batch, n_hidden]
    let positive_hidden = rbm.hidden_units.mean(positive_input.clone());
    let start = match chains {
        Some(chains) => chains,
        None => rbm
            .hidden_units
            .sample(positive_input, positive_hidden.clone(), sampler),
    };
    let negative = rbm.gibbs_from_hidden(start, k, mean_field_reconstruction, sampler);
    let chain_rows = negative.visible.dims()[0];
    let positive_scale = scale / batch_rows as f64;
    let negative_scale = scale / chain_rows as f64;
    // Statistics of the normalised visible states (v / sigma for Gaussian
    // units); the visible bias's is one more division by sigma.
    let mut gradient = contrastive_statistics(
        rbm.normalize_visible(batch.clone()),
        positive_hidden.clone(),
        rbm.normalize_visible(negative.visible.clone()),
        negative.hidden_mean.clone(),
        positive_scale,
        negative_scale,
    );
    let log_sigma = rbm.visible_sigma().map(|sigma| {
        gradient.visible_bias = gradient.visible_bias.clone() / sigma;
        log_sigma_statistic(rbm, batch, positive_hidden.clone()) * positive_scale
            - log_sigma_statistic(rbm, negative.visible.clone(), negative.hidden_mean.clone())
                * negative_scale
    });
    CdEstimate {
        gradient,
        positive_hidden,
        negative,
        log_sigma,
    }
}

/// `sum over rows of -dE/d(log sigma_i)` for Gaussian visible units:
/// `(v~ - b~)^2 - v~ (h W^T)` with `v~ = v / sigma`, `b~ = b / sigma`.
///
/// # Shapes
/// - visible: `[rows, n_visible]`, hidden: `[rows, n_hidden]` -> `[n_visible]`
fn log_sigma_statistic(rbm: &Rbm, visible: Tensor<2>, hidden: Tensor<2>) -> Tensor<1> {
    let normalized = rbm.normalize_visible(visible);
    let bias = rbm.normalize_visible(rbm.visible_bias.val().unsqueeze());
    let top_down = matmul(hidden, rbm.weight.val().transpose());
    ((normalized.clone() - bias).square() - normalized * top_down)
        .sum_dim(0)
        .squeeze_dim(0)
}
