//! Annealed importance sampling for log Z (Salakhutdinov & Murray 2008).
//!
//! The base model A has the data's visible marginals as its visible biases
//! and hidden units with no weights or biases, so for binary units
//! `log Z_A = sum_i log(1 + exp(b_A_i)) + n_hidden log 2` exactly.
//! The intermediate distributions (hidden units summed out) are, for binary units,
//! `log p*_beta(v) = (1 - beta) v.b_A + beta v.b_B + sum_j softplus(beta (v W + c)_j)`,
//! and each transition is one Gibbs sweep that leaves `p_beta` invariant.
//! Other units replace `softplus` by their log partition function and
//! add their own energy of `v` (`v^2 / 2` for Gaussian units, in their
//! normalised coordinates), the same at every `beta`.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::check_shape;
use crate::error::ConfigError;
use crate::error::RbmError;
use crate::math::{matmul, to_host_f64};
use crate::model::Rbm;
use crate::sampler::Sampler;
use crate::units::UnitKind;

/// How AIS runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AisConfig {
    /// Independent annealing runs (M), run in parallel as one batch.
    pub runs: usize,
    /// Inverse temperatures, strictly increasing from 0 to 1 inclusive.
    pub betas: Vec<f64>,
    pub seed: u64,
}

impl AisConfig {
    /// The schedule of Salakhutdinov & Murray (2008): 500 steps on [0, 0.5),
    /// 4,000 on [0.5, 0.9), 10,000 on [0.9, 1], 14,501 temperatures in all.
    pub fn paper(runs: usize, seed: u64) -> Self {
        let mut betas = Vec::with_capacity(14_501);
        for (start, end, steps) in [(0.0, 0.5, 500), (0.5, 0.9, 4_000), (0.9, 1.0, 10_000)] {
            betas.extend((0..steps).map(|i| start + (end - start) * i as f64 / steps as f64));
        }
        betas.push(1.0);
        Self { runs, betas, seed }
    }

    /// `steps + 1` equally spaced temperatures from 0 to 1.
    pub fn linear(runs: usize, steps: usize, seed: u64) -> Self {
        let betas = (0..=steps)
            .map(|i| i as f64 / steps.max(1) as f64)
            .collect();
        Self { runs, betas, seed }
    }

    /// Checks the number of runs and the schedule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.runs == 0 {
            return Err(ConfigError::ZeroAisRuns);
        }
        let problem = if self.betas.len() < 2 {
            Some("fewer than two temperatures".to_string())
        } else if self.betas[0] != 0.0 {
            Some(format!("first is {}, not 0", self.betas[0]))
        } else if *self.betas.last().expect("len >= 2") != 1.0 {
            Some(format!(
                "last is {}, not 1",
                self.betas.last().expect("len >= 2")
            ))
        } else {
            self.betas
                .windows(2)
                .position(|w| w[1] <= w[0] || !w[1].is_finite())
                .map(|i| {
                    format!(
                        "beta[{}] = {} does not exceed beta[{}] = {}",
                        i + 1,
                        self.betas[i + 1],
                        i,
                        self.betas[i]
                    )
                })
        };
        match problem {
            Some(problem) => Err(ConfigError::InvalidAisSchedule { problem }),
            None => Ok(()),
        }
    }
}

/// An AIS estimate of log Z with its uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AisEstimate {
    /// log of the mean importance weight, plus log Z_A.
    pub log_z: f64,
    /// log(mean - 3 standard errors) of the weights, plus log Z_A
    /// (negative infinity when the band reaches zero).
    pub log_z_low: f64,
    /// log(mean + 3 standard errors) of the weights, plus log Z_A.
    pub log_z_high: f64,
    /// log Z of the base model (including its uncoupled hidden units).
    pub log_z_base: f64,
    /// Kish's effective number of runs, `(sum w)^2 / sum w^2` over the
    /// importance weights: near `runs` when they agree, near 1 when one run
    /// dominates (the estimate is then unreliable, and usually low).
    pub effective_runs: f64,
    /// Each run's log importance weight.
    pub log_weights: Vec<f64>,
}

