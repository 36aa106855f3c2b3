//! An RBM is an infinite sigmoid belief net with tied weights (lecture
//! 14e; Hinton, Osindero & Teh 2006, section 2), measured exactly on RBMs
//! small enough to enumerate.
//!
//! The directed net has layers `... h1 -> v1 -> h0 -> v0`: a hidden-type
//! layer generates the visible-type layer below it with `p(v | h)` (weights
//! `W`), a visible-type layer generates the hidden-type layer below it with
//! `p(h | v)` (weights `W^T`). Every quantity here is a sum over all states,
//! in f64 on the host: no sampling, so each statement is checked to
//! rounding error.

use rbm::{Rbm, UnitKind, math::to_host_f64};

use crate::error::DbnError;

/// The most units per layer [`TiedNet`] enumerates (2^12 states).
pub const MAX_TIED_UNITS: usize = 12;

/// An RBM's parameters on the host, with its conditional tables.
#[derive(Debug, Clone)]
pub struct TiedNet {
    pub n_visible: usize,
    pub n_hidden: usize,
    /// `p(h | v)`: row `v` (a visible state's index, bit `i` = unit `i`),
    /// column `h`; `[2^n_visible x 2^n_hidden]`, rows sum to 1.
    hidden_given_visible: Vec<f64>,
    /// `p(v | h)`: `[2^n_hidden x 2^n_visible]`.
    visible_given_hidden: Vec<f64>,
    /// The RBM's unnormalised `log p*(v, h) = -E(v, h)`, `[2^nv x 2^nh]`.
    log_joint: Vec<f64>,
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn bit(state: usize, unit: usize) -> f64 {
    ((state >> unit) & 1) as f64
}

/// The probability of the factorial binary `state` of units with
/// probabilities `on`.
fn factorial(on: &[f64], state: usize) -> f64 {
    on.iter()
        .enumerate()
        .map(|(unit, &p)| if (state >> unit) & 1 == 1 { p } else { 1.0 - p })
        .product()
}

/// `distribution` (over `from` states) times the row-stochastic `table`
/// (`[from x to]`): the distribution one directed layer down.
fn propagate(distribution: &[f64], table: &[f64], to: usize) -> Vec<f64> {
    let mut out = vec![0.0; to];
    for (from, &p) in distribution.iter().enumerate() {
        if p == 0.0 {
            continue;
        }
        for (o, &t) in out.iter_mut().zip(&table[from * to..(from + 1) * to]) {
            *o += p * t;
        }
    }
    out
}

/// Half the L1 distance between two distributions.
pub fn total_variation(a: &[f64], b: &[f64]) -> f64 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>()
}

impl TiedNet {
    /// The tied net of a binary RBM with at most [`MAX_TIED_UNITS`] units
    /// per layer.
    pub fn from_rbm(rbm: &Rbm) -> Result<Self, DbnError> {
        if rbm.visible_units != UnitKind::Bernoulli || rbm.hidden_units != UnitKind::Bernoulli {
            return Err(DbnError::BadTop(
                "the tied sigmoid belief net needs binary units on both sides".into(),
            ));
        }
        let (nv, nh) = (rbm.n_visible(), rbm.n_hidden());
        for size in [nv, nh] {
            if size > MAX_TIED_UNITS {
                return Err(rbm::RbmError::TooLargeToEnumerate {
                    max: MAX_TIED_UNITS,
                    found: size,
                }
                .into());
            }
        }
        let weight = to_host_f64(rbm.weight.val().reshape([nv * nh])); // row-major [nv, nh]
        let visible_bias = to_host_f64(rbm.visible_bias.val());
        let hidden_bias = to_host_f64(rbm.hidden_bias.val());
        Ok(Self::from_parameters(
            nv,
            nh,
            &weight,
            &visible_bias,
            &hidden_bias,
        ))
    }

