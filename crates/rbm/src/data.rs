//! Moving data sets onto the device and checking them once, up front.

use burn::prelude::*;

use crate::error::RbmError;
use crate::units::UnitKind;

/// A `[rows, width]` tensor from row-major host values.
///
/// # Panics
/// If `values.len()` is not a multiple of `width`.
pub fn tensor_from_rows(values: &[f32], width: usize, device: &Device) -> Tensor<2> {
    assert!(
        width > 0 && values.len().is_multiple_of(width),
        "tensor_from_rows: {} values do not make rows of {width}",
        values.len()
    );
    let rows = values.len() / width;
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, width]), device)
}

/// Checks that `data` has `n_visible` columns and at least one row.
pub fn check_shape(data: &Tensor<2>, n_visible: usize, what: &'static str) -> Result<(), RbmError> {
    let [rows, width] = data.dims();
    if width != n_visible {
        return Err(RbmError::DataWidth {
            what,
            expected: n_visible,
            found: width,
        });
    }
    if rows == 0 {
        return Err(RbmError::EmptyData { what });
    }
    Ok(())
}

/// Checks that `data` can feed visible units of kind `units`: the right
/// width, at least one row ([`check_shape`]), finite values within the
/// units' range.
pub fn check_data(
    units: UnitKind,
    data: &Tensor<2>,
    n_visible: usize,
    what: &'static str,
) -> Result<(), RbmError> {
    check_shape(data, n_visible, what)?;
    let non_finite = data
        .clone()
        .is_finite()
        .bool_not()
        .int()
        .sum()
        .into_scalar::<i64>() as usize;
    if non_finite > 0 {
        return Err(RbmError::NonFiniteData {
            what,
            count: non_finite,
        });
    }
    if let Some((low, high)) = units.valid_range() {
        let outside = data
            .clone()
            .lower_elem(low)
            .bool_or(data.clone().greater_elem(high));
        let count = outside.clone().int().sum().into_scalar::<i64>() as usize;
        if count > 0 {
            let example = data
                .clone()
                .mask_fill(outside.bool_not(), f32::NAN)
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap_or_default()
                .into_iter()
                .find(|v| !v.is_nan())
                .unwrap_or(f32::NAN);
            return Err(RbmError::DataOutOfRange {
                what,
                count,
                example,
                units: units.name(),
                low,
                high,
            });
        }
    }
    Ok(())
}
