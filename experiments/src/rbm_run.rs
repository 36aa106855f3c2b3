//! The pieces of an RBM training run that the binaries share: options,
//! the configuration file, pictures of filters, samples and reconstructions.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use rbm::{Rbm, RbmConfig, Sampler, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::data::{BinarizeMode, DataSpec};
use crate::images::write_grid;

/// Everything that defines a `train-rbm` run, written as `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RbmRunConfig {
    /// The data set (left out of the file for MNIST).
    #[serde(default, skip_serializing_if = "DataSpec::is_mnist")]
    pub data: DataSpec,
    pub rbm: RbmConfig,
    pub train: TrainConfig,
    pub binarize: BinarizeMode,
    pub binarize_seed: u64,
    /// Training images held out (the last ones of the training split) for monitoring.
    pub held_out: usize,
    /// Training images used (the first ones), after the held-out ones are removed.
    pub train_rows: usize,
    pub device: String,
}

impl RbmRunConfig {
    /// Reads `config.json` from a run directory.
    pub fn load(dir: &Path) -> Result<Self, crate::run_dir::RunError> {
        crate::run_dir::read_json(&dir.join(crate::run_dir::CONFIG_FILE))
    }

    /// Checks every value (also those read from a `config.json`).
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        self.rbm.validate()?;
        self.train.validate()?;
        let total = self.data.train_images;
        if self.rbm.n_visible != self.data.pixels() {
            return Err(format!(
                "n_visible is {}, the images of {} have {} pixels",
                self.rbm.n_visible,
                self.data.source,
                self.data.pixels()
            )
            .into());
        }
        if self.held_out >= total {
            return Err(format!(
                "held_out {} leaves no training images of {total}",
                self.held_out
            )
            .into());
        }
        if self.train_rows == 0 || self.train_rows > total - self.held_out {
            return Err(format!(
                "train_rows must be in 1..={}, found {}",
                total - self.held_out,
                self.train_rows
            )
            .into());
        }
        Ok(())
    }
}

/// Resolves a model argument: a `.safetensors` file, or a run directory
/// holding `model.safetensors`.
pub fn model_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("model.safetensors")
    } else {
        path.to_path_buf()
    }
}

/// Rows of a `[rows, cols]` tensor as host vectors.
pub fn tensor_rows(x: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, cols] = x.dims();
    x.into_data()
        .try_into_vec_as::<f32>()
        .expect("float data")
        .chunks(cols)
        .map(|c| c.to_vec())
        .collect()
}

/// Writes the first `count` filters (columns of W) as tiles of `image`
/// (height, width) pixels, each scaled to its own range.
pub fn write_filters(
    rbm: &Rbm,
    count: usize,
    image: (usize, usize),
    path: &Path,
) -> std::io::Result<()> {
    let count = count.min(rbm.n_hidden());
    let filters = rbm.weight.val().transpose().slice(0..count); // [count, height * width]
    write_grid(path, &tensor_rows(filters), image.0, image.1, 10, true)
}

/// Writes pairs of rows: data, then its mean-field reconstruction, as
/// tiles of `image` (height, width) pixels.
pub fn write_reconstructions(
    rbm: &Rbm,
    data: Tensor<2>,
    image: (usize, usize),
    path: &Path,
) -> std::io::Result<()> {
    let reconstruction = rbm.reconstruct(data.clone());
    let mut tiles = Vec::new();
    for (d, r) in tensor_rows(data)
        .chunks(10)
        .zip(tensor_rows(reconstruction).chunks(10))
    {
        tiles.extend_from_slice(d);
        tiles.extend_from_slice(r);
    }
    write_grid(path, &tiles, image.0, image.1, 10, false)
}

/// Runs `chains` Gibbs chains for `steps` steps from random binary images
/// and writes the final visible probabilities as tiles of `image` pixels.
pub fn write_samples(
    rbm: &Rbm,
    chains: usize,
    steps: usize,
    seed: u64,
    image: (usize, usize),
    path: &Path,
) -> std::io::Result<()> {
    let device = rbm.weight.device();
    let mut sampler = Sampler::new(seed);
    let start = sampler.bernoulli(Tensor::<2>::full([chains, rbm.n_visible()], 0.5, &device));
    let state = rbm.gibbs(start, steps, &mut sampler);
    write_grid(
        path,
        &tensor_rows(state.visible_mean),
        image.0,
        image.1,
        10,
        false,
    )
}
