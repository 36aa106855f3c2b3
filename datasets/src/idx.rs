//! The IDX format of the original MNIST distribution: a big-endian header
//! (magic 2051 for images with count, rows, cols; 2049 for labels with
//! count), then one unsigned byte per pixel or label.

use std::io::Read;
use std::path::Path;

use crate::MnistError;

pub(crate) const IMAGES_MAGIC: u32 = 2051;
pub(crate) const LABELS_MAGIC: u32 = 2049;

/// Raw images: `count` images of `rows * cols` bytes, row-major.
#[derive(Debug, Clone)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Reads a whole file, transparently gunzipping names that end in `.gz`.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, MnistError> {
    let raw = std::fs::read(path).map_err(|e| MnistError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| MnistError::io(path, e))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn check_header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    header_len: usize,
) -> Result<(), MnistError> {
    if bytes.len() < header_len {
        return Err(MnistError::Truncated {
            file: path.to_path_buf(),
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(MnistError::BadMagic {
            file: path.to_path_buf(),
            expected: magic,
            found,
        });
    }
    Ok(())
}

fn check_length(path: &Path, bytes: &[u8], expected: u64) -> Result<(), MnistError> {
    // Longer than promised is as wrong as shorter: the file is not what its header says.
    if bytes.len() as u64 != expected {
        return Err(MnistError::Truncated {
            file: path.to_path_buf(),
            expected,
            found: bytes.len() as u64,
        });
    }
    Ok(())
}

/// Parses an IDX image file held in memory. `path` only names it in errors.
pub(crate) fn parse_images(path: &Path, bytes: Vec<u8>) -> Result<IdxImages, MnistError> {
    check_header(path, &bytes, IMAGES_MAGIC, 16)?;
    let count = be_u32(&bytes, 4) as usize;
    let rows = be_u32(&bytes, 8) as usize;
    let cols = be_u32(&bytes, 12) as usize;
    check_length(path, &bytes, 16 + (count * rows * cols) as u64)?;
    let mut pixels = bytes;
    pixels.drain(..16);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Parses an IDX label file held in memory; every label must be a digit.
pub(crate) fn parse_labels(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, MnistError> {
    check_header(path, &bytes, LABELS_MAGIC, 8)?;
    let count = be_u32(&bytes, 4) as usize;
    check_length(path, &bytes, 8 + count as u64)?;
    let mut labels = bytes;
    labels.drain(..8);
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(MnistError::LabelOutOfRange {
            file: path.to_path_buf(),
            index,
            value,
        });
    }
    Ok(labels)
}

/// Reads an IDX image file (raw, or gzip when the name ends in `.gz`).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, MnistError> {
    parse_images(path, read_maybe_gzip(path)?)
}

/// Reads an IDX label file (raw, or gzip when the name ends in `.gz`).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, MnistError> {
    parse_labels(path, read_maybe_gzip(path)?)
}