/// Base-rate visible biases: `log(p / (1 - p))` of the data's per-unit
/// means, smoothed as `p = (sum + 0.5) / (rows + 1)` so that no bias is infinite.
/// For binary visible units; [`base_model_biases`] covers every unit kind
/// AIS supports.
///
/// # Shapes
/// - data: `[n, n_visible]` -> `[n_visible]`
pub fn base_rate_biases(data: &Tensor<2>) -> Tensor<1> {
    let rows = data.dims()[0] as f64;
    let p = (data.clone().sum_dim(0).squeeze_dim::<1>(0) + 0.5) / (rows + 1.0);
    p.clone().log() - p.neg().add_scalar(1.0).log()
}

/// The visible biases of the base model A that gives each visible unit of
/// `rbm` the data's mean, in the units' own coordinates (what
/// [`ais_log_partition`] takes): [`base_rate_biases`] for binary units;
/// the mean of `v / sigma` for Gaussian units (A is then `N(mean, sigma^2)`
/// in data coordinates); for a softmax group, the log of each category's
/// smoothed frequency `(count + 0.5) / (rows + group / 2)`.
///
/// # Errors
/// Data of another width, no rows, or units AIS does not support
/// (see [`ais_log_partition`]).
///
/// # Shapes
/// - data: `[n, n_visible]` -> `[n_visible]`
pub fn base_model_biases(rbm: &Rbm, data: &Tensor<2>) -> Result<Tensor<1>, RbmError> {
    check_ais_units(rbm)?;
    check_shape(data, rbm.n_visible(), "AIS base-model data")?;
    let [rows, width] = data.dims();
    Ok(match rbm.visible_units {
        UnitKind::Gaussian => rbm
            .normalize_visible(data.clone())
            .mean_dim(0)
            .squeeze_dim::<1>(0),
        UnitKind::BinaryWithSoftmax { group } => {
            let binary = base_rate_biases(&data.clone().slice([0..rows, 0..width - group]));
            let counts = data
                .clone()
                .slice([0..rows, width - group..width])
                .sum_dim(0)
                .squeeze_dim::<1>(0);
            let frequencies = (counts + 0.5) / (rows as f64 + group as f64 / 2.0);
            Tensor::cat(vec![binary, frequencies.log()], 0)
        }
        _ => base_rate_biases(data),
    })
}

/// Which layer AIS anneals over; the other is summed (or integrated) out
/// in closed form. Both estimate the same log Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AisSide {
    /// Over the visible units, from the data's base rates (Salakhutdinov &
    /// Murray 2008).
    #[default]
    Visible,
    /// Over the hidden units (AIS on the transposed RBM), from the base
    /// rates of the hidden units' conditional means given the data. Which
    /// side serves better depends on the model: on `bound --preset mnist`'s
    /// 784-500 RBMs this one (26-45 effective runs of 100 against 4-14
    /// over the pixels), on a 784-15 RBM the pixels (a band of 0.07 nats
    /// against 0.18).
    Hidden,
}

/// AIS for `rbm`'s log Z from the base model of `data`'s means, over the
/// layer `side` names ([`base_model_biases`] of the data, or of
/// `E[h | v]` over the data for the hidden side).
///
/// # Errors
/// As [`ais_log_partition`] and [`base_model_biases`], for the model as
/// annealed (on the hidden side, its transpose: stepped-sigmoid hidden
/// units are then refused as visible ones).
///
/// # Shapes
/// - data: `[n, n_visible]`
pub fn ais_log_partition_from_data(
    rbm: &Rbm,
    data: &Tensor<2>,
    side: AisSide,
    config: &AisConfig,
) -> Result<AisEstimate, RbmError> {
    match side {
        AisSide::Visible => ais_log_partition(rbm, base_model_biases(rbm, data)?, config),
        AisSide::Hidden => {
            check_shape(data, rbm.n_visible(), "AIS base-model data")?;
            let upside_down = rbm.transposed();
            let means = rbm.hidden_given_visible(data.clone());
            let base = base_model_biases(&upside_down, &means)?;
            ais_log_partition(&upside_down, base, config)
        }
    }
}

