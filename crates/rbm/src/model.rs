//! The RBM module: parameters, conditionals, sampling, energies.

use burn::module::Param;
use burn::prelude::*;

use crate::{ConfigError, Sampler, UnitKind};

/// Architecture of an RBM and how its weights start.
#[derive(Config, Debug, PartialEq)]
pub struct RbmConfig {
    /// Number of visible units.
    pub n_visible: usize,
    /// Number of hidden units.
    pub n_hidden: usize,
    /// Unit type of the visible layer.
    #[config(default = "UnitKind::Bernoulli")]
    pub visible_units: UnitKind,
    /// Unit type of the hidden layer.
    #[config(default = "UnitKind::Bernoulli")]
    pub hidden_units: UnitKind,
    /// Standard deviation of the initial weights, W ~ N(0, init_std^2)
    /// (0.01 in Hinton's practical guide).
    #[config(default = 0.01)]
    pub init_std: f64,
}

impl RbmConfig {
    /// Checks every rule on the architecture.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.n_visible == 0 {
            return Err(ConfigError::ZeroVisible);
        }
        if self.n_hidden == 0 {
            return Err(ConfigError::ZeroHidden);
        }
        if !(self.init_std.is_finite() && self.init_std > 0.0) {
            return Err(ConfigError::InvalidInitStd(self.init_std));
        }
        Ok(())
    }

    /// A new RBM: weights from N(0, init_std^2) drawn with `seed`, biases zero.
    ///
    /// # Panics
    /// If the configuration is invalid; call [`RbmConfig::validate`] first
    /// to get a typed error instead.
    pub fn init(&self, device: &Device, seed: u64) -> Rbm {
        if let Err(e) = self.validate() {
            panic!("invalid RbmConfig: {e}");
        }
        let mut sampler = Sampler::new(seed);
        Rbm {
            weight: Param::from_tensor(sampler.normal(
                [self.n_visible, self.n_hidden],
                0.0,
                self.init_std,
                device,
            )),
            visible_bias: Param::from_tensor(Tensor::zeros([self.n_visible], device)),
            hidden_bias: Param::from_tensor(Tensor::zeros([self.n_hidden], device)),
            visible_units: self.visible_units,
            hidden_units: self.hidden_units,
        }
    }
}

/// A restricted Boltzmann machine with energy (for binary units)
/// `E(v, h) = -v.b_v - h.b_h - v W h`.
///
/// Tensor names and layouts (as saved by [`crate::save_rbm`]):
/// `weight` `[n_visible, n_hidden]`, `visible_bias` `[n_visible]`,
/// `hidden_bias` `[n_hidden]`, all f32.
#[derive(Module, Debug)]
pub struct Rbm {
    /// `[n_visible, n_hidden]`, the layout of `burn::nn::Linear`'s weight.
    pub weight: Param<Tensor<2>>,
    /// `[n_visible]`
    pub visible_bias: Param<Tensor<1>>,
    /// `[n_hidden]`
    pub hidden_bias: Param<Tensor<1>>,
    #[module(skip)]
    pub visible_units: UnitKind,
    #[module(skip)]
    pub hidden_units: UnitKind,
}

/// The states of one Gibbs chain after some steps.
#[derive(Debug, Clone)]
pub struct GibbsState {
    /// Last visible states, `[batch, n_visible]`.
    pub visible: Tensor<2>,
    /// Conditional mean of the last visible states, `[batch, n_visible]`.
    pub visible_mean: Tensor<2>,
    /// Conditional mean of the hidden units given `visible`, `[batch, n_hidden]`.
    pub hidden_mean: Tensor<2>,
}

impl Rbm {
    pub fn n_visible(&self) -> usize {
        self.weight.dims()[0]
    }

    pub fn n_hidden(&self) -> usize {
        self.weight.dims()[1]
    }

    /// The configuration that describes this RBM's architecture.
    pub fn config(&self, init_std: f64) -> RbmConfig {
        RbmConfig::new(self.n_visible(), self.n_hidden())
            .with_visible_units(self.visible_units)
            .with_hidden_units(self.hidden_units)
            .with_init_std(init_std)
    }

    /// Sets the visible biases to `log(p / (1 - p))` of the data's per-unit
    /// means `p` (Hinton's practical guide, section 8), with `p` clamped to
    /// [0.001, 0.999] so that always-off pixels get a large finite bias.
    ///
    /// # Shapes
    /// - visible_means: `[n_visible]`
    pub fn with_visible_bias_from_means(mut self, visible_means: Tensor<1>) -> Self {
        let p = visible_means.clamp(1e-3, 1.0 - 1e-3);
        let logit = p.clone().log() - p.neg().add_scalar(1.0).log();
        self.visible_bias = self.visible_bias.map(|_| logit);
        self
    }

    /// Total input to the hidden units, `v W + b_h`.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_hidden]`
    pub fn hidden_input(&self, visible: Tensor<2>) -> Tensor<2> {
        visible.matmul(self.weight.val()) + self.hidden_bias.val().unsqueeze()
    }

