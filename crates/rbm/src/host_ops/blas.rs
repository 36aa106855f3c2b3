//! Matrix products by the system's OpenBLAS (`openblas` feature), for
//! [`super::HostOps::matmul`] on Flex.
//!
//! Why: on the products of batch-100 training (`[100, 784] @ [784, 500]`,
//! their transposes for the gradients) OpenBLAS's kernels ran at 1.6x the
//! `gemm` crate's on a 2-core AVX-512 Xeon (docs/RESULTS.md, "The
//! products by OpenBLAS"). Its bits differ from `gemm`'s and depend on its
//! thread count (OpenBLAS splits the work by threads): the same seed, CPU
//! and thread count give the same model.

use std::ffi::{CStr, c_char, c_int};

const ROW_MAJOR: c_int = 101;
const NO_TRANSPOSE: c_int = 111;
const TRANSPOSE: c_int = 112;

#[link(name = "openblas")]
unsafe extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        transpose_a: c_int,
        transpose_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_get_corename() -> *const c_char;
    fn openblas_get_num_threads() -> c_int;
    fn openblas_get_config() -> *const c_char;
}

/// A strided `[rows, cols]` view as a row-major GEMM operand: its buffer
/// read as is or transposed, with its leading dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operand {
    pub transposed: bool,
    pub leading: usize,
}

/// How a view with element `(i, j)` at `i * row_stride + j * col_stride`
/// goes to the GEMM without a copy, or `None` when it cannot (broadcast,
/// negative or interleaved strides, or a leading dimension past `c_int`).
/// A stride along a dimension of size 1 is never used, so it may be
/// anything.
pub(crate) fn operand(
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
) -> Option<Operand> {
    let fits = |leading: usize| c_int::try_from(leading).is_ok();
    // Row-major: unit steps along a row, rows `leading` apart.
    if cols == 1 || col_stride == 1 {
        let leading = if rows == 1 {
            cols.max(1)
        } else {
            usize::try_from(row_stride).ok()?
        };
        if leading >= cols.max(1) && fits(leading) {
            return Some(Operand {
                transposed: false,
                leading,
            });
        }
    }
    // Column-major: the row-major transpose of a `[cols, rows]` buffer.
    if rows == 1 || row_stride == 1 {
        let leading = if cols == 1 {
            rows.max(1)
        } else {
            usize::try_from(col_stride).ok()?
        };
        if leading >= rows.max(1) && fits(leading) {
            return Some(Operand {
                transposed: true,
                leading,
            });
        }
    }
    None
}

/// `out = lhs @ rhs` (`[m, k] @ [k, n]`, `out` row-major `[m, n]`), the
/// operands as [`operand`] describes them from their first element, or
/// `None` (nothing written) when a size passes `c_int`.
///
/// # Safety
/// Each operand's pointer and description address its whole matrix
/// within one allocation, and `out` has room for `m * n` values; all of
/// them are written (beta 0: `out` is not read).
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    lhs: *const f32,
    lhs_operand: Operand,
    rhs: *const f32,
    rhs_operand: Operand,
    out: *mut f32,
) -> Option<()> {
    let size = |x: usize| c_int::try_from(x).ok();
    let (m_, n_, k_) = (size(m)?, size(n)?, size(k)?);
    let trans = |o: Operand| {
        if o.transposed {
            TRANSPOSE
        } else {
            NO_TRANSPOSE
        }
    };
    // SAFETY: the caller's contract; the leading dimensions fit `c_int`
    // (checked by `operand`) and BLAS reads each operand within them.
    unsafe {
        cblas_sgemm(
            ROW_MAJOR,
            trans(lhs_operand),
            trans(rhs_operand),
            m_,
            n_,
            k_,
            1.0,
            lhs,
            lhs_operand.leading as c_int,
            rhs,
            rhs_operand.leading as c_int,
            0.0,
            out,
            n_.max(1),
        );
    }
    Some(())
}