    /// The tied net of the binary RBM with these parameters (`weight`
    /// row-major `[n_visible, n_hidden]`).
    ///
    /// # Panics
    /// If a length does not match the sizes, or a size exceeds [`MAX_TIED_UNITS`].
    pub fn from_parameters(
        n_visible: usize,
        n_hidden: usize,
        weight: &[f64],
        visible_bias: &[f64],
        hidden_bias: &[f64],
    ) -> Self {
        assert!(n_visible <= MAX_TIED_UNITS && n_hidden <= MAX_TIED_UNITS);
        assert_eq!(weight.len(), n_visible * n_hidden);
        assert_eq!(visible_bias.len(), n_visible);
        assert_eq!(hidden_bias.len(), n_hidden);
        let (states_v, states_h) = (1usize << n_visible, 1usize << n_hidden);
        let w = |i: usize, j: usize| weight[i * n_hidden + j];
        let mut hidden_given_visible = Vec::with_capacity(states_v * states_h);
        for v in 0..states_v {
            let on: Vec<f64> = (0..n_hidden)
                .map(|j| {
                    logistic(
                        hidden_bias[j] + (0..n_visible).map(|i| bit(v, i) * w(i, j)).sum::<f64>(),
                    )
                })
                .collect();
            hidden_given_visible.extend((0..states_h).map(|h| factorial(&on, h)));
        }
        let mut visible_given_hidden = Vec::with_capacity(states_h * states_v);
        for h in 0..states_h {
            let on: Vec<f64> = (0..n_visible)
                .map(|i| {
                    logistic(
                        visible_bias[i] + (0..n_hidden).map(|j| bit(h, j) * w(i, j)).sum::<f64>(),
                    )
                })
                .collect();
            visible_given_hidden.extend((0..states_v).map(|v| factorial(&on, v)));
        }
        let mut log_joint = Vec::with_capacity(states_v * states_h);
        for v in 0..states_v {
            for h in 0..states_h {
                let mut value = 0.0;
                for (i, b) in visible_bias.iter().enumerate() {
                    value += bit(v, i) * b;
                    for j in 0..n_hidden {
                        value += bit(v, i) * bit(h, j) * w(i, j);
                    }
                }
                for (j, b) in hidden_bias.iter().enumerate() {
                    value += bit(h, j) * b;
                }
                log_joint.push(value);
            }
        }
        Self {
            n_visible,
            n_hidden,
            hidden_given_visible,
            visible_given_hidden,
            log_joint,
        }
    }

    pub fn visible_states(&self) -> usize {
        1 << self.n_visible
    }

    pub fn hidden_states(&self) -> usize {
        1 << self.n_hidden
    }

    /// The RBM's exact joint `p(v, h)`, `[2^nv x 2^nh]`.
    pub fn rbm_joint(&self) -> Vec<f64> {
        let max = self
            .log_joint
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let unnormalised: Vec<f64> = self.log_joint.iter().map(|l| (l - max).exp()).collect();
        let total: f64 = unnormalised.iter().sum();
        unnormalised.into_iter().map(|p| p / total).collect()
    }

    /// The RBM's exact marginal `p(v)`.
    pub fn rbm_visible(&self) -> Vec<f64> {
        let joint = self.rbm_joint();
        joint
            .chunks(self.hidden_states())
            .map(|row| row.iter().sum())
            .collect()
    }

    /// The RBM's exact marginal `p(h)`.
    pub fn rbm_hidden(&self) -> Vec<f64> {
        let joint = self.rbm_joint();
        let mut out = vec![0.0; self.hidden_states()];
        for row in joint.chunks(self.hidden_states()) {
            for (o, p) in out.iter_mut().zip(row) {
                *o += p;
            }
        }
        out
    }

    /// The row `p(h | v)` of the conditional table.
    pub fn posterior(&self, v: usize) -> &[f64] {
        let nh = self.hidden_states();
        &self.hidden_given_visible[v * nh..(v + 1) * nh]
    }

    /// The distribution over `v0` that the directed net of `layers` tied
    /// layers generates from `top`, a distribution over its top layer: a
    /// hidden-type layer for odd `layers`, a visible-type one for even
    /// (`layers = 0`: `top` is returned).
    ///
    /// # Panics
    /// If `top` has the wrong number of states for that layer type.
    pub fn generate(&self, top: &[f64], layers: usize) -> Vec<f64> {
        let expected = if layers % 2 == 1 {
            self.hidden_states()
        } else {
            self.visible_states()
        };
        assert_eq!(top.len(), expected, "the top distribution's size");
        let mut distribution = top.to_vec();
        for layer in (0..layers).rev() {
            distribution = if layer % 2 == 0 {
                // A hidden-type layer generates v below it with W.
                propagate(
                    &distribution,
                    &self.visible_given_hidden,
                    self.visible_states(),
                )
            } else {
                propagate(
                    &distribution,
                    &self.hidden_given_visible,
                    self.hidden_states(),
                )
            };
        }
        distribution
    }

    /// The distribution at `h0` (the hidden-type layer above `v0`) that the
    /// directed net generates from `top_visible`, a distribution over a
    /// visible-type top layer `2 * pairs` layers above `v1`: the prior over
    /// `h0` of a net of `2 * pairs + 1` layers above `h0`.
    pub fn generate_hidden(&self, top_visible: &[f64], pairs: usize) -> Vec<f64> {
        let v1 = self.generate(top_visible, 2 * pairs);
        propagate(&v1, &self.hidden_given_visible, self.hidden_states())
    }

    /// The posterior over `h0` given `v0` in the directed net whose prior
    /// over `h0` is `prior` (the distribution the layers above generate at
    /// `h0`): `prior(h0) p(v0 | h0)`, normalised.
    pub fn directed_posterior(&self, prior: &[f64], v: usize) -> Vec<f64> {
        let nv = self.visible_states();
        let unnormalised: Vec<f64> = prior
            .iter()
            .enumerate()
            .map(|(h, p)| p * self.visible_given_hidden[h * nv + v])
            .collect();
        let total: f64 = unnormalised.iter().sum();
        unnormalised.into_iter().map(|p| p / total).collect()
    }

