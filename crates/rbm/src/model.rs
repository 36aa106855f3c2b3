//! The RBM module: parameters, conditionals, sampling, energies.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::error::RbmError;
use crate::math::matmul;
use crate::sampler::Sampler;
use crate::units::UnitKind;

/// The standard deviation of Gaussian visible units: fixed, or learned per
/// unit (as `log sigma`, kept within `[min, max]`, with its own learning
/// rate, `TrainConfig::sigma_learning_rate`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SigmaConfig {
    /// Starting sigma of every unit (1 for standardised data).
    pub initial: f64,
    pub learned: bool,
    pub min: f64,
    pub max: f64,
}

impl Default for SigmaConfig {
    fn default() -> Self {
        Self::fixed(1.0)
    }
}

impl SigmaConfig {
    /// Sigma fixed at `value` for every unit.
    pub fn fixed(value: f64) -> Self {
        Self {
            initial: value,
            learned: false,
            min: 1e-3,
            max: 1e3,
        }
    }

    /// Sigma learned per unit, starting at `initial`, kept within `[min, max]`.
    pub fn learned(initial: f64, min: f64, max: f64) -> Self {
        Self {
            initial,
            learned: true,
            min,
            max,
        }
    }
}

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
    /// Sigma of Gaussian visible units (`None`: fixed at 1; must be `None`
    /// or the default for other units). Optional so that files written
    /// before sigma existed still load.
    #[config(default = "None")]
    pub visible_sigma: Option<SigmaConfig>,
}

/// The most units a layer may have (2^24): a bound checked before anything
/// is allocated, so that a mistyped size or a hostile file is an error.
pub const MAX_UNITS: usize = 1 << 24;
/// The most weights one RBM may have (2^30, 4 GiB of f32).
pub const MAX_WEIGHTS: usize = 1 << 30;

impl RbmConfig {
    /// Checks every rule on the architecture.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.n_visible == 0 {
            return Err(ConfigError::ZeroVisible);
        }
        if self.n_hidden == 0 {
            return Err(ConfigError::ZeroHidden);
        }
        for (layer, found) in [("n_visible", self.n_visible), ("n_hidden", self.n_hidden)] {
            if found > MAX_UNITS {
                return Err(ConfigError::TooManyUnits {
                    layer,
                    found,
                    max: MAX_UNITS,
                });
            }
        }
        if self
            .n_visible
            .checked_mul(self.n_hidden)
            .is_none_or(|weights| weights > MAX_WEIGHTS)
        {
            return Err(ConfigError::TooManyWeights {
                n_visible: self.n_visible,
                n_hidden: self.n_hidden,
                max: MAX_WEIGHTS,
            });
        }
        if !(self.init_std.is_finite() && self.init_std > 0.0) {
            return Err(ConfigError::InvalidInitStd(self.init_std));
        }
        self.visible_units.validate()?;
        self.hidden_units.validate()?;
        for (units, size) in [
            (self.visible_units, self.n_visible),
            (self.hidden_units, self.n_hidden),
        ] {
            if let UnitKind::BinaryWithSoftmax { group } = units
                && group >= size
            {
                return Err(ConfigError::SoftmaxGroupTooLarge { group, units: size });
            }
        }
        if self.visible_units.unbounded()
            && self.hidden_units.unbounded()
            && !(self.visible_units == UnitKind::Gaussian
                && self.hidden_units == UnitKind::NoisyRectified)
        {
            return Err(ConfigError::InvalidUnitPairing {
                visible: self.visible_units.name(),
                hidden: self.hidden_units.name(),
            });
        }
        let sigma = self.sigma();
        if self.visible_units != UnitKind::Gaussian && sigma != SigmaConfig::default() {
            return Err(ConfigError::SigmaWithoutGaussian(self.visible_units.name()));
        }
        if !(sigma.min.is_finite()
            && sigma.min > 0.0
            && sigma.max.is_finite()
            && sigma.min <= sigma.max)
        {
            return Err(ConfigError::InvalidSigmaRange {
                min: sigma.min,
                max: sigma.max,
            });
        }
        if !(sigma.initial >= sigma.min && sigma.initial <= sigma.max) {
            return Err(ConfigError::InvalidSigma {
                initial: sigma.initial,
                min: sigma.min,
                max: sigma.max,
            });
        }
        Ok(())
    }

    /// A new RBM: weights from N(0, init_std^2) drawn with `seed`, biases
    /// zero, `log sigma` at the configured start for Gaussian visible units.
    ///
    /// # Panics
    /// If the configuration is invalid; call [`RbmConfig::validate`] first
    /// to get a typed error instead.
    pub fn init(&self, device: &Device, seed: u64) -> Rbm {
        if let Err(e) = self.validate() {
            panic!("invalid RbmConfig: {e}");
        }
        let mut sampler = Sampler::new(seed);
        let visible_log_sigma = (self.visible_units == UnitKind::Gaussian).then(|| {
            Param::from_tensor(Tensor::full(
                [self.n_visible],
                self.sigma().initial.ln(),
                device,
            ))
        });
        Rbm {
            weight: Param::from_tensor(sampler.normal(
                [self.n_visible, self.n_hidden],
                0.0,
                self.init_std,
                device,
            )),
            visible_bias: Param::from_tensor(Tensor::zeros([self.n_visible], device)),
            hidden_bias: Param::from_tensor(Tensor::zeros([self.n_hidden], device)),
            visible_log_sigma,
            visible_units: self.visible_units,
            hidden_units: self.hidden_units,
            visible_sigma: self.sigma(),
        }
    }

    /// The number of f32 values the model holds (weights, biases and, for
    /// Gaussian visible units, `log sigma`); `None` if it overflows.
    pub fn parameter_count(&self) -> Option<usize> {
        let sigma = if self.visible_units == UnitKind::Gaussian {
            self.n_visible
        } else {
            0
        };
        self.n_visible
            .checked_mul(self.n_hidden)?
            .checked_add(self.n_visible)?
            .checked_add(self.n_hidden)?
            .checked_add(sigma)
    }

    /// The sigma configuration in force (the default when unset).
    pub fn sigma(&self) -> SigmaConfig {
        self.visible_sigma.unwrap_or_default()
    }
}

