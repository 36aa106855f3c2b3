use std::path::{Path, PathBuf};

use crate::image_set::{ImageSet, ImageSplit, Intensities};

use crate::error::DataError;
use crate::fetch::{FetchOptions, MNIST_FILES, fetch_mnist, locate, verify_checksum};
use crate::idx::{parse_idx_images, parse_idx_labels, read_maybe_gzip};

/// Side length of an MNIST image.
pub const SIDE: usize = 28;
/// Pixels per MNIST image.
pub const MNIST_PIXELS: usize = SIDE * SIDE;
/// Images in MNIST's training set (checked by SHA-256 when it is loaded).
pub const MNIST_TRAIN_ROWS: usize = 60_000;

/// The environment variable that overrides the default MNIST directory.
pub const MNIST_DIR_ENV: &str = "DEEPBELIEF_MNIST_DIR";

/// Where MNIST is to be found, and why there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistLocation {
    pub dir: PathBuf,
    /// "flag", "environment" or "default".
    pub source: &'static str,
}

impl MnistLocation {
    /// The directory from a command-line flag, else from
    /// `DEEPBELIEF_MNIST_DIR`, else `deepbelief/mnist` in the user's cache
    /// directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux, from the `dirs`
    /// crate), else in the system's temporary directory.
    pub fn resolve(flag: Option<PathBuf>) -> Self {
        if let Some(dir) = flag {
            return Self {
                dir,
                source: "flag",
            };
        }
        match std::env::var_os(MNIST_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Self {
                dir: dir.into(),
                source: "environment",
            },
            _ => match dirs::cache_dir() {
                Some(cache) => Self {
                    dir: cache.join("deepbelief").join("mnist"),
                    source: "user cache",
                },
                None => Self {
                    dir: std::env::temp_dir().join("deepbelief").join("mnist"),
                    source: "temporary directory (no user cache directory)",
                },
            },
        }
    }
}

/// Loads the four files from `dir` (raw or `.gz`), checking SHA-256 when
/// `verify`, then the headers, lengths, labels and counts.
pub fn load_mnist(dir: &Path, verify: bool) -> Result<ImageSet, DataError> {
    let missing: Vec<String> = MNIST_FILES
        .iter()
        .filter(|f| locate(dir, f).is_none())
        .map(|f| f.name.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DataError::MissingFiles {
            dir: dir.to_path_buf(),
            missing,
        });
    }
    let read = |index: usize| -> Result<(PathBuf, Vec<u8>), DataError> {
        let file = &MNIST_FILES[index];
        let path = locate(dir, file).expect("presence checked above");
        let bytes = read_maybe_gzip(&path)?;
        if verify {
            verify_checksum(&path, &bytes, file)?;
        }
        Ok((path, bytes))
    };
    let split = |images_index: usize| -> Result<ImageSplit, DataError> {
        let (images_path, images) = read(images_index)?;
        let (labels_path, labels) = read(images_index + 1)?;
        let images = parse_idx_images(&images_path, images)?;
        let labels = parse_idx_labels(&labels_path, labels)?;
        if let Some((index, &value)) = labels.iter().enumerate().find(|(_, l)| **l > 9) {
            return Err(DataError::LabelOutOfRange {
                file: labels_path,
                index,
                value,
            });
        }
        if (images.rows, images.cols) != (SIDE, SIDE) {
            return Err(DataError::WrongImageSize {
                file: images_path,
                rows: images.rows,
                cols: images.cols,
                expected_rows: SIDE,
                expected_cols: SIDE,
            });
        }
        ImageSplit::from_files(
            Intensities::Bytes(images.pixels),
            (images.count, images.rows, images.cols),
            labels,
            (&images_path, &labels_path),
        )
    };
    Ok(ImageSet {
        train: split(0)?,
        test: split(2)?,
        classes: 10,
    })
}

/// Loads MNIST from `dir`, first fetching it there when files are missing
/// and `options.fetch_if_missing` is set.
pub fn ensure_mnist(dir: &Path, options: &FetchOptions) -> Result<ImageSet, DataError> {
    let missing = MNIST_FILES.iter().any(|f| locate(dir, f).is_none());
    if missing && options.fetch_if_missing {
        fetch_mnist(dir, options)?;
    }
    load_mnist(dir, options.verify)
}
