//! Natural-image patches on the device, for the Gaussian-RBM binaries.

use std::path::PathBuf;

use burn::prelude::*;
use datasets::{
    GreyImage, PatchTransform, Whitening, png_dir_sha256, random_patches, read_grey_pngs,
    vendored_grey_images, vendored_images_sha256,
};
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
    /// A directory of PNG images (`--images-dir`), or none for the seven
    /// vendored photographs built into the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images_dir: Option<PathBuf>,
    /// SHA-256 of the image set when the run started
    /// ([`datasets::named_files_sha256`]), checked whenever the images are
    /// read again; runs written before it was recorded have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images_sha256: Option<String>,
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
    /// The spec of a fresh run, its sizes checked and its image set
    /// (`images_dir`, or the built-in one) identified by its SHA-256 now.
    pub fn identified(
        images_dir: Option<PathBuf>,
        size: usize,
        train: usize,
        held_out: usize,
        whiten: WhitenMode,
        seed: u64,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let mut spec = Self {
            images_dir,
            images_sha256: None,
            size,
            train,
            held_out,
            whiten,
            seed,
        };
        // The sizes first: a bad flag is named before any file is read.
        spec.validate()?;
        spec.images_sha256 = Some(match &spec.images_dir {
            Some(dir) => png_dir_sha256(dir)?,
            None => vendored_images_sha256(),
        });
        Ok(spec)
    }

    /// The images, after checking that they are the set the run started
    /// with (where it recorded one).
    pub fn images(&self) -> Result<Vec<GreyImage>, Box<dyn std::error::Error>> {
        let (found, name) = match &self.images_dir {
            Some(dir) => (png_dir_sha256(dir)?, dir.display().to_string()),
            None => (
                vendored_images_sha256(),
                "the built-in natural images".to_string(),
            ),
        };
        if let Some(recorded) = &self.images_sha256
            && *recorded != found
        {
            return Err(format!(
                "{name}: not the images this run started with (SHA-256 {recorded} in \
                 config.json, {found} now)"
            )
            .into());
        }
        Ok(match &self.images_dir {
            Some(dir) => read_grey_pngs(dir)?,
            None => vendored_grey_images()?,
        })
    }

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
    let images = spec.images()?;
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

/// The rules on the shape of `--npy` rows: a width that whitening accepts
/// and enough rows to fit it and hold one out. Checked before a fresh run
/// starts and again when its rows are loaded.
pub fn check_rows_shape(
    path: &std::path::Path,
    rows: &datasets::NpyRows,
) -> Result<(), Box<dyn std::error::Error>> {
    let dim = rows.height * rows.width;
    if dim > MAX_ROW_WIDTH {
        return Err(format!(
            "{}: rows of {dim} values; whitening accepts at most {MAX_ROW_WIDTH}",
            path.display()
        )
        .into());
    }
    if rows.count < 3 {
        return Err(format!(
            "{}: {} rows; at least 3 are needed (2 to fit the whitening, 1 held out)",
            path.display(),
            rows.count
        )
        .into());
    }
    Ok(())
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
    check_rows_shape(&spec.path, &rows)?;
    let dim = rows.height * rows.width;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(images_dir: Option<PathBuf>) -> PatchSpec {
        PatchSpec::identified(images_dir, 4, 20, 5, WhitenMode::Standardise, 3).unwrap()
    }

    /// The built-in images need no file; a directory of copies gives the
    /// same patches, and its run records the same image-set digest.
    #[test]
    fn the_built_in_images_and_a_directory_of_copies_give_the_same_patches() {
        let device = Device::flex();
        let built_in = spec(None);
        assert_eq!(
            built_in.images_sha256.as_deref(),
            Some(vendored_images_sha256().as_str())
        );
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in datasets::VENDORED_IMAGES {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let copied = spec(Some(dir.path().to_path_buf()));
        assert_eq!(copied.images_sha256, built_in.images_sha256);
        let (a, _) = load_patches(&built_in, &device).unwrap();
        let (b, _) = load_patches(&copied, &device).unwrap();
        assert_eq!(a.into_data(), b.into_data());
    }

    /// Images changed after a run started are refused when it reads them
    /// again, naming the directory and both digests; a configuration from
    /// before the digest was recorded reads as it did.
    #[test]
    fn changed_images_are_refused_naming_both_digests() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in datasets::VENDORED_IMAGES.iter().take(2) {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let started = spec(Some(dir.path().to_path_buf()));
        let recorded = started.images_sha256.clone().unwrap();
        std::fs::write(dir.path().join("extra.png"), datasets::VENDORED_IMAGES[2].1).unwrap();
        let error = load_patches(&started, &device).unwrap_err().to_string();
        let now = png_dir_sha256(dir.path()).unwrap();
        assert!(
            error.contains(&dir.path().display().to_string())
                && error.contains(&recorded)
                && error.contains(&now),
            "{error}"
        );
        let old: PatchSpec = serde_json::from_value(serde_json::json!({
            "images_dir": dir.path(),
            "size": 4, "train": 20, "held_out": 5, "whiten": "standardise", "seed": 3
        }))
        .unwrap();
        assert_eq!(old.images_sha256, None);
        load_patches(&old, &device).unwrap();
        // Written back, it is the same JSON: the run's identity is kept.
        let written = serde_json::to_value(&old).unwrap();
        assert!(written.get("images_sha256").is_none(), "{written}");
    }

    /// Bad sizes are named before any image file is read.
    #[test]
    fn sizes_are_checked_before_the_images_are_read() {
        let error = PatchSpec::identified(
            Some(PathBuf::from("/no/such/dir")),
            1,
            20,
            5,
            WhitenMode::Zca,
            1,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("patch side"), "{error}");
    }
}
