//! The architecture and training recipe of a stack of RBMs.

use rbm::{RbmConfig, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::error::DbnConfigError;

/// How the trained features of one layer become the data of the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Propagation {
    /// The conditional means `E[h | v]` ("treat the activations of the
    /// trained features as if they were pixels"): deterministic, the usual
    /// choice (Hinton & Salakhutdinov 2006).
    #[default]
    MeanField,
    /// One binary sample of `h` given `v` per row, drawn once with `seed`
    /// (plus the layer index), so the next layer sees stochastic binary data.
    Sampled { seed: u64 },
}

/// One layer of the stack: its RBM and how to train it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerConfig {
    pub rbm: RbmConfig,
    pub train: TrainConfig,
}

/// A stack of RBMs trained greedily, bottom first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackConfig {
    /// Bottom layer first. Layer `i + 1`'s `n_visible` equals layer `i`'s `n_hidden`.
    pub layers: Vec<LayerConfig>,
    #[serde(default)]
    pub propagation: Propagation,
}

impl StackConfig {
    /// A stack with the given sizes (`[784, 500, 500, 2000]` gives three
    /// RBMs), every layer trained with `train`, whose seed is offset by the
    /// layer index so that the layers' initial weights differ.
    pub fn uniform(sizes: &[usize], train: &TrainConfig) -> Self {
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(index, pair)| LayerConfig {
                rbm: RbmConfig::new(pair[0], pair[1]),
                train: train
                    .clone()
                    .with_seed(train.seed.wrapping_add(index as u64)),
            })
            .collect();
        Self {
            layers,
            propagation: Propagation::MeanField,
        }
    }

    /// Checks every rule: at least one layer, each layer's own rules, and
    /// sizes and unit types that chain (layers are reported 1-based).
    pub fn validate(&self) -> Result<(), DbnConfigError> {
        if self.layers.is_empty() {
            return Err(DbnConfigError::NoLayers);
        }
        for (index, layer) in self.layers.iter().enumerate() {
            let number = index + 1;
            let invalid = |source| DbnConfigError::InvalidLayer {
                layer: number,
                source,
            };
            layer.rbm.validate().map_err(invalid)?;
            layer.train.validate().map_err(invalid)?;
            if index > 0 {
                let below = self.layers[index - 1].rbm.n_hidden;
                if layer.rbm.n_visible != below {
                    return Err(DbnConfigError::LayerSizeMismatch {
                        layer: number,
                        expected: below,
                        found: layer.rbm.n_visible,
                    });
                }
                let below_units = self.layers[index - 1].rbm.hidden_units;
                if layer.rbm.visible_units != below_units {
                    return Err(DbnConfigError::UnitKindMismatch {
                        layer: number,
                        below: below_units.name(),
                        found: layer.rbm.visible_units.name(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Unit counts from the input up: `[n_visible of layer 1, n_hidden of each layer...]`.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes: Vec<usize> = self
            .layers
            .first()
            .map(|l| l.rbm.n_visible)
            .into_iter()
            .collect();
        sizes.extend(self.layers.iter().map(|l| l.rbm.n_hidden));
        sizes
    }
}
