//! Natural-image patches for real-valued RBMs: grey images read from PNG
//! files, random square patches, and their preprocessing (mean removal,
//! standardisation, ZCA whitening).

use std::path::{Path, PathBuf};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// The vendored images' directory in this repository (the source of
/// [`VENDORED_IMAGES`]; a binary does not read it).
pub fn natural_images_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("natural-images")
}

/// The seven vendored photographs of `natural-images/` (see its README),
/// built into the binary so that an installed or moved binary, or a build
/// whose source tree has gone, still has them: (file name, PNG bytes), in
/// file-name order as [`read_grey_pngs`] reads a directory.
pub const VENDORED_IMAGES: [(&str, &[u8]); 7] = [
    (
        "astronaut.png",
        include_bytes!("../natural-images/astronaut.png"),
    ),
    ("brick.png", include_bytes!("../natural-images/brick.png")),
    ("camera.png", include_bytes!("../natural-images/camera.png")),
    (
        "chelsea.png",
        include_bytes!("../natural-images/chelsea.png"),
    ),
    ("coffee.png", include_bytes!("../natural-images/coffee.png")),
    ("grass.png", include_bytes!("../natural-images/grass.png")),
    ("gravel.png", include_bytes!("../natural-images/gravel.png")),
];

/// The vendored images decoded as grey images, each named
/// `natural-images/NAME` in errors and in [`GreyImage::path`].
pub fn vendored_grey_images() -> Result<Vec<GreyImage>, ImageError> {
    VENDORED_IMAGES
        .iter()
        .map(|(name, bytes)| decode_grey_png(&Path::new("natural-images").join(name), bytes))
        .collect()
}

/// SHA-256 (hex) of a set of named files, as an image set's identity: the
/// names in the order given, each followed by a 0 byte, its length (8
/// bytes, little-endian) and its bytes, so that no two sets share a stream.
pub fn named_files_sha256<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (name, bytes) in files {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// [`named_files_sha256`] of the vendored images.
pub fn vendored_images_sha256() -> String {
    named_files_sha256(VENDORED_IMAGES.iter().copied())
}

/// [`named_files_sha256`] of the `.png` files in `dir` that
/// [`read_grey_pngs`] reads, by their file names.
pub fn png_dir_sha256(dir: &Path) -> Result<String, ImageError> {
    let files = png_paths(dir)?
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).map_err(|source| ImageError::Io {
                path: path.clone(),
                source,
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, bytes))
        })
        .collect::<Result<Vec<_>, ImageError>>()?;
    Ok(named_files_sha256(
        files.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
    ))
}

/// Errors reading images or cutting patches; each names the file or the numbers.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable PNG: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("{path} is {width}x{height} pixels, above the limit of {limit}")]
    TooLarge {
        path: PathBuf,
        width: u64,
        height: u64,
        limit: u64,
    },
    #[error("no PNG files in {0}")]
    NoImages(PathBuf),
    #[error("{path} is {width}x{height}, smaller than the {patch}x{patch} patches")]
    TooSmall {
        path: PathBuf,
        width: usize,
        height: usize,
        patch: usize,
    },
}

/// A grey image with intensities in [0, 1], row-major.
#[derive(Debug, Clone)]
pub struct GreyImage {
    pub path: PathBuf,
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
}

/// The most pixels an image may have (2^26, e.g. 8192 x 8192): checked
/// from the PNG header before any pixel buffer is allocated.
pub const MAX_IMAGE_PIXELS: u64 = 1 << 26;

/// Reads one PNG (grey, grey+alpha, RGB or RGBA; 8 or 16 bits) as grey:
/// colour becomes ITU-R 601 luma, alpha is ignored. Images of more than
/// [`MAX_IMAGE_PIXELS`] are refused from their header.
pub fn read_grey_png(path: &Path) -> Result<GreyImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_grey_png(path, &bytes)
}

/// Decodes PNG bytes as [`read_grey_png`] does; `path` only names them in
/// errors.
pub fn decode_grey_png(path: &Path, bytes: &[u8]) -> Result<GreyImage, ImageError> {
    let decode = |message: String| ImageError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| decode(e.to_string()))?;
    let (width, height) = {
        let info = reader.info();
        (info.width as u64, info.height as u64)
    };
    if width * height > MAX_IMAGE_PIXELS {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            limit: MAX_IMAGE_PIXELS,
        });
    }
    // At most 4 bytes per pixel after EXPAND and STRIP_16 (RGBA, 8 bits).
    let size = reader
        .output_buffer_size()
        .filter(|&size| size as u64 <= 4 * MAX_IMAGE_PIXELS)
        .ok_or_else(|| decode("output buffer larger than the image size implies".into()))?;
    let mut buffer = vec![0u8; size];
    let info = reader
        .next_frame(&mut buffer)
        .map_err(|e| decode(e.to_string()))?;
    let channels = info.color_type.samples();
    let (width, height) = (info.width as usize, info.height as usize);
    let pixels = buffer[..info.buffer_size()]
        .chunks(channels)
        .map(|p| match channels {
            1 | 2 => p[0] as f32 / 255.0,
            _ => (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0,
        })
        .collect::<Vec<_>>();
    if pixels.len() != width * height {
        return Err(decode(format!(
            "{} pixels decoded for {width}x{height}",
            pixels.len()
        )));
    }
    Ok(GreyImage {
        path: path.to_path_buf(),
        width,
        height,
        pixels,
    })
}

/// Every `.png` in `dir`, in file-name order.
pub fn read_grey_pngs(dir: &Path) -> Result<Vec<GreyImage>, ImageError> {
    png_paths(dir)?.iter().map(|p| read_grey_png(p)).collect()
}

