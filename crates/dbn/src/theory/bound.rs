//! The variational lower bound on `log p(v)` of a two-layer DBN: the
//! quantity that greedy training improves (HOT 2006, section 4). Exactly,
//! for models small enough to enumerate the first hidden layer; by
//! sampling the first hidden layer from its posterior, with the upper
//! RBM's log Z given (AIS), for models of any size.

use burn::prelude::*;
use rbm::{MAX_ENUMERATED_UNITS, Rbm, RbmError, Sampler, exact_log_partition, math::to_host_f64};

use crate::error::DbnError;

/// Mean over the rows of `data` of
/// `sum_h Q(h | v) [log p(v | h) + log p(h) - log Q(h | v)]`, where `Q` is
/// `lower`'s factorial posterior, `p(v | h)` is `lower`'s generative
/// conditional and `p(h)` is `upper`'s marginal over its visible units
/// (the DBN's prior over the first hidden layer), `exp(-F(h)) / Z`. With
/// `upper` equal to `lower` transposed, `p(h)` is `lower`'s own marginal and
/// the bound equals `lower`'s exact log-likelihood.
///
/// # Errors
/// If `lower` has more than [`MAX_ENUMERATED_UNITS`] hidden units, the
/// layers do not fit, or `upper`'s `log Z` cannot be enumerated.
///
/// # Shapes
/// - data: `[n, lower.n_visible]`
pub fn variational_bound(lower: &Rbm, upper: &Rbm, data: &Tensor<2>) -> Result<f64, DbnError> {
    let hidden = lower.n_hidden();
    if hidden > MAX_ENUMERATED_UNITS {
        return Err(RbmError::TooLargeToEnumerate {
            max: MAX_ENUMERATED_UNITS,
            found: hidden,
        }
        .into());
    }
    if upper.n_visible() != hidden {
        return Err(DbnError::DataWidth {
            what: "upper RBM's visible layer",
            expected: hidden,
            found: upper.n_visible(),
        });
    }
    let device = data.device();
    let count = 1usize << hidden;
    let states: Vec<f32> = (0..count)
        .flat_map(|s| (0..hidden).map(move |j| ((s >> j) & 1) as f32))
        .collect();
    let states = Tensor::<2>::from_data(TensorData::new(states, [count, hidden]), &device); // [S, H]
    let log_z = exact_log_partition(upper)?;
    let log_prior = to_host_f64(upper.free_energy(states.clone()).neg()); // [S], before - log Z
    let rows = data.dims()[0];
    let mut total = 0.0;
    for row in 0..rows {
        let v = data.clone().slice(row..row + 1); // [1, V]
        let v_rows = v.clone().repeat_dim(0, count); // [S, V]
        let log_q = to_host_f64(lower.log_posterior(v_rows.clone(), states.clone())?);
        let log_likelihood = to_host_f64(
            lower
                .visible_units
                .log_probability(v_rows, lower.visible_input(states.clone()))?,
        );
        for s in 0..count {
            let q = log_q[s].exp();
            if q > 0.0 {
                total += q * (log_likelihood[s] + log_prior[s] - log_z - log_q[s]);
            }
        }
    }
    Ok(total / rows as f64)
}

/// `lower` turned upside down ([`Rbm::transposed`]): as the second layer
/// of a DBN it makes the DBN's prior over the first hidden layer exactly
/// `lower`'s marginal (a complementary prior), which is where greedy
/// training of the second layer starts from.
pub fn transposed(lower: &Rbm) -> Rbm {
    lower.transposed()
}

/// A Monte Carlo estimate of the mean variational bound over a set of rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampledBound {
    /// Mean over the rows of each row's mean over its samples, in nats.
    pub mean: f64,
    /// The standard error of `mean` from the sampling of the hidden states
    /// alone (the rows are fixed): `sqrt(sum_i s_i^2 / K) / n`, with `s_i`
    /// the spread of row `i`'s `K` terms. Zero when `Q` is the exact
    /// posterior of the DBN (each term is then `log p(v)` itself).
    pub standard_error: f64,
}

/// Rows per chunk of [`sampled_variational_bound`] (times the samples per
/// row: the chunk's tensors are `[rows x samples, units]`).
const BOUND_CHUNK_ROWS: usize = 200;

/// The bound of [`variational_bound`], estimated by drawing `samples`
/// states `h ~ Q(h | v)` per row of `data` and averaging
/// `log p(v | h) + log p(h) - log Q(h | v)`, where `log p(h) = -F_upper(h)
/// - upper_log_z` (`upper_log_z` exact or by AIS: an error in it shifts
///   the bound by the same amount). Unbiased for the bound given
///   `upper_log_z`; no limit on the layers' sizes.
///
/// # Errors
/// Layers or data that do not fit, `samples` of 0, no rows, a result that
/// is not finite.
///
/// # Shapes
/// - data: `[n, lower.n_visible]`
pub fn sampled_variational_bound(
    lower: &Rbm,
    upper: &Rbm,
    upper_log_z: f64,
    data: &Tensor<2>,
    samples: usize,
    sampler: &mut Sampler,
) -> Result<SampledBound, DbnError> {
    if upper.n_visible() != lower.n_hidden() {
        return Err(DbnError::DataWidth {
            what: "upper RBM's visible layer",
            expected: lower.n_hidden(),
            found: upper.n_visible(),
        });
    }
    rbm::check_shape(data, lower.n_visible(), "bound data")?;
    if samples == 0 {
        return Err(DbnError::EmptyData {
            what: "posterior samples per row of the bound",
        });
    }
    let [rows, width] = data.dims();
    let (mut total, mut variance_sum) = (0.0, 0.0);
    for start in (0..rows).step_by(BOUND_CHUNK_ROWS) {
        let end = (start + BOUND_CHUNK_ROWS).min(rows);
        // Each row `samples` times in a row: [(end - start) * samples, V].
        let visible = data
            .clone()
            .slice(start..end)
            .unsqueeze_dim::<3>(1)
            .repeat_dim(1, samples)
            .reshape([(end - start) * samples, width]);
        let hidden = lower.sample_hidden(visible.clone(), sampler);
        let log_q = lower.log_posterior(visible.clone(), hidden.clone())?;
        let log_likelihood = lower
            .visible_units
            .log_probability(visible, lower.visible_input(hidden.clone()))?;
        let log_prior = upper.free_energy(hidden).neg();
        let terms = to_host_f64(log_likelihood + log_prior - log_q);
        for row in terms.chunks(samples) {
            let mean = row.iter().sum::<f64>() / samples as f64;
            total += mean - upper_log_z;
            if samples > 1 {
                variance_sum += row.iter().map(|t| (t - mean).powi(2)).sum::<f64>()
                    / (samples - 1) as f64
                    / samples as f64;
            }
        }
    }
    let mean = total / rows as f64;
    if !mean.is_finite() {
        return Err(RbmError::NotFinite {
            quantity: "sampled variational bound",
            value: mean,
        }
        .into());
    }
    Ok(SampledBound {
        mean,
        standard_error: variance_sum.sqrt() / rows as f64,
    })
}