/// Refuses the units whose Gibbs sampler and free energy describe
/// different models, so that AIS's transitions would not leave its
/// intermediate distributions invariant.
fn check_ais_units(rbm: &Rbm) -> Result<(), RbmError> {
    if rbm.visible_units == UnitKind::NoisyRectified || rbm.hidden_units == UnitKind::NoisyRectified
    {
        return Err(RbmError::Unsupported {
            what: "AIS for NReLU units (their sampler only approximates the model of their free energy)",
        });
    }
    if let UnitKind::SteppedSigmoid { .. } = rbm.visible_units {
        return Err(RbmError::Unsupported {
            what: "AIS for stepped-sigmoid visible units (their free energy as a visible layer is approximate)",
        });
    }
    Ok(())
}

/// Estimates `log Z` of `rbm` by AIS from the base model with visible
/// biases `base_visible_bias` in the units' own coordinates (see
/// [`base_model_biases`]; any finite biases give an unbiased estimate of
/// Z, the data's means a precise one).
///
/// The family of distributions, for every unit kind on either side: at
/// inverse temperature `beta` the visible biases are `(1 - beta) b_A + beta
/// b_B` and the weights and hidden biases are scaled by `beta`; hidden
/// units are summed out with their own log partition function, and each
/// transition is one Gibbs sweep at `beta` with the units' own samplers.
/// Supported: binary, Gaussian and binary-with-softmax visible units;
/// binary, Gaussian, stepped-sigmoid and binary-with-softmax hidden units.
///
/// # Errors
/// An invalid schedule, NReLU units on either side or stepped-sigmoid
/// visible units ([`RbmError::Unsupported`]), biases of another width, an
/// estimate that is not finite.
///
/// # Shapes
/// - base_visible_bias: `[n_visible]`
pub fn ais_log_partition(
    rbm: &Rbm,
    base_visible_bias: Tensor<1>,
    config: &AisConfig,
) -> Result<AisEstimate, RbmError> {
    config.validate()?;
    check_ais_units(rbm)?;
    let n_visible = rbm.n_visible();
    if base_visible_bias.dims()[0] != n_visible {
        return Err(RbmError::DataWidth {
            what: "AIS base-rate biases",
            expected: n_visible,
            found: base_visible_bias.dims()[0],
        });
    }
    let (visible_units, hidden_units) = (rbm.visible_units, rbm.hidden_units);
    let mut sampler = Sampler::new(config.seed);
    let device = rbm.weight.device();
    let weight = rbm.weight.val();
    let weight_t = weight.clone().transpose();
    let hidden_bias = rbm.hidden_bias.val().unsqueeze::<2>();
    let bias_a = base_visible_bias.unsqueeze::<2>(); // [1, n_visible]
    let bias_b = rbm.normalized_visible_bias().unsqueeze::<2>();
    let bias_diff = (bias_b.clone() - bias_a.clone()).transpose(); // [n_visible, 1]
    // At beta = 0 the hidden units are still there, uncoupled and without
    // biases: Z_0 = Z_A times each hidden unit's partition function at input 0.
    let log_z_base = host_sum(visible_units.log_partition_terms(bias_a.clone()))
        + host_sum(hidden_units.log_partition_terms(Tensor::zeros([1, rbm.n_hidden()], &device)));

    // v ~ p_A: the visible units' own distribution with input b_A.
    let base_input = bias_a.clone().repeat_dim(0, config.runs); // [runs, n_visible]
    let base_mean = visible_units.mean(base_input.clone());
    let mut visible = visible_units.sample(base_input, base_mean, &mut sampler);
    // Increments are summed on the device in blocks, and the blocks on the
    // host in f64, so that f32 rounding does not build up over 10^4 steps.
    let mut log_weights = vec![0.0f64; config.runs];
    let mut block = Tensor::<1>::zeros([config.runs], &device);
    for (step, pair) in config.betas.windows(2).enumerate() {
        let (previous, beta) = (pair[0], pair[1]);
        let input = matmul(visible.clone(), weight.clone()) + hidden_bias.clone(); // [runs, n_hidden]
        // log p*_beta(v) - log p*_previous(v), with v the state before the
        // transition; the visible units' quadratic energies cancel.
        let visible_term =
            matmul(visible.clone(), bias_diff.clone()).squeeze_dim::<1>(1) * (beta - previous);
        let hidden_term = (hidden_units.log_partition_terms(input.clone() * beta)
            - hidden_units.log_partition_terms(input.clone() * previous))
        .sum_dim(1)
        .squeeze_dim::<1>(1);
        block = block + visible_term + hidden_term;
        if step % 256 == 255 || beta >= 1.0 {
            for (total, part) in log_weights.iter_mut().zip(to_host_f64(block)) {
                *total += part;
            }
            block = Tensor::<1>::zeros([config.runs], &device);
        }
        if beta < 1.0 {
            // One Gibbs sweep that leaves p_beta invariant.
            let hidden_input = input * beta;
            let hidden_mean = hidden_units.mean(hidden_input.clone());
            let hidden = hidden_units.sample(hidden_input, hidden_mean, &mut sampler);
            let visible_input = bias_a.clone() * (1.0 - beta)
                + (matmul(hidden, weight_t.clone()) + bias_b.clone()) * beta;
            let visible_mean = visible_units.mean(visible_input.clone());
            visible = visible_units.sample(visible_input, visible_mean, &mut sampler);
        }
    }
    let estimate = summarise(log_weights, log_z_base);
    if !estimate.log_z.is_finite() {
        return Err(RbmError::NotFinite {
            quantity: "AIS estimate of log Z",
            value: estimate.log_z,
        });
    }
    Ok(estimate)
}