/// The paths of the `.png` files in `dir` (any case of the extension),
/// sorted; none is an error naming `dir`.
fn png_paths(dir: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ImageError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ImageError::NoImages(dir.to_path_buf()));
    }
    Ok(paths)
}

/// `count` random `size x size` patches, row-major, each drawn from an image
/// chosen uniformly and a uniform position in it, with `seed`.
pub fn random_patches(
    images: &[GreyImage],
    size: usize,
    count: usize,
    seed: u64,
) -> Result<Vec<f32>, ImageError> {
    if images.is_empty() {
        return Err(ImageError::NoImages(PathBuf::from("<no images given>")));
    }
    if let Some(small) = images.iter().find(|i| i.width < size || i.height < size) {
        return Err(ImageError::TooSmall {
            path: small.path.clone(),
            width: small.width,
            height: small.height,
            patch: size,
        });
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count * size * size);
    for _ in 0..count {
        let image = &images[below(&mut rng, images.len())];
        let x = below(&mut rng, image.width - size + 1);
        let y = below(&mut rng, image.height - size + 1);
        for row in y..y + size {
            let start = row * image.width + x;
            out.extend_from_slice(&image.pixels[start..start + size]);
        }
    }
    Ok(out)
}

/// A uniform integer in `0..n` (multiply-shift; bias below 2^-32 for the
/// sizes here).
fn below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// How patches are prepared for Gaussian visible units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Whitening {
    /// Per-patch mean removed, then every value divided by the global
    /// standard deviation (unit variance overall).
    Standardise,
    /// Per-patch mean removed, then ZCA whitening, `C^(-1/2)` with
    /// eigenvalues floored at `epsilon` times the largest, which decorrelates
    /// pixels (unit variance per direction) while keeping patches looking like
    /// images.
    Zca { epsilon: f64 },
}

/// A fitted preprocessing, to apply the same transform to other patches.
#[derive(Debug, Clone)]
pub struct PatchTransform {
    dim: usize,
    /// Row-major `[dim, dim]` matrix applied after mean removal.
    matrix: Vec<f64>,
}

impl PatchTransform {
    /// Fits the transform on `patches` (rows of `dim` values).
    ///
    /// # Panics
    /// If `patches.len()` is not a positive multiple of `dim`.
    pub fn fit(patches: &[f32], dim: usize, whitening: Whitening) -> Self {
        assert!(
            dim > 0 && !patches.is_empty() && patches.len().is_multiple_of(dim),
            "patches must be rows of {dim}"
        );
        let centred = remove_patch_means(patches, dim);
        let rows = centred.len() / dim;
        let mut covariance = vec![0.0f64; dim * dim];
        for row in centred.chunks(dim) {
            for i in 0..dim {
                let ri = row[i];
                for j in i..dim {
                    covariance[i * dim + j] += ri * row[j];
                }
            }
        }
        for i in 0..dim {
            for j in i..dim {
                let c = covariance[i * dim + j] / rows as f64;
                covariance[i * dim + j] = c;
                covariance[j * dim + i] = c;
            }
        }
        let matrix = match whitening {
            Whitening::Standardise => {
                let variance = (0..dim).map(|i| covariance[i * dim + i]).sum::<f64>() / dim as f64;
                let scale = 1.0 / variance.max(1e-12).sqrt();
                (0..dim * dim)
                    .map(|k| if k / dim == k % dim { scale } else { 0.0 })
                    .collect()
            }
            Whitening::Zca { epsilon } => {
                let (values, vectors) = symmetric_eigen(&covariance, dim);
                let floor = epsilon * values.iter().cloned().fold(0.0, f64::max);
                let mut matrix = vec![0.0; dim * dim];
                for (k, &value) in values.iter().enumerate() {
                    let scale = 1.0 / value.max(floor).max(1e-12).sqrt();
                    for i in 0..dim {
                        let ui = vectors[i * dim + k] * scale;
                        for j in 0..dim {
                            matrix[i * dim + j] += ui * vectors[j * dim + k];
                        }
                    }
                }
                matrix
            }
        };
        Self { dim, matrix }
    }

    /// Removes each patch's mean and applies the fitted matrix.
    pub fn apply(&self, patches: &[f32]) -> Vec<f32> {
        let dim = self.dim;
        let centred = remove_patch_means(patches, dim);
        let mut out = Vec::with_capacity(patches.len());
        for row in centred.chunks(dim) {
            for i in 0..dim {
                let m = &self.matrix[i * dim..(i + 1) * dim];
                out.push(m.iter().zip(row).map(|(a, b)| a * b).sum::<f64>() as f32);
            }
        }
        out
    }
}

fn remove_patch_means(patches: &[f32], dim: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(patches.len());
    for row in patches.chunks(dim) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / dim as f64;
        out.extend(row.iter().map(|&v| v as f64 - mean));
    }
    out
}

/// Eigenvalues and eigenvectors (columns of a row-major `[n, n]` matrix) of
/// a symmetric matrix, by nalgebra's symmetric QR algorithm.
///
/// # Panics
/// When `matrix.len() != n * n`.
pub fn symmetric_eigen(matrix: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(matrix.len(), n * n, "symmetric_eigen: matrix is not n x n");
    // Row-major input of a symmetric matrix reads the same column-major.
    let eigen = nalgebra::DMatrix::from_column_slice(n, n, matrix).symmetric_eigen();
    let vectors = (0..n * n)
        .map(|k| eigen.eigenvectors[(k / n, k % n)])
        .collect();
    (eigen.eigenvalues.iter().copied().collect(), vectors)
}