/// A restricted Boltzmann machine with energy (for binary units)
/// `E(v, h) = -v.b_v - h.b_h - v W h`, and for Gaussian visible units the
/// lecture's `sum_i (v_i - b_i)^2 / (2 sigma_i^2) - h.b_h - sum_ij (v_i / sigma_i) W_ij h_j`
/// (up to a constant). Internally Gaussian visible states are handled in
/// normalised coordinates `v / sigma`, where they have unit variance;
/// every public method takes and returns data coordinates.
///
/// Tensor names and layouts (as saved by [`crate::save_rbm`]):
/// `weight` `[n_visible, n_hidden]`, `visible_bias` `[n_visible]`,
/// `hidden_bias` `[n_hidden]`, and for Gaussian visible units
/// `visible_log_sigma` `[n_visible]`; all f32.
#[derive(Module, Debug)]
pub struct Rbm {
    /// `[n_visible, n_hidden]`, the layout of `burn::nn::Linear`'s weight.
    pub weight: Param<Tensor<2>>,
    /// `[n_visible]`
    pub visible_bias: Param<Tensor<1>>,
    /// `[n_hidden]`
    pub hidden_bias: Param<Tensor<1>>,
    /// `[n_visible]`, `log sigma` of Gaussian visible units (else `None`).
    pub visible_log_sigma: Option<Param<Tensor<1>>>,
    #[module(skip)]
    pub visible_units: UnitKind,
    #[module(skip)]
    pub hidden_units: UnitKind,
    #[module(skip)]
    pub visible_sigma: SigmaConfig,
}