    /// `E[v_i h_j]` under a joint over `(v, h)` laid out `[2^nv x 2^nh]`,
    /// row-major `[n_visible, n_hidden]`.
    fn pair_statistics(&self, joint: &[f64]) -> Vec<f64> {
        let nh_states = self.hidden_states();
        let mut out = vec![0.0; self.n_visible * self.n_hidden];
        let mut hidden_means = vec![0.0; self.n_hidden];
        for (v, row) in joint.chunks(nh_states).enumerate() {
            // sum_h J(v, h) h_j, then times v_i.
            hidden_means.iter_mut().for_each(|m| *m = 0.0);
            for (h, &p) in row.iter().enumerate() {
                if p != 0.0 {
                    for (j, m) in hidden_means.iter_mut().enumerate() {
                        if (h >> j) & 1 == 1 {
                            *m += p;
                        }
                    }
                }
            }
            for i in 0..self.n_visible {
                if (v >> i) & 1 == 1 {
                    for (o, m) in out[i * self.n_hidden..(i + 1) * self.n_hidden]
                        .iter_mut()
                        .zip(&hidden_means)
                    {
                        *o += m;
                    }
                }
            }
        }
        out
    }

    /// The exact Boltzmann gradient of the mean log-likelihood of `data`
    /// (a distribution over visible states) with respect to `W`:
    /// `<v h>_data - <v h>_model`, row-major `[n_visible, n_hidden]`.
    pub fn boltzmann_gradient(&self, data: &[f64]) -> Vec<f64> {
        let positive = self.pair_statistics(&self.data_joint(data));
        let negative = self.pair_statistics(&self.rbm_joint());
        positive.iter().zip(&negative).map(|(p, n)| p - n).collect()
    }

    /// `data(v) p(h | v)` as a joint `[2^nv x 2^nh]`.
    fn data_joint(&self, data: &[f64]) -> Vec<f64> {
        assert_eq!(
            data.len(),
            self.visible_states(),
            "the data distribution's size"
        );
        let nh = self.hidden_states();
        let mut joint = Vec::with_capacity(data.len() * nh);
        for (v, &p) in data.iter().enumerate() {
            joint.extend(self.posterior(v).iter().map(|q| p * q));
        }
        joint
    }

    /// The sigmoid-belief-net learning rule `s_j (s_i - p_i)` for the
    /// tied weight, in exact expectation over the posterior of the infinite
    /// net (`v0 ~ data`, `h0 ~ p(h | v0)`, `v1 ~ p(v | h0)`, ...), summed
    /// over the lowest `layers` directed layers, row-major
    /// `[n_visible, n_hidden]`. Layer `h_k -> v_k` contributes
    /// `<v_k h_k> - <v_{k+1} h_k>` (its `p_i` is `E[v_{k+1, i} | h_k]`, as
    /// the weights are tied), layer `v_{k+1} -> h_k` contributes
    /// `<v_{k+1} h_k> - <v_{k+1} h_{k+1}>`; the sum telescopes to
    /// `<v_0 h_0> - <last pair>`, which tends to `<v h>_data - <v h>_model`.
    pub fn sbn_gradient(&self, data: &[f64], layers: usize) -> Vec<f64> {
        let nh = self.hidden_states();
        let nv = self.visible_states();
        let mut total = vec![0.0; self.n_visible * self.n_hidden];
        // joints[l]: q(v_k, h_k) for l = 2k, q(v_{k+1}, h_k) for l = 2k + 1.
        let mut joint = self.data_joint(data);
        let mut statistics = self.pair_statistics(&joint);
        for layer in 0..layers {
            let mut next = vec![0.0; nv * nh];
            if layer % 2 == 0 {
                // Resample v given h: q(v', h) = q(h) p(v' | h).
                for h in 0..nh {
                    let q: f64 = (0..nv).map(|v| joint[v * nh + h]).sum();
                    for v in 0..nv {
                        next[v * nh + h] = q * self.visible_given_hidden[h * nv + v];
                    }
                }
            } else {
                // Resample h given v: q(v, h') = q(v) p(h' | v).
                for v in 0..nv {
                    let q: f64 = joint[v * nh..(v + 1) * nh].iter().sum();
                    for h in 0..nh {
                        next[v * nh + h] = q * self.hidden_given_visible[v * nh + h];
                    }
                }
            }
            let next_statistics = self.pair_statistics(&next);
            for (t, (s, n)) in total
                .iter_mut()
                .zip(statistics.iter().zip(&next_statistics))
            {
                *t += s - n;
            }
            joint = next;
            statistics = next_statistics;
        }
        total
    }
}
