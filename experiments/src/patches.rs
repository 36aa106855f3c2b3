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

/// Patch sides offered (ZCA whitening works on `side^2 x side^2` covariances).
pub const PATCH_SIDES: std::ops::RangeInclusive<usize> = 2..=32;
/// The most patch values (rows x pixels) held on the host: 2^28 (1 GiB).
pub const MAX_PATCH_VALUES: usize = 1 << 28;

impl PatchSpec {
    /// Checks the sizes before any image is read or patch cut.
    pub fn validate(&self) -> Result<(), String> {
        if !PATCH_SIDES.contains(&self.size) {
            return Err(format!(
                "patch side must be in {}..={}, found {}",
                PATCH_SIDES.start(),
                PATCH_SIDES.end(),
                self.size
            ));
        }
        // Whitening estimates a covariance: it needs more rows than one.
        if self.train < 2 {
            return Err(format!(
                "at least 2 training patches are needed, found {}",
                self.train
            ));
        }
        if self.held_out == 0 {
            return Err("at least 1 held-out patch is needed".into());
        }
        let values = (self.train.checked_add(self.held_out))
            .and_then(|rows| rows.checked_mul(self.size * self.size));
        if values.is_none_or(|v| v > MAX_PATCH_VALUES) {
            return Err(format!(
                "{} + {} patches of {}x{} exceed the limit of {MAX_PATCH_VALUES} values",
                self.train, self.held_out, self.size, self.size
            ));
        }
        Ok(())
    }
}

/// Training and held-out patches, `[rows, size * size]`, preprocessed with
/// a transform fitted on the training patches alone.
pub fn load_patches(
    spec: &PatchSpec,
    device: &Device,
) -> Result<(Tensor<2>, Tensor<2>), Box<dyn std::error::Error>> {
    spec.validate()?;
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

/// Real-valued rows from a NumPy file (`gaussian-rbm --npy`): the file and
/// its SHA-256 (the run's identity covers its contents) and the
/// preprocessing; the last tenth of the rows (at least one) is held out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsSpec {
    pub path: PathBuf,
    pub sha256: String,
    pub whiten: WhitenMode,
}

/// The largest row width that whitening accepts: its covariance is
/// `width x width` and is decomposed on the host.
pub const MAX_ROW_WIDTH: usize = 4096;

impl RowsSpec {
    /// The file's absolute path and current hash.
    pub fn from_path(
        path: &std::path::Path,
        whiten: WhitenMode,
    ) -> Result<Self, crate::run_dir::RunError> {
        let (path, sha256) = crate::run_dir::identify_file(path)?;
        Ok(Self {
            path,
            sha256,
            whiten,
        })
    }
}

/// Rows on the device, split and preprocessed ([`load_rows`]).
pub struct LoadedRows {
    /// `[rows, width]`, the first nine tenths.
    pub train: Tensor<2>,
    /// `[rows, width]`, the last tenth (at least one row).
    pub held_out: Tensor<2>,
    /// (height, width) of a row as a picture, for the filters.
    pub image: (usize, usize),
}

/// Training and held-out rows from `spec`'s file, preprocessed like
/// patches (each row's mean removed, then the chosen whitening fitted on
/// the training rows alone).
pub fn load_rows(
    spec: &RowsSpec,
    device: &Device,
) -> Result<LoadedRows, Box<dyn std::error::Error>> {
    let hash = crate::run_dir::file_hash(&spec.path)?;
    if hash != spec.sha256 {
        return Err(format!(
            "{}: the file has changed since the run began (SHA-256 {} in config.json, {hash} now)",
            spec.path.display(),
            spec.sha256
        )
        .into());
    }
    let rows = datasets::read_npy_rows(&spec.path)?;
    let dim = rows.height * rows.width;
    if dim > MAX_ROW_WIDTH {
        return Err(format!(
            "{}: rows of {dim} values; whitening accepts at most {MAX_ROW_WIDTH}",
            spec.path.display()
        )
        .into());
    }
    if rows.count < 3 {
        return Err(format!(
            "{}: {} rows; at least 3 are needed (2 to fit the whitening, 1 held out)",
            spec.path.display(),
            rows.count
        )
        .into());
    }
    let held_out = (rows.count / 10).max(1);
    let split = (rows.count - held_out) * dim;
    let whitening = match spec.whiten {
        WhitenMode::Standardise => Whitening::Standardise,
        WhitenMode::Zca => Whitening::Zca { epsilon: 0.01 },
    };
    let transform = PatchTransform::fit(&rows.values[..split], dim, whitening);
    let to_tensor = |values: &[f32]| rbm::tensor_from_rows(&transform.apply(values), dim, device);
    Ok(LoadedRows {
        train: to_tensor(&rows.values[..split]),
        held_out: to_tensor(&rows.values[split..]),
        image: (rows.height, rows.width),
    })
}