/// The sum of every element, on the host in f64.
fn host_sum(values: Tensor<2>) -> f64 {
    to_host_f64(values.flatten::<1>(0, 1)).iter().sum()
}

fn summarise(log_weights: Vec<f64>, log_z_base: f64) -> AisEstimate {
    let max = log_weights
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let ratios: Vec<f64> = log_weights.iter().map(|w| (w - max).exp()).collect();
    let n = ratios.len() as f64;
    let mean = ratios.iter().sum::<f64>() / n;
    let variance = if ratios.len() > 1 {
        ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let standard_error = (variance / n).sqrt();
    let effective_runs =
        ratios.iter().sum::<f64>().powi(2) / ratios.iter().map(|r| r * r).sum::<f64>();
    let shift = max + log_z_base;
    let low = mean - 3.0 * standard_error;
    AisEstimate {
        log_z: mean.ln() + shift,
        log_z_low: if low > 0.0 {
            low.ln() + shift
        } else {
            f64::NEG_INFINITY
        },
        log_z_high: (mean + 3.0 * standard_error).ln() + shift,
        log_z_base,
        effective_runs,
        log_weights,
    }
}

/// Mean log-likelihood per row of `data` given a log Z estimate:
/// `mean(-F(v)) - log Z`, in nats. Data are processed in chunks of 1,000 rows.
/// A result that is not finite (NaN weights, a broken log Z) is an error,
/// never a number.
///
/// # Shapes
/// - data: `[n, n_visible]`
pub fn mean_log_likelihood(rbm: &Rbm, data: &Tensor<2>, log_z: f64) -> Result<f64, RbmError> {
    check_shape(data, rbm.n_visible(), "log-likelihood data")?;
    let rows = data.dims()[0];
    let mut total = 0.0;
    let mut start = 0;
    while start < rows {
        let end = (start + 1000).min(rows);
        let chunk = data.clone().slice(start..end);
        total += rbm.free_energy(chunk).neg().sum().into_scalar::<f32>() as f64;
        start = end;
    }
    let mean = total / rows as f64 - log_z;
    if !mean.is_finite() {
        return Err(RbmError::NotFinite {
            quantity: "mean log-likelihood",
            value: mean,
        });
    }
    Ok(mean)
}
