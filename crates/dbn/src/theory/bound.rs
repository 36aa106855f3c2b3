//! The variational lower bound on `log p(v)` of a two-layer DBN, exactly,
//! for models small enough to enumerate the first hidden layer: the
//! quantity that greedy training improves (HOT 2006, section 4).

use burn::prelude::*;
use rbm::{MAX_ENUMERATED_UNITS, Rbm, RbmError, exact_log_partition, math::to_host_f64};

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

/// `lower` turned upside down: visible and hidden swapped, `W^T`, biases
/// swapped. As the second layer of a DBN it makes the DBN's prior over the
/// first hidden layer exactly `lower`'s marginal (a complementary prior),
/// which is where greedy training of the second layer starts from.
pub fn transposed(lower: &Rbm) -> Rbm {
    let mut upper = rbm::RbmConfig::new(lower.n_hidden(), lower.n_visible())
        .with_visible_units(lower.hidden_units)
        .with_hidden_units(lower.visible_units)
        .init(&lower.weight.device(), 0);
    upper.weight = upper.weight.map(|_| lower.weight.val().transpose());
    upper.visible_bias = upper.visible_bias.map(|_| lower.hidden_bias.val());
    upper.hidden_bias = upper.hidden_bias.map(|_| lower.visible_bias.val());
    upper
}
