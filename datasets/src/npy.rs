//! NumPy `.npy` arrays (read with the `npyz` crate): images with labels for
//! `--data npy:PREFIX`, and real-valued rows for Gaussian RBMs.
//!
//! Every size is checked before anything is allocated: the file against
//! [`MAX_IDX_BYTES`](crate::MAX_IDX_BYTES), the header's shape (with checked
//! arithmetic) against the bytes that follow it.

use std::path::Path;

use npyz::{NpyFile, NpyHeader, Order, TypeChar, WriterBuilder};

use crate::error::DataError;
use crate::idx::read_maybe_gzip;
use crate::image_set::Intensities;

/// Images read from an npy file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyImages {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    pub intensities: Intensities,
}

/// Real-valued rows read from an npy file: `count` rows of `height * width`
/// values (a `[n, d]` array has height 1 unless `d` is a square).
#[derive(Debug, Clone, PartialEq)]
pub struct NpyRows {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    /// `count * height * width` finite values, row-major.
    pub values: Vec<f32>,
}

/// A parsed header and the data bytes after it, checked to hold exactly
/// the shape's elements.
struct CheckedArray<'a> {
    header: NpyHeader,
    data: &'a [u8],
}

fn check_array<'a>(path: &Path, bytes: &'a [u8]) -> Result<CheckedArray<'a>, DataError> {
    let bad = |reason: String| DataError::BadNpy {
        file: path.to_path_buf(),
        reason,
    };
    // The header's own length field (u16 in version 1, u32 after) is
    // checked first: npyz allocates whatever length it declares.
    let declared = match bytes {
        [0x93, b'N', b'U', b'M', b'P', b'Y', 1, _, a, b, ..] => {
            10 + u16::from_le_bytes([*a, *b]) as u64
        }
        [0x93, b'N', b'U', b'M', b'P', b'Y', 2 | 3, _, a, b, c, d, ..] => {
            12 + u32::from_le_bytes([*a, *b, *c, *d]) as u64
        }
        _ => {
            return Err(bad(
                "no NumPy magic and version 1, 2 or 3 at the start".into()
            ));
        }
    };
    if declared > bytes.len() as u64 {
        return Err(DataError::Truncated {
            file: path.to_path_buf(),
            expected: declared,
            found: bytes.len() as u64,
        });
    }
    let mut rest = bytes;
    let header = NpyHeader::from_reader(&mut rest).map_err(|e| bad(e.to_string()))?;
    if header.order() == Order::Fortran && header.shape().len() > 1 {
        return Err(bad(
            "Fortran-ordered arrays are not read; save with np.ascontiguousarray".into(),
        ));
    }
    let npyz::DType::Plain(type_str) = header.dtype() else {
        return Err(bad(format!(
            "structured dtype {}; expected a plain number type",
            header.dtype().descr()
        )));
    };
    let item = type_str.num_bytes().unwrap_or(0) as u64;
    let expected = header
        .shape()
        .iter()
        .try_fold(item, |n, &d| n.checked_mul(d))
        .unwrap_or(u64::MAX);
    let header_len = (bytes.len() - rest.len()) as u64;
    if expected != rest.len() as u64 {
        return Err(DataError::Truncated {
            file: path.to_path_buf(),
            expected: header_len.saturating_add(expected),
            found: bytes.len() as u64,
        });
    }
    Ok(CheckedArray { header, data: rest })
}

fn dtype_error(path: &Path, header: &NpyHeader, expected: &'static str) -> DataError {
    DataError::NpyDtype {
        file: path.to_path_buf(),
        found: header.dtype().descr(),
        expected,
    }
}

/// `[n, h, w]` or `[n, d]` as (n, h, w); `d` becomes a square when it is one.
fn image_shape(path: &Path, shape: &[u64]) -> Result<(usize, usize, usize), DataError> {
    let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    match *shape {
        [n, h, w] => Ok((to_usize(n), to_usize(h), to_usize(w))),
        [n, d] => {
            let side = (d as f64).sqrt().round() as u64;
            if side * side == d {
                Ok((to_usize(n), to_usize(side), to_usize(side)))
            } else {
                Ok((to_usize(n), 1, to_usize(d)))
            }
        }
        _ => Err(DataError::NpyShape {
            file: path.to_path_buf(),
            shape: shape.to_vec(),
            expected: "[n, height, width] or [n, pixels]",
        }),
    }
}

fn read_floats(path: &Path, array: CheckedArray<'_>) -> Result<Vec<f32>, DataError> {
    let io = |e| DataError::io(path, e);
    let type_str = match array.header.dtype() {
        npyz::DType::Plain(t) => t,
        _ => unreachable!("check_array accepts plain dtypes only"),
    };
    let values: Vec<f32> = match (type_str.type_char(), type_str.size_field()) {
        (TypeChar::Float, 4) => NpyFile::with_header(array.header, array.data)
            .into_vec::<f32>()
            .map_err(io)?,
        (TypeChar::Float, 8) => NpyFile::with_header(array.header, array.data)
            .into_vec::<f64>()
            .map_err(io)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        _ => return Err(dtype_error(path, &array.header, "float32 or float64")),
    };
    Ok(values)
}

/// Reads images for a classifier or binary RBM: `uint8` (0..=255) or
/// `float32`/`float64` intensities in [0, 1].
pub fn read_npy_images(path: &Path) -> Result<NpyImages, DataError> {
    parse_npy_images(path, &read_maybe_gzip(path)?)
}