    /// Total input to the visible units, `h W^T + b_v`.
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch, n_visible]`
    pub fn visible_input(&self, hidden: Tensor<2>) -> Tensor<2> {
        hidden.matmul(self.weight.val().transpose()) + self.visible_bias.val().unsqueeze()
    }

    /// E[h | v]: hidden probabilities (for binary units) given visible states.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_hidden]`
    pub fn hidden_given_visible(&self, visible: Tensor<2>) -> Tensor<2> {
        self.hidden_units.mean(self.hidden_input(visible))
    }

    /// E[v | h]: visible probabilities (for binary units) given hidden states.
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch, n_visible]`
    pub fn visible_given_hidden(&self, hidden: Tensor<2>) -> Tensor<2> {
        self.visible_units.mean(self.visible_input(hidden))
    }

    /// `log p(h | v)` of given hidden states under the factorial posterior.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]`, hidden: `[batch, n_hidden]` -> `[batch]`
    pub fn log_posterior(&self, visible: Tensor<2>, hidden: Tensor<2>) -> Tensor<1> {
        self.hidden_units
            .log_probability(hidden, self.hidden_input(visible))
    }

    /// A sample of h ~ p(h | v).
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_hidden]`
    pub fn sample_hidden(&self, visible: Tensor<2>, sampler: &mut Sampler) -> Tensor<2> {
        self.hidden_units
            .sample(self.hidden_given_visible(visible), sampler)
    }

    /// A sample of v ~ p(v | h).
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch, n_visible]`
    pub fn sample_visible(&self, hidden: Tensor<2>, sampler: &mut Sampler) -> Tensor<2> {
        self.visible_units
            .sample(self.visible_given_hidden(hidden), sampler)
    }

    /// Energy of joint states, `E(v, h)`.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]`, hidden: `[batch, n_hidden]` -> `[batch]`
    pub fn energy(&self, visible: Tensor<2>, hidden: Tensor<2>) -> Tensor<1> {
        let interaction = (visible.clone().matmul(self.weight.val()) * hidden.clone())
            .sum_dim(1)
            .squeeze_dim(1);
        self.visible_units
            .self_energy(visible, self.visible_bias.val())
            + self
                .hidden_units
                .self_energy(hidden, self.hidden_bias.val())
            - interaction
    }

    /// Free energy of visible states, `F(v) = -log sum_h exp(-E(v, h))`,
    /// so that `p(v) = exp(-F(v)) / Z`.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch]`
    pub fn free_energy(&self, visible: Tensor<2>) -> Tensor<1> {
        let input = self.hidden_input(visible.clone());
        self.visible_units
            .self_energy(visible, self.visible_bias.val())
            - self.hidden_units.log_partition(input)
    }

    /// Free energy of hidden states, `F(h) = -log sum_v exp(-E(v, h))`.
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch]`
    pub fn hidden_free_energy(&self, hidden: Tensor<2>) -> Tensor<1> {
        let input = self.visible_input(hidden.clone());
        self.hidden_units
            .self_energy(hidden, self.hidden_bias.val())
            - self.visible_units.log_partition(input)
    }

    /// Mean-field reconstruction: `E[v | h = E[h | v]]`.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_visible]`
    pub fn reconstruct(&self, visible: Tensor<2>) -> Tensor<2> {
        self.visible_given_hidden(self.hidden_given_visible(visible))
    }

    /// `k` steps of alternating Gibbs sampling that start from hidden states.
    /// Each step samples v ~ p(v | h), then h ~ p(h | v) (the last h is not
    /// sampled: its mean is returned). With `mean_field_last_visible`, the
    /// last visible layer is its conditional mean rather than a sample
    /// (Hinton's practical guide, section 3.2, for CD's negative statistics).
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]`
    ///
    /// # Panics
    /// If `k` is 0.
    pub fn gibbs_from_hidden(
        &self,
        hidden: Tensor<2>,
        k: usize,
        mean_field_last_visible: bool,
        sampler: &mut Sampler,
    ) -> GibbsState {
        assert!(k >= 1, "gibbs_from_hidden: k must be at least 1");
        let mut hidden = hidden;
        let mut step = 1;
        loop {
            let visible_mean = self.visible_given_hidden(hidden);
            let visible = if step == k && mean_field_last_visible {
                visible_mean.clone()
            } else {
                self.visible_units.sample(visible_mean.clone(), sampler)
            };
            let hidden_mean = self.hidden_given_visible(visible.clone());
            if step == k {
                return GibbsState {
                    visible,
                    visible_mean,
                    hidden_mean,
                };
            }
            hidden = self.hidden_units.sample(hidden_mean, sampler);
            step += 1;
        }
    }

    /// `k` steps of alternating Gibbs sampling from visible states:
    /// h ~ p(h | v), then as [`Rbm::gibbs_from_hidden`] with sampled visibles.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]`
    pub fn gibbs(&self, visible: Tensor<2>, k: usize, sampler: &mut Sampler) -> GibbsState {
        let hidden = self.sample_hidden(visible, sampler);
        self.gibbs_from_hidden(hidden, k, false, sampler)
    }
}