/// The library, its kernels and threads, as `OpenBLAS 0.3.21 ... SkylakeX,
/// 2 threads` (for benchmarks and run logs to say what multiplied).
pub fn describe() -> String {
    // SAFETY: OpenBLAS returns pointers to static NUL-terminated strings.
    let (config, core, threads) = unsafe {
        (
            CStr::from_ptr(openblas_get_config()).to_string_lossy(),
            CStr::from_ptr(openblas_get_corename()).to_string_lossy(),
            openblas_get_num_threads(),
        )
    };
    format!("{config}; kernels {core}, {threads} threads")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_as_is(leading: usize) -> Option<Operand> {
        Some(Operand {
            transposed: false,
            leading,
        })
    }

    fn transposed(leading: usize) -> Option<Operand> {
        Some(Operand {
            transposed: true,
            leading,
        })
    }

    /// Row-major views are read as they are, column-major ones (a
    /// transposed tensor) transposed, each with its leading dimension;
    /// strides along a dimension of size 1 are ignored; a broadcast, a
    /// negative stride, rows that overlap and a leading dimension past
    /// `c_int` are refused (the caller copies the operand).
    #[test]
    fn operands_are_read_in_place_only_when_blas_can_address_them() {
        assert_eq!(operand(100, 784, 784, 1), read_as_is(784));
        assert_eq!(operand(100, 784, 787, 1), read_as_is(787), "a slice");
        assert_eq!(operand(784, 100, 1, 784), transposed(784), "a transpose");
        assert_eq!(operand(784, 100, 1, 790), transposed(790));
        assert_eq!(operand(1, 5, 123, 1), read_as_is(5), "one row");
        assert_eq!(operand(5, 1, 1, 77), read_as_is(1), "one column");
        assert_eq!(operand(1, 1, 9, 9), read_as_is(1));
        assert_eq!(operand(1, 5, 0, 3), transposed(3), "one strided row");
        assert_eq!(operand(5, 1, 3, 0), read_as_is(3), "one strided column");
        assert_eq!(operand(4, 5, 0, 1), None, "a broadcast row");
        assert_eq!(operand(4, 5, 5, 0), None, "a broadcast column");
        assert_eq!(operand(4, 5, -5, 1), None, "a flip");
        assert_eq!(operand(4, 5, 3, 1), None, "overlapping rows");
        assert_eq!(operand(4, 5, 2, 2), None, "interleaved");
        let past = c_int::MAX as isize + 1;
        assert_eq!(
            operand(4, 5, past, 1),
            None,
            "a leading dimension past c_int"
        );
    }

    /// A product by `sgemm` with both operands transposed agrees with
    /// the one with neither, on the same values (small integers: exact).
    #[test]
    fn sgemm_reads_transposed_operands() {
        let (m, k, n) = (3, 4, 2);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 3) as f32).collect();
        let transpose = |x: &[f32], rows: usize, cols: usize| -> Vec<f32> {
            (0..cols)
                .flat_map(|j| (0..rows).map(move |i| x[i * cols + j]))
                .collect()
        };
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        let mut plain = vec![f32::NAN; m * n];
        let mut from_transposes = vec![f32::NAN; m * n];
        // SAFETY: each buffer holds its whole matrix as described.
        unsafe {
            sgemm(
                m,
                n,
                k,
                a.as_ptr(),
                read_as_is(k).unwrap(),
                b.as_ptr(),
                read_as_is(n).unwrap(),
                plain.as_mut_ptr(),
            )
            .unwrap();
            sgemm(
                m,
                n,
                k,
                at.as_ptr(),
                transposed(m).unwrap(),
                bt.as_ptr(),
                transposed(k).unwrap(),
                from_transposes.as_mut_ptr(),
            )
            .unwrap();
        }
        let exact: Vec<f32> = (0..m)
            .flat_map(|i| {
                let (a, b) = (&a, &b);
                (0..n).map(move |j| (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum())
            })
            .collect();
        assert_eq!(plain, exact);
        assert_eq!(from_transposes, exact);
    }
}