/// [`read_npy_images`] on bytes held in memory; `path` only names them in errors.
pub fn parse_npy_images(path: &Path, bytes: &[u8]) -> Result<NpyImages, DataError> {
    let array = check_array(path, bytes)?;
    let (count, height, width) = image_shape(path, array.header.shape())?;
    let is_bytes = matches!(
        array.header.dtype(),
        npyz::DType::Plain(t) if t.type_char() == TypeChar::Uint && t.size_field() == 1
    );
    let intensities = if is_bytes {
        Intensities::Bytes(
            NpyFile::with_header(array.header, array.data)
                .into_vec::<u8>()
                .map_err(|e| DataError::io(path, e))?,
        )
    } else {
        let values = read_floats(path, array).map_err(|error| match error {
            DataError::NpyDtype { file, found, .. } => DataError::NpyDtype {
                file,
                found,
                expected: "uint8, float32 or float64",
            },
            other => other,
        })?;
        if let Some((index, &value)) = values
            .iter()
            .enumerate()
            .find(|(_, v)| !(0.0..=1.0).contains(*v))
        {
            return Err(DataError::ValueOutOfRange {
                file: path.to_path_buf(),
                index,
                value,
                expected: "an intensity in [0, 1] (binary visible units)",
            });
        }
        Intensities::Unit(values)
    };
    Ok(NpyImages {
        count,
        height,
        width,
        intensities,
    })
}

/// Reads class labels: a 1-D array of any integer type, values 0..=255.
pub fn read_npy_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_npy_labels(path, &read_maybe_gzip(path)?)
}

/// [`read_npy_labels`] on bytes held in memory; `path` only names them in errors.
pub fn parse_npy_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let array = check_array(path, bytes)?;
    if array.header.shape().len() != 1 {
        return Err(DataError::NpyShape {
            file: path.to_path_buf(),
            shape: array.header.shape().to_vec(),
            expected: "[n]",
        });
    }
    let npyz::DType::Plain(type_str) = array.header.dtype() else {
        unreachable!("check_array accepts plain dtypes only")
    };
    let io = |e| DataError::io(path, e);
    let file = || NpyFile::with_header(array.header.clone(), array.data);
    let wide: Vec<i128> = match (type_str.type_char(), type_str.size_field()) {
        (TypeChar::Uint, 1) => widen(file().into_vec::<u8>().map_err(io)?),
        (TypeChar::Uint, 2) => widen(file().into_vec::<u16>().map_err(io)?),
        (TypeChar::Uint, 4) => widen(file().into_vec::<u32>().map_err(io)?),
        (TypeChar::Uint, 8) => widen(file().into_vec::<u64>().map_err(io)?),
        (TypeChar::Int, 1) => widen(file().into_vec::<i8>().map_err(io)?),
        (TypeChar::Int, 2) => widen(file().into_vec::<i16>().map_err(io)?),
        (TypeChar::Int, 4) => widen(file().into_vec::<i32>().map_err(io)?),
        (TypeChar::Int, 8) => widen(file().into_vec::<i64>().map_err(io)?),
        _ => return Err(dtype_error(path, &array.header, "an integer type")),
    };
    wide.into_iter()
        .enumerate()
        .map(|(index, value)| {
            u8::try_from(value).map_err(|_| DataError::LabelTooLarge {
                file: path.to_path_buf(),
                index,
                value: value as i64,
            })
        })
        .collect()
}

fn widen<T: Into<i128>>(values: Vec<T>) -> Vec<i128> {
    values.into_iter().map(Into::into).collect()
}

/// Reads real-valued rows (`float32` or `float64`, `[n, d]` or `[n, h, w]`),
/// every value finite, for models with Gaussian visible units.
pub fn read_npy_rows(path: &Path) -> Result<NpyRows, DataError> {
    parse_npy_rows(path, &read_maybe_gzip(path)?)
}

/// [`read_npy_rows`] on bytes held in memory; `path` only names them in errors.
pub fn parse_npy_rows(path: &Path, bytes: &[u8]) -> Result<NpyRows, DataError> {
    let array = check_array(path, bytes)?;
    let (count, height, width) = image_shape(path, array.header.shape())?;
    let values = read_floats(path, array)?;
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DataError::ValueOutOfRange {
            file: path.to_path_buf(),
            index,
            value,
            expected: "a finite number",
        });
    }
    Ok(NpyRows {
        count,
        height,
        width,
        values,
    })
}

/// Writes `values` as a little-endian `float32` array of `shape` (C order).
///
/// # Panics
/// When the product of `shape` is not `values.len()`.
pub fn write_npy_f32(path: &Path, shape: &[u64], values: &[f32]) -> Result<(), DataError> {
    assert_eq!(
        shape.iter().product::<u64>(),
        values.len() as u64,
        "write_npy_f32: shape does not match the values"
    );
    write_npy(path, shape, values.iter().copied())
}

/// Writes `values` as a `uint8` array of `shape` (C order): images as
/// bytes, or class labels.
///
/// # Panics
/// When the product of `shape` is not `values.len()`.
pub fn write_npy_u8(path: &Path, shape: &[u64], values: &[u8]) -> Result<(), DataError> {
    assert_eq!(
        shape.iter().product::<u64>(),
        values.len() as u64,
        "write_npy_u8: shape does not match the values"
    );
    write_npy(path, shape, values.iter().copied())
}

/// Writes `values` as a 1-D or N-D array of any npy-serialisable number type.
fn write_npy<T: npyz::AutoSerialize>(
    path: &Path,
    shape: &[u64],
    values: impl IntoIterator<Item = T>,
) -> Result<(), DataError> {
    let io = |e| DataError::io(path, e);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut file)
        .begin_nd()
        .map_err(io)?;
    writer.extend(values).map_err(io)?;
    writer.finish().map_err(io)
}