/// The states of one Gibbs chain after some steps.
#[derive(Debug, Clone)]
pub struct GibbsState {
    /// Last visible states, `[batch, n_visible]`.
    pub visible: Tensor<2>,
    /// Conditional mean of the last visible states, `[batch, n_visible]`.
    pub visible_mean: Tensor<2>,
    /// Total input to the hidden units given `visible`, `[batch, n_hidden]`.
    pub hidden_input: Tensor<2>,
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
            .with_visible_sigma(
                (self.visible_units == UnitKind::Gaussian).then_some(self.visible_sigma),
            )
    }

    /// Sigma of each Gaussian visible unit, `[n_visible]` (`None` for other units).
    pub fn visible_sigma(&self) -> Option<Tensor<1>> {
        self.visible_log_sigma.as_ref().map(|l| l.val().exp())
    }

    /// Data coordinates to the units' own: `v / sigma` for Gaussian units.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_visible]`
    pub fn normalize_visible(&self, visible: Tensor<2>) -> Tensor<2> {
        match self.visible_sigma() {
            Some(sigma) => visible / sigma.unsqueeze(),
            None => visible,
        }
    }

    /// The inverse of [`Rbm::normalize_visible`].
    pub fn denormalize_visible(&self, visible: Tensor<2>) -> Tensor<2> {
        match self.visible_sigma() {
            Some(sigma) => visible * sigma.unsqueeze(),
            None => visible,
        }
    }

    /// The visible biases in the units' own coordinates (`b / sigma`).
    pub(crate) fn normalized_visible_bias(&self) -> Tensor<1> {
        match self.visible_sigma() {
            Some(sigma) => self.visible_bias.val() / sigma,
            None => self.visible_bias.val(),
        }
    }

    /// Sets the visible biases so that, with no input from the hidden
    /// units, each visible unit has the data's mean (Hinton's practical
    /// guide, section 8): `log(p / (1 - p))` for binary units with `p`
    /// clamped to [0.001, 0.999] (always-off pixels get a large finite
    /// bias), the mean itself for Gaussian units; unchanged for others.
    ///
    /// # Shapes
    /// - visible_means: `[n_visible]`
    pub fn with_visible_bias_from_means(mut self, visible_means: Tensor<1>) -> Self {
        if let Some(bias) = self.visible_units.bias_for_mean(visible_means) {
            self.visible_bias = self.visible_bias.map(|_| bias);
        }
        self
    }

    /// Total input to the hidden units, `(v / sigma) W + b_h` (sigma = 1
    /// for non-Gaussian visible units).
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_hidden]`
    pub fn hidden_input(&self, visible: Tensor<2>) -> Tensor<2> {
        matmul(self.normalize_visible(visible), self.weight.val())
            + self.hidden_bias.val().unsqueeze()
    }

    /// Total input to the visible units in their own coordinates,
    /// `h W^T + b_v / sigma`.
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch, n_visible]`
    pub fn visible_input(&self, hidden: Tensor<2>) -> Tensor<2> {
        matmul(hidden, self.weight.val().transpose()) + self.normalized_visible_bias().unsqueeze()
    }

    /// E[h | v]: the hidden units' conditional means given visible states.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_hidden]`
    pub fn hidden_given_visible(&self, visible: Tensor<2>) -> Tensor<2> {
        self.hidden_units.mean(self.hidden_input(visible))
    }

    /// E[v | h]: the visible units' conditional means given hidden states
    /// (`b + sigma (h W^T)` for Gaussian units).
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch, n_visible]`
    pub fn visible_given_hidden(&self, hidden: Tensor<2>) -> Tensor<2> {
        self.denormalize_visible(self.visible_units.mean(self.visible_input(hidden)))
    }

    /// `log p(h | v)` of given hidden states under the factorial posterior.
    ///
    /// # Errors
    /// [`RbmError::Unsupported`] for hidden units without a closed-form
    /// conditional (stepped sigmoid, NReLU).
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]`, hidden: `[batch, n_hidden]` -> `[batch]`
    pub fn log_posterior(
        &self,
        visible: Tensor<2>,
        hidden: Tensor<2>,
    ) -> Result<Tensor<1>, RbmError> {
        self.hidden_units
            .log_probability(hidden, self.hidden_input(visible))
    }

    /// A sample of h ~ p(h | v).
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch, n_hidden]`
    pub fn sample_hidden(&self, visible: Tensor<2>, sampler: &mut Sampler) -> Tensor<2> {
        let input = self.hidden_input(visible);
        let mean = self.hidden_units.mean(input.clone());
        self.hidden_units.sample(input, mean, sampler)
    }

    /// A sample of v ~ p(v | h).
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch, n_visible]`
    pub fn sample_visible(&self, hidden: Tensor<2>, sampler: &mut Sampler) -> Tensor<2> {
        let input = self.visible_input(hidden);
        let mean = self.visible_units.mean(input.clone());
        self.denormalize_visible(self.visible_units.sample(input, mean, sampler))
    }

    /// Energy of joint states, `E(v, h)` (for Gaussian visible units, of
    /// the normalised states, up to a constant).
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]`, hidden: `[batch, n_hidden]` -> `[batch]`
    pub fn energy(&self, visible: Tensor<2>, hidden: Tensor<2>) -> Tensor<1> {
        let visible = self.normalize_visible(visible);
        let interaction = (matmul(visible.clone(), self.weight.val()) * hidden.clone())
            .sum_dim(1)
            .squeeze_dim(1);
        self.visible_units
            .self_energy(visible, self.normalized_visible_bias())
            + self
                .hidden_units
                .self_energy(hidden, self.hidden_bias.val())
            - interaction
    }

    /// Free energy of visible states, `F(v) = -log sum_h exp(-E(v, h))`,
    /// so that `p(v) = exp(-F(v)) / Z` with `Z` from
    /// [`crate::exact_log_partition`] or AIS. For Gaussian visible units it
    /// includes `sum_i log sigma_i`, so that `p` is a density of `v` itself.
    ///
    /// # Shapes
    /// - visible: `[batch, n_visible]` -> `[batch]`
    pub fn free_energy(&self, visible: Tensor<2>) -> Tensor<1> {
        let input = self.hidden_input(visible.clone());
        let free = self.visible_units.self_energy(
            self.normalize_visible(visible),
            self.normalized_visible_bias(),
        ) - self.hidden_units.log_partition(input);
        match &self.visible_log_sigma {
            Some(log_sigma) => free + log_sigma.val().sum(),
            None => free,
        }
    }

    /// Free energy of hidden states, `F(h) = -log sum_v exp(-E(v, h))` (an
    /// integral over the normalised states for Gaussian visible units).
    ///
    /// # Shapes
    /// - hidden: `[batch, n_hidden]` -> `[batch]`
    pub fn hidden_free_energy(&self, hidden: Tensor<2>) -> Tensor<1> {
        let input = self.visible_input(hidden.clone());
        self.hidden_units
            .self_energy(hidden, self.hidden_bias.val())
            - self.visible_units.log_partition(input)
    }

    /// The same model upside down: visible and hidden swapped, `W^T`, the
    /// biases swapped, with the same partition function. Gaussian visible
    /// units become Gaussian hidden units in their own coordinates (bias
    /// `b / sigma`); Gaussian hidden units become Gaussian visible units of
    /// sigma 1. As the second layer of a DBN it makes the prior over the
    /// first hidden layer exactly this RBM's marginal (a complementary
    /// prior); AIS over this RBM's hidden units anneals over the visible
    /// units of its transpose.
    pub fn transposed(&self) -> Rbm {
        let hidden_gaussian = self.hidden_units == UnitKind::Gaussian;
        Rbm {
            weight: Param::from_tensor(self.weight.val().transpose()),
            visible_bias: Param::from_tensor(self.hidden_bias.val()),
            hidden_bias: Param::from_tensor(self.normalized_visible_bias()),
            visible_log_sigma: hidden_gaussian.then(|| {
                Param::from_tensor(Tensor::zeros([self.n_hidden()], &self.weight.device()))
            }),
            visible_units: self.hidden_units,
            hidden_units: self.visible_units,
            visible_sigma: SigmaConfig::fixed(1.0),
        }
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
    /// sampled: its mean is returned). With `mean_field_reconstruction`, the
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
        mean_field_reconstruction: bool,
        sampler: &mut Sampler,
    ) -> GibbsState {
        assert!(k >= 1, "gibbs_from_hidden: k must be at least 1");
        let mut hidden = hidden;
        let mut step = 1;
        loop {
            let visible_input = self.visible_input(hidden);
            let visible_mean_normalized = self.visible_units.mean(visible_input.clone());
            let visible = if step == k && mean_field_reconstruction {
                self.denormalize_visible(visible_mean_normalized.clone())
            } else {
                self.denormalize_visible(self.visible_units.sample(
                    visible_input,
                    visible_mean_normalized.clone(),
                    sampler,
                ))
            };
            let visible_mean = self.denormalize_visible(visible_mean_normalized);
            let hidden_input = self.hidden_input(visible.clone());
            let hidden_mean = self.hidden_units.mean(hidden_input.clone());
            if step == k {
                return GibbsState {
                    visible,
                    visible_mean,
                    hidden_input,
                    hidden_mean,
                };
            }
            hidden = self.hidden_units.sample(hidden_input, hidden_mean, sampler);
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
