//! Annealed importance sampling for log Z (Salakhutdinov & Murray 2008).
//!
//! The base model A has the data's visible marginals as its visible biases
//! and hidden units with no weights or biases, so
//! `log Z_A = sum_i log(1 + exp(b_A_i)) + n_hidden log 2` exactly.
//! The intermediate distributions (hidden units summed out) are
//! `log p*_beta(v) = (1 - beta) v.b_A + beta v.b_B + sum_j softplus(beta (v W + c)_j)`,
//! and each transition is one Gibbs sweep that leaves `p_beta` invariant.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::error::RbmError;
use crate::math::{logistic, matmul, softplus, to_host_f64};
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
    /// log Z of the base-rate model (including its uncoupled hidden units).
    pub log_z_base: f64,
    /// Each run's log importance weight.
    pub log_weights: Vec<f64>,
}

/// Base-rate visible biases: `log(p / (1 - p))` of the data's per-unit
/// means, smoothed as `p = (sum + 0.5) / (rows + 1)` so that no bias is infinite.
///
/// # Shapes
/// - data: `[n, n_visible]` -> `[n_visible]`
pub fn base_rate_biases(data: &Tensor<2>) -> Tensor<1> {
    let rows = data.dims()[0] as f64;
    let p = (data.clone().sum_dim(0).squeeze_dim::<1>(0) + 0.5) / (rows + 1.0);
    p.clone().log() - p.neg().add_scalar(1.0).log()
}

/// Estimates `log Z` of `rbm` by AIS from the base-rate model with visible
/// biases `base_visible_bias` (see [`base_rate_biases`]).
///
/// Only binary visible units are supported for now: the base model and the
/// transitions are those of Salakhutdinov & Murray for binary RBMs.
pub fn ais_log_partition(
    rbm: &Rbm,
    base_visible_bias: Tensor<1>,
    config: &AisConfig,
) -> Result<AisEstimate, RbmError> {
    config.validate()?;
    if rbm.visible_units != UnitKind::Bernoulli || rbm.hidden_units != UnitKind::Bernoulli {
        return Err(RbmError::Unsupported {
            what: "AIS for RBMs whose units are not all binary",
        });
    }
    let n_visible = rbm.n_visible();
    if base_visible_bias.dims()[0] != n_visible {
        return Err(RbmError::DataWidth {
            what: "AIS base-rate biases",
            expected: n_visible,
            found: base_visible_bias.dims()[0],
        });
    }
    let mut sampler = Sampler::new(config.seed);
    let device = rbm.weight.device();
    let weight = rbm.weight.val();
    let weight_t = weight.clone().transpose();
    let hidden_bias = rbm.hidden_bias.val().unsqueeze::<2>();
    let bias_a = base_visible_bias.clone().unsqueeze::<2>(); // [1, n_visible]
    let bias_b = rbm.visible_bias.val().unsqueeze::<2>();
    let bias_diff = (bias_b.clone() - bias_a.clone()).transpose(); // [n_visible, 1]
    // At beta = 0 the hidden units are still there, uncoupled: each
    // contributes softplus(0) = ln 2 to log p*_0, so Z_0 = Z_A * 2^n_hidden.
    let log_z_base = to_host_f64(softplus(base_visible_bias).sum())[0]
        + rbm.n_hidden() as f64 * std::f64::consts::LN_2;

    // v ~ p_A: independent Bernoulli(sigmoid(b_A)).
    let base_mean = logistic(bias_a.clone()).repeat_dim(0, config.runs);
    let mut visible = sampler.bernoulli(base_mean);
    // Increments are summed on the device in blocks, and the blocks on the
    // host in f64, so that f32 rounding does not build up over 10^4 steps.
    let mut log_weights = vec![0.0f64; config.runs];
    let mut block = Tensor::<1>::zeros([config.runs], &device);
    for (step, pair) in config.betas.windows(2).enumerate() {
        let (previous, beta) = (pair[0], pair[1]);
        let input = matmul(visible.clone(), weight.clone()) + hidden_bias.clone(); // [runs, n_hidden]
        // log p*_beta(v) - log p*_previous(v), with v the state before the transition.
        let visible_term =
            matmul(visible.clone(), bias_diff.clone()).squeeze_dim::<1>(1) * (beta - previous);
        let hidden_term = (softplus(input.clone() * beta) - softplus(input.clone() * previous))
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
            let hidden = sampler.bernoulli(logistic(input * beta));
            let visible_input = bias_a.clone() * (1.0 - beta)
                + (matmul(hidden, weight_t.clone()) + bias_b.clone()) * beta;
            visible = sampler.bernoulli(logistic(visible_input));
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
    let [rows, width] = data.dims();
    if width != rbm.n_visible() {
        return Err(RbmError::DataWidth {
            what: "log-likelihood data",
            expected: rbm.n_visible(),
            found: width,
        });
    }
    if rows == 0 {
        return Err(RbmError::EmptyData {
            what: "log-likelihood data",
        });
    }
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
