use std::path::{Path, PathBuf};

use crate::fetch::{MNIST_FILES, locate, verify_checksum};
use crate::idx::{parse_idx_images, parse_idx_labels, read_maybe_gzip};
use crate::{Binarization, MnistError};

/// Side length of an MNIST image.
pub const SIDE: usize = 28;
/// Pixels per MNIST image.
pub const MNIST_PIXELS: usize = SIDE * SIDE;
/// Images in MNIST's training set (checked by SHA-256 when it is loaded).
pub const MNIST_TRAIN_ROWS: usize = 60_000;

/// The environment variable that overrides the default MNIST directory.
pub const MNIST_DIR_ENV: &str = "DEEPBELIEF_MNIST_DIR";

/// One split of MNIST: images as bytes (row-major, 28x28 each) and labels.
#[derive(Debug, Clone)]
pub struct MnistSplit {
    /// `len() * 784` pixel intensities, 0..=255.
    pub images: Vec<u8>,
    /// One digit 0..=9 per image.
    pub labels: Vec<u8>,
}

impl MnistSplit {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (784).
    pub fn dim(&self) -> usize {
        SIDE * SIDE
    }

    /// Pixels scaled to [0, 1] (or binarised), `len() * 784` values, row-major.
    pub fn pixels(&self, binarization: Binarization) -> Vec<f32> {
        binarization.apply(&self.images)
    }

    /// The first `n` images (all if fewer).
    pub fn head(&self, n: usize) -> MnistSplit {
        let n = n.min(self.len());
        MnistSplit {
            images: self.images[..n * self.dim()].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Images `start..end`, as a new split.
    pub fn range(&self, start: usize, end: usize) -> MnistSplit {
        let end = end.min(self.len());
        let start = start.min(end);
        MnistSplit {
            images: self.images[start * self.dim()..end * self.dim()].to_vec(),
            labels: self.labels[start..end].to_vec(),
        }
    }
}

/// MNIST: 60,000 training and 10,000 test images.
#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: MnistSplit,
    pub test: MnistSplit,
}

/// Where MNIST is to be found, and why there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistLocation {
    pub dir: PathBuf,
    /// "flag", "environment" or "default".
    pub source: &'static str,
}

impl MnistLocation {
    /// The directory from a command-line flag, else from
    /// `DEEPBELIEF_MNIST_DIR`, else `datasets/mnist/` in this repository.
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
            _ => Self {
                dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("mnist"),
                source: "default",
            },
        }
    }
}

/// Loads the four files from `dir` (raw or `.gz`), checking SHA-256 when
/// `verify`, then the headers, lengths, labels and counts.
pub fn load_mnist(dir: &Path, verify: bool) -> Result<Mnist, MnistError> {
    let missing: Vec<String> = MNIST_FILES
        .iter()
        .filter(|f| locate(dir, f).is_none())
        .map(|f| f.name.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(MnistError::MissingFiles {
            dir: dir.to_path_buf(),
            missing,
        });
    }
    let read = |index: usize| -> Result<(PathBuf, Vec<u8>), MnistError> {
        let file = &MNIST_FILES[index];
        let path = locate(dir, file).expect("presence checked above");
        let bytes = read_maybe_gzip(&path)?;
        if verify {
            verify_checksum(&path, &bytes, file)?;
        }
        Ok((path, bytes))
    };
    let split = |images_index: usize| -> Result<MnistSplit, MnistError> {
        let (images_path, images) = read(images_index)?;
        let (labels_path, labels) = read(images_index + 1)?;
        let images = parse_idx_images(&images_path, images)?;
        let labels = parse_idx_labels(&labels_path, labels)?;
        if (images.rows, images.cols) != (SIDE, SIDE) {
            return Err(MnistError::WrongImageSize {
                file: images_path,
                rows: images.rows,
                cols: images.cols,
                expected_rows: SIDE,
                expected_cols: SIDE,
            });
        }
        if images.count != labels.len() {
            return Err(MnistError::CountMismatch {
                images_file: images_path,
                labels_file: labels_path,
                images: images.count,
                labels: labels.len(),
            });
        }
        Ok(MnistSplit {
            images: images.pixels,
            labels,
        })
    };
    Ok(Mnist {
        train: split(0)?,
        test: split(2)?,
    })
}
