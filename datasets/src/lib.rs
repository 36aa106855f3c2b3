//! Data for deepbelief: labelled image sets (MNIST read from its original
//! IDX files, fetched and verified on demand; any other IDX set; NumPy
//! arrays) with the image size and classes taken from the data, small synthetic data sets whose
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
//! # Ok::<(), datasets::DataError>(())
//! ```

mod binarize;
mod error;
mod fetch;
mod idx;
mod image_set;
mod mnist;
mod natural;
mod npy;
mod source;
mod synthetic;

pub use binarize::Binarization;
pub use error::DataError;
pub use fetch::{FetchOptions, MNIST_FILES, MnistFile, fetch_mnist, sha256_hex};
pub use idx::{
    MAX_IDX_BYTES, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels,
};
pub use image_set::{ImageSet, ImageSplit, Intensities};
pub use mnist::{
    MNIST_PIXELS, MNIST_TRAIN_ROWS, MnistLocation, SIDE as MNIST_SIDE, ensure_mnist, load_mnist,
};
pub use natural::{
    GreyImage, ImageError, MAX_IMAGE_PIXELS, PatchTransform, VENDORED_IMAGES, Whitening,
    decode_grey_png, named_files_sha256, natural_images_dir, png_dir_sha256, random_patches,
    read_grey_png, read_grey_pngs, symmetric_eigen, vendored_grey_images, vendored_images_sha256,
};
pub use npy::{
    NpyImages, NpyRows, parse_npy_images, parse_npy_labels, parse_npy_rows, read_npy_images,
    read_npy_labels, read_npy_rows, write_npy_f32, write_npy_u8,
};
pub use source::{DataSource, load_idx_dir, load_npy_set, npy_set_files};
pub use synthetic::bars_and_stripes;

#[cfg(test)]
mod natural_tests;
#[cfg(test)]
mod tests;
