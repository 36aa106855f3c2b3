//! Natural-image patches on the device, for the Gaussian-RBM binaries.

use std::path::PathBuf;

use burn::prelude::*;
use datasets::{PatchTransform, Whitening, random_patches, read_grey_pngs};
use serde::{Deserialize, Serialize};

/// How patches are prepared (`--whiten`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhitenMode {
    /// Per-patch mean removed, unit variance overall.
    Standardise,
    /// Per-patch mean removed, then ZCA whitening (eigenvalues floored at
    /// 1% of the largest).
    Zca,
}

/// Which patches, and how many (`config.json` keeps them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatchSpec {
    pub images_dir: PathBuf,
    pub size: usize,
    pub train: usize,
    pub held_out: usize,
    pub whiten: WhitenMode,
    pub seed: u64,
}

/// Training and held-out patches, `[rows, size * size]`, preprocessed with
/// a transform fitted on the training patches alone.
pub fn load_patches(
    spec: &PatchSpec,
    device: &Device,
) -> Result<(Tensor<2>, Tensor<2>), Box<dyn std::error::Error>> {
    let images = read_grey_pngs(&spec.images_dir)?;
    let dim = spec.size * spec.size;
    let train = random_patches(&images, spec.size, spec.train, spec.seed)?;
    let held_out = random_patches(&images, spec.size, spec.held_out, spec.seed.wrapping_add(1))?;
    let whitening = match spec.whiten {
        WhitenMode::Standardise => Whitening::Standardise,
        WhitenMode::Zca => Whitening::Zca { epsilon: 0.01 },
    };
    let transform = PatchTransform::fit(&train, dim, whitening);
    let to_tensor = |rows: &[f32]| rbm::tensor_from_rows(&transform.apply(rows), dim, device);
    Ok((to_tensor(&train), to_tensor(&held_out)))
}
