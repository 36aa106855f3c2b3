//! Exact partition functions, likelihoods and likelihood gradients by
//! enumerating every state of the smaller layer (feasible up to
//! [`MAX_ENUMERATED_UNITS`] units).

use burn::prelude::*;

use crate::error::RbmError;
use crate::gradient::ParameterTensors;
use crate::gradient::statistics;
use crate::math::{log_sum_exp, to_host_f64};
use crate::model::Rbm;
use crate::units::UnitKind;

/// The largest layer that exact enumeration accepts (2^25 states).
pub const MAX_ENUMERATED_UNITS: usize = 25;

/// States per chunk of the enumeration (bounds memory to chunk x width).
const CHUNK: usize = 1 << 14;

/// Which layer the enumeration sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enumerated {
    Visible,
    Hidden,
}

fn enumerated_layer(rbm: &Rbm) -> Result<(Enumerated, usize), RbmError> {
    let hidden_first = rbm.n_hidden() <= rbm.n_visible() || !rbm.visible_units.enumerable();
    let (side, units) = if rbm.hidden_units.enumerable() && hidden_first {
        (Enumerated::Hidden, rbm.n_hidden())
    } else if rbm.visible_units.enumerable() {
        (Enumerated::Visible, rbm.n_visible())
    } else {
        return Err(RbmError::Unsupported {
            what: "exact enumeration when neither layer has binary units",
        });
    };
    if units > MAX_ENUMERATED_UNITS {
        return Err(RbmError::TooLargeToEnumerate {
            max: MAX_ENUMERATED_UNITS,
            found: units,
        });
    }
    Ok((side, units))
}

/// Calls `visit(states, minus_free_energy)` for every chunk of the states
/// of the enumerated layer.
fn for_each_chunk(
    rbm: &Rbm,
    side: Enumerated,
    units: usize,
    mut visit: impl FnMut(Tensor<2>, Tensor<1>),
) {
    let device = rbm.weight.device();
    let kind = match side {
        Enumerated::Visible => rbm.visible_units,
        Enumerated::Hidden => rbm.hidden_units,
    };
    let total = 1usize << units;
    let mut start = 0;
    while start < total {
        let count = CHUNK.min(total - start);
        let states = Tensor::<2>::from_data(
            TensorData::new(kind.enumerate_states(units, start, count), [count, units]),
            &device,
        );
        let minus_free_energy = match side {
            Enumerated::Visible => rbm.free_energy(states.clone()).neg(),
            Enumerated::Hidden => rbm.hidden_free_energy(states.clone()).neg(),
        };
        visit(states, minus_free_energy);
        start += count;
    }
}

/// How many units exact enumeration would sum over for `rbm` (the smaller
/// enumerable layer; `2^units` states), without enumerating.
///
/// # Errors
/// As [`exact_log_partition`]: no binary layer, or one too large.
pub fn enumerated_units(rbm: &Rbm) -> Result<usize, RbmError> {
    enumerated_layer(rbm).map(|(_, units)| units)
}

/// `log Z`, exactly, by summing `exp(-F)` over every state of the smaller
/// layer (accumulated in f64).
pub fn exact_log_partition(rbm: &Rbm) -> Result<f64, RbmError> {
    let (side, units) = enumerated_layer(rbm)?;
    let mut values = Vec::with_capacity(1 << units);
    for_each_chunk(rbm, side, units, |_, minus_free_energy| {
        values.extend(to_host_f64(minus_free_energy));
    });
    Ok(log_sum_exp(&values))
}

/// Mean log-likelihood per row, `mean(-F(v)) - log Z`, in nats.
///
/// # Shapes
/// - data: `[n, n_visible]`
pub fn exact_log_likelihood(rbm: &Rbm, data: &Tensor<2>) -> Result<f64, RbmError> {
    let log_z = exact_log_partition(rbm)?;
    let minus_free_energy = rbm
        .free_energy(data.clone())
        .neg()
        .mean()
        .into_scalar::<f32>() as f64;
    Ok(minus_free_energy - log_z)
}

/// The model's expectations `<v h^T>`, `<v>`, `<h>`, exactly (binary
/// units only: [`RbmError::Unsupported`] otherwise).
pub fn exact_model_statistics(rbm: &Rbm) -> Result<ParameterTensors, RbmError> {
    if rbm.visible_units != UnitKind::Bernoulli || rbm.hidden_units != UnitKind::Bernoulli {
        return Err(RbmError::Unsupported {
            what: "exact model statistics for RBMs whose units are not all binary",
        });
    }
    let (side, units) = enumerated_layer(rbm)?;
    let log_z = exact_log_partition(rbm)?;
    let mut sum: Option<ParameterTensors> = None;
    for_each_chunk(rbm, side, units, |states, minus_free_energy| {
        // p(state) as a column, [count, 1]
        let probability = (minus_free_energy - log_z).exp().unsqueeze_dim::<2>(1);
        let (visible, hidden) = match side {
            Enumerated::Visible => {
                let hidden = rbm.hidden_given_visible(states.clone());
                (states, hidden)
            }
            Enumerated::Hidden => {
                let visible = rbm.visible_given_hidden(states.clone());
                (visible, states)
            }
        };
        // Weighting the visible rows by p(state) weights <v h^T> and <v>;
        // <h> needs the same weights on the hidden rows.
        let hidden_bias = (hidden.clone() * probability.clone())
            .sum_dim(0)
            .squeeze_dim::<1>(0);
        let chunk = ParameterTensors {
            hidden_bias,
            ..statistics(visible * probability, hidden, 1.0)
        };
        sum = Some(match sum.take() {
            Some(s) => add(s, chunk),
            None => chunk,
        });
    });
    Ok(sum.expect("at least one chunk"))
}

/// The data's expectations `<v E[h|v]^T>`, `<v>`, `<E[h|v]>` (means over rows).
///
/// # Shapes
/// - data: `[n, n_visible]`
pub fn data_statistics(rbm: &Rbm, data: &Tensor<2>) -> ParameterTensors {
    let rows = data.dims()[0];
    let hidden = rbm.hidden_given_visible(data.clone());
    statistics(data.clone(), hidden, 1.0 / rows as f64)
}

/// The exact gradient of the mean log-likelihood of `data`:
/// data statistics minus model statistics.
pub fn exact_log_likelihood_gradient(
    rbm: &Rbm,
    data: &Tensor<2>,
) -> Result<ParameterTensors, RbmError> {
    let model = exact_model_statistics(rbm)?;
    Ok(subtract(data_statistics(rbm, data), model))
}

pub(crate) fn add(a: ParameterTensors, b: ParameterTensors) -> ParameterTensors {
    ParameterTensors {
        weight: a.weight + b.weight,
        visible_bias: a.visible_bias + b.visible_bias,
        hidden_bias: a.hidden_bias + b.hidden_bias,
    }
}

pub(crate) fn subtract(a: ParameterTensors, b: ParameterTensors) -> ParameterTensors {
    ParameterTensors {
        weight: a.weight - b.weight,
        visible_bias: a.visible_bias - b.visible_bias,
        hidden_bias: a.hidden_bias - b.hidden_bias,
    }
}
