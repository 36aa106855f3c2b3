//! A trained stack of RBMs and its deterministic up-pass.

use burn::prelude::*;
use rbm::{Rbm, Sampler};

use crate::stack::config::Propagation;

/// RBMs stacked bottom first: layer `i + 1`'s visible units are layer `i`'s
/// hidden units.
///
/// Tensor names when saved ([`crate::save_stack`]): `layers.{i}.weight`
/// `[n_visible, n_hidden]`, `layers.{i}.visible_bias`, `layers.{i}.hidden_bias`,
/// with `i` from 0 at the bottom.
#[derive(Module, Debug)]
pub struct RbmStack {
    pub layers: Vec<Rbm>,
}

impl RbmStack {
    pub fn new(layers: Vec<Rbm>) -> Self {
        Self { layers }
    }

    /// Unit counts from the input up.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes: Vec<usize> = self
            .layers
            .first()
            .map(Rbm::n_visible)
            .into_iter()
            .collect();
        sizes.extend(self.layers.iter().map(Rbm::n_hidden));
        sizes
    }

    /// The mean-field up-pass: `E[h_1 | v]`, then `E[h_2 | h_1]` with the
    /// means as inputs, and so on. Returns every layer's activations,
    /// bottom first.
    ///
    /// # Shapes
    /// - input: `[batch, sizes[0]]` -> `layers.len()` tensors `[batch, sizes[i + 1]]`
    pub fn up_pass(&self, input: Tensor<2>) -> Vec<Tensor<2>> {
        let mut activations = Vec::with_capacity(self.layers.len());
        let mut below = input;
        for layer in &self.layers {
            below = layer.hidden_given_visible(below);
            activations.push(below.clone());
        }
        activations
    }

    /// The top layer's mean-field activations.
    ///
    /// # Shapes
    /// - input: `[batch, sizes[0]]` -> `[batch, sizes.last()]`
    pub fn features(&self, input: Tensor<2>) -> Tensor<2> {
        self.layers
            .iter()
            .fold(input, |below, layer| layer.hidden_given_visible(below))
    }
}

/// The data that the RBM above `layer` (0-based) trains on: `layer`'s
/// hidden means given `input`, or one sample of them, as `propagation` says.
///
/// # Shapes
/// - input: `[rows, layer.n_visible]` -> `[rows, layer.n_hidden]`
pub fn propagate(
    layer: &Rbm,
    index: usize,
    input: Tensor<2>,
    propagation: Propagation,
) -> Tensor<2> {
    match propagation {
        Propagation::MeanField => layer.hidden_given_visible(input),
        Propagation::Sampled { seed } => {
            let mut sampler = Sampler::new(seed.wrapping_add(index as u64));
            layer.sample_hidden(input, &mut sampler)
        }
    }
}
