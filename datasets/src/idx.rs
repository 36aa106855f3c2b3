//! The IDX format of the original MNIST distribution: a big-endian header
//! (magic 2051 for images with count, rows, cols; 2049 for labels with
//! count), then one unsigned byte per pixel or label.

use std::io::Read;
use std::path::Path;

use crate::error::DataError;

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

/// The largest IDX file (after gunzipping) the readers accept: 4 GiB, 80
/// times MNIST's training images. Sizes in headers are checked against
/// the file's length with checked arithmetic, and a gzip stream is cut at
/// this length, so no header or archive can make a reader allocate more.
pub const MAX_IDX_BYTES: u64 = 1 << 32;

/// Reads a whole file, transparently gunzipping names that end in `.gz`,
/// refusing more than [`MAX_IDX_BYTES`] either way.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let too_large = |found: u64| DataError::TooLarge {
        file: path.to_path_buf(),
        limit: MAX_IDX_BYTES,
        found,
    };
    let length = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, e))?
        .len();
    if length > MAX_IDX_BYTES {
        return Err(too_large(length));
    }
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        // One byte past the limit tells "too large" from "exactly the limit".
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| DataError::io(path, e))?;
        if out.len() as u64 > MAX_IDX_BYTES {
            return Err(too_large(out.len() as u64));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn check_header(path: &Path, bytes: &[u8], magic: u32, header_len: usize) -> Result<(), DataError> {
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            file: path.to_path_buf(),
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(DataError::BadMagic {
            file: path.to_path_buf(),
            expected: magic,
            found,
        });
    }
    Ok(())
}

fn check_length(path: &Path, bytes: &[u8], expected: u64) -> Result<(), DataError> {
    // Longer than promised is as wrong as shorter: the file is not what its header says.
    if bytes.len() as u64 != expected {
        return Err(DataError::Truncated {
            file: path.to_path_buf(),
            expected,
            found: bytes.len() as u64,
        });
    }
    Ok(())
}

/// Parses an IDX image file held in memory. `path` only names it in errors.
/// Any header that does not match the length of `bytes` exactly is an error.
pub fn parse_idx_images(path: &Path, bytes: Vec<u8>) -> Result<IdxImages, DataError> {
    check_header(path, &bytes, IMAGES_MAGIC, 16)?;
    let count = be_u32(&bytes, 4) as u64;
    let rows = be_u32(&bytes, 8) as u64;
    let cols = be_u32(&bytes, 12) as u64;
    // Three u32 factors can overflow u64: an overflowing header is as
    // wrong as any other that promises more bytes than the file has.
    let expected = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .and_then(|n| n.checked_add(16))
        .unwrap_or(u64::MAX);
    check_length(path, &bytes, expected)?;
    let (count, rows, cols) = (count as usize, rows as usize, cols as usize);
    let mut pixels = bytes;
    pixels.drain(..16);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Parses an IDX label file held in memory (any byte is a label; MNIST's
/// loader checks for digits).
pub fn parse_idx_labels(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    check_header(path, &bytes, LABELS_MAGIC, 8)?;
    let count = be_u32(&bytes, 4) as u64;
    check_length(path, &bytes, 8 + count)?;
    let mut labels = bytes;
    labels.drain(..8);
    Ok(labels)
}

/// Reads an IDX image file (raw, or gzip when the name ends in `.gz`).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_idx_images(path, read_maybe_gzip(path)?)
}

/// Reads an IDX label file (raw, or gzip when the name ends in `.gz`).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_idx_labels(path, read_maybe_gzip(path)?)
}
