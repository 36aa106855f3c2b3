//! Data for deepbelief: MNIST read from its original IDX files (raw or gzip),
//! fetched and verified on demand, and small synthetic data sets whose
//! distributions are known exactly, and patches of the vendored natural
//! images for real-valued models.
//!
//! This crate does no printing. Its only file I/O is reading the data set
//! and, in [`fetch_mnist`], writing the verified files into the cache.
//!
//! # Example
//! ```no_run
//! use datasets::{Binarization, MnistLocation};
//! let dir = MnistLocation::resolve(None).dir;
//! let mnist = datasets::ensure_mnist(&dir, &datasets::FetchOptions::default())?;
//! let pixels = mnist.train.pixels(Binarization::None); // [60000 * 784], in [0, 1]
//! assert_eq!(pixels.len(), 60_000 * 784);
//! # Ok::<(), datasets::MnistError>(())
//! ```

mod binarize;
mod error;
mod fetch;
mod idx;
mod mnist;
mod natural;
mod synthetic;

pub use binarize::Binarization;
pub use error::MnistError;
pub use fetch::{FetchOptions, MNIST_FILES, MnistFile, ensure_mnist, fetch_mnist, sha256_hex};
pub use idx::{
    MAX_IDX_BYTES, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels,
};
pub use mnist::{MNIST_PIXELS, MNIST_TRAIN_ROWS, Mnist, MnistLocation, MnistSplit, load_mnist};
pub use natural::{
    GreyImage, ImageError, MAX_IMAGE_PIXELS, PatchTransform, Whitening, decode_grey_png,
    natural_images_dir, random_patches, read_grey_png, read_grey_pngs, symmetric_eigen,
};
pub use synthetic::bars_and_stripes;

#[cfg(test)]
mod natural_tests;
#[cfg(test)]
mod tests;
