//! Matrix products by the system's OpenBLAS (`openblas` feature), for
//! [`super::HostOps::matmul`] on Flex.
//!
//! On the products of batch-100 training (`[100, 784] @ [784, 500]`, their
//! transposes for the gradients) OpenBLAS's kernels ran at 1.6x the
//! `gemm` crate's on a 2-core AVX-512 Xeon; end to end, 1.0-1.1x on PCD
//! and up-down and no gain on fine-tuning (docs/RESULTS.md, "Matrix
//! products by OpenBLAS"), so it is an option, not the default. Its bits
//! differ from `gemm`'s. OpenBLAS's own
//! threads would make them depend on the thread count, spin beside
//! rayon's between products, and queue the products of nets trained side
//! by side on rayon's threads for one pool (the pretraining study ran
//! 2.35x slower so); here every call is single-threaded and the threads
//! are rayon's, each with blocks of the output fixed by the shape alone
//! ([`super::blocks`]): the same seed and CPU give the same model on any number
//! of threads (tested).

use super::blocks::for_each_block;
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
    fn openblas_set_num_threads(threads: c_int);
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
    // Row-major: unit steps along a row, rows `leading` apart; else
    // column-major: the row-major transpose of a `[cols, rows]` buffer.
    let as_is = leading(rows, cols, row_stride, col_stride).map(|leading| Operand {
        transposed: false,
        leading,
    });
    as_is.or_else(|| {
        leading(cols, rows, col_stride, row_stride).map(|leading| Operand {
            transposed: true,
            leading,
        })
    })
}

/// The leading dimension of `lines` lines of `len` values, `step` apart
/// within a line and `line_stride` between lines, or `None` unless the
/// steps are unit and the lines do not overlap.
fn leading(lines: usize, len: usize, line_stride: isize, step: isize) -> Option<usize> {
    if len != 1 && step != 1 {
        return None;
    }
    let leading = if lines == 1 {
        len.max(1)
    } else {
        usize::try_from(line_stride).ok()?
    };
    (leading >= len.max(1) && c_int::try_from(leading).is_ok()).then_some(leading)
}

/// `out = lhs @ rhs`, row-major `[rows, k] @ [k, cols]`: the operands
/// as [`operand`] describes them from their first element, `out`'s rows
/// `out_leading` apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product {
    pub rows: usize,
    pub cols: usize,
    pub k: usize,
    pub lhs: *const f32,
    pub lhs_operand: Operand,
    pub rhs: *const f32,
    pub rhs_operand: Operand,
    pub out: *mut f32,
    pub out_leading: usize,
}

// SAFETY: rayon's tasks share a product only to compute disjoint blocks
// of its output ([`sgemm`]).
unsafe impl Send for Product {}
unsafe impl Sync for Product {}

impl Product {
    /// The product's rows (`along_rows`) or columns `start..end`: those of
    /// `out` and of `lhs` (rows) or of `rhs` (columns).
    ///
    /// # Safety
    /// `start <= end` within the output's rows or columns.
    unsafe fn block(self, along_rows: bool, start: usize, end: usize) -> Product {
        // The buffer's step from one of the operand's rows (`rows`) or
        // columns to the next.
        let step = |o: Operand, rows: bool| {
            if o.transposed == rows { 1 } else { o.leading }
        };
        // SAFETY: the caller's contract: each offset is within its matrix.
        unsafe {
            if along_rows {
                Product {
                    rows: end - start,
                    lhs: self.lhs.add(start * step(self.lhs_operand, true)),
                    out: self.out.add(start * self.out_leading),
                    ..self
                }
            } else {
                Product {
                    cols: end - start,
                    rhs: self.rhs.add(start * step(self.rhs_operand, false)),
                    out: self.out.add(start),
                    ..self
                }
            }
        }
    }

    /// One call of OpenBLAS on the calling thread.
    ///
    /// # Safety
    /// As [`sgemm`]; every size within `c_int` (checked by [`sgemm`] and
    /// [`operand`]).
    unsafe fn run(self) {
        let trans = |o: Operand| {
            if o.transposed {
                TRANSPOSE
            } else {
                NO_TRANSPOSE
            }
        };
        // SAFETY: the caller's contract.
        unsafe {
            cblas_sgemm(
                ROW_MAJOR,
                trans(self.lhs_operand),
                trans(self.rhs_operand),
                self.rows as c_int,
                self.cols as c_int,
                self.k as c_int,
                1.0,
                self.lhs,
                self.lhs_operand.leading as c_int,
                self.rhs,
                self.rhs_operand.leading as c_int,
                0.0,
                self.out,
                self.out_leading.max(1) as c_int,
            );
        }
    }
}

/// Computes `product`, or returns `None` (nothing written) when a size
/// passes `c_int`. The output's blocks ([`for_each_block`]) go to rayon's threads,
/// each one call of single-threaded OpenBLAS: no OpenBLAS threads spin
/// beside rayon's, the products of nets trained side by side on rayon's
/// threads do not queue for OpenBLAS's pool, and the bits do not depend
/// on the thread count.
///
/// # Safety
/// Each operand's pointer and description address its whole matrix
/// within one allocation, and `out` has room for `rows` rows of `cols`
/// values, `out_leading` apart; all of them are written (beta 0: `out` is
/// not read).
pub(crate) unsafe fn sgemm(product: Product) -> Option<()> {
    let Product {
        rows,
        cols,
        k,
        out_leading,
        ..
    } = product;
    for size in [rows, cols, k, out_leading] {
        c_int::try_from(size).ok()?;
    }
    single_threaded();
    // SAFETY: the caller's contract; each block is a sub-matrix of the
    // operands and the output (disjoint from the other blocks'), addressed
    // with their own leading dimensions.
    for_each_block(rows, cols, k, |along_rows, start, end| unsafe {
        product.block(along_rows, start, end).run()
    });
    Some(())
}

/// OpenBLAS on the calling thread only, set once for the process (the
/// threads are rayon's: [`sgemm`]).
fn single_threaded() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: OpenBLAS's own setter, called before this crate's first
    // product and never during one.
    ONCE.call_once(|| unsafe { openblas_set_num_threads(1) });
}

/// The library and its kernels, as `OpenBLAS 0.3.21 ...; kernels
/// SkylakeX, single-threaded calls on 2 rayon threads` (for benchmarks
/// and run logs to say what multiplied).
pub fn describe() -> String {
    single_threaded();
    // SAFETY: OpenBLAS returns pointers to static NUL-terminated strings.
    let (config, core, threads) = unsafe {
        (
            CStr::from_ptr(openblas_get_config()).to_string_lossy(),
            CStr::from_ptr(openblas_get_corename()).to_string_lossy(),
            openblas_get_num_threads(),
        )
    };
    format!(
        "{config}; kernels {core}, {threads}-threaded calls on {} rayon threads",
        rayon::current_num_threads()
    )
}

/// The widest vector instructions of a CPU, or those an OpenBLAS kernel
/// is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum VectorWidth {
    /// SSE and AVX without FMA, or not an x86 CPU.
    Narrow,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 (F).
    Avx512,
}

impl VectorWidth {
    /// This CPU's, as the CPU reports it.
    fn of_this_cpu() -> Self {
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Self::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Self::Avx2;
            }
        }
        Self::Narrow
    }

    /// The one an OpenBLAS kernel (`openblas_get_corename`) is written for.
    fn of_kernel(core: &str) -> Self {
        match core.to_ascii_lowercase().as_str() {
            "skylakex" | "cooperlake" | "sapphirerapids" => Self::Avx512,
            "haswell" | "zen" | "excavator" => Self::Avx2,
            _ => Self::Narrow,
        }
    }

    /// This width's name and the `OPENBLAS_CORETYPE` value that selects a
    /// kernel of it; `None` for [`Self::Narrow`], the width of OpenBLAS's
    /// fallback kernels, which no setting is needed for.
    fn name_and_core_type(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Avx512 => Some(("AVX-512", "SkylakeX")),
            Self::Avx2 => Some(("AVX2 with FMA", "Haswell")),
            Self::Narrow => None,
        }
    }
}

/// Why the kernel `core` is too narrow for a CPU of width `cpu`, and
/// what to set instead; `None` when it is not.
pub(crate) fn kernel_mismatch(core: &str, cpu: VectorWidth) -> Option<String> {
    if VectorWidth::of_kernel(core) >= cpu {
        return None;
    }
    let (width, core_type) = cpu.name_and_core_type()?;
    Some(format!(
        "OpenBLAS multiplies with its {core} kernel, though this CPU has {width} \
         (an OpenBLAS older than the CPU falls back to an old kernel; fine-tuning \
         ran 2.7x slower so, docs/RESULTS.md): set OPENBLAS_CORETYPE={core_type} for the wider one"
    ))
}

/// [`kernel_mismatch`] for the kernel OpenBLAS chose on this CPU.
pub fn kernel_warning() -> Option<String> {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string.
    let core = unsafe { CStr::from_ptr(openblas_get_corename()).to_string_lossy() };
    kernel_mismatch(&core, VectorWidth::of_this_cpu())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_narrower_than_the_cpu_is_named_with_the_core_type_to_set() {
        // Debian 12's OpenBLAS on an AVX-512 Xeon it does not know.
        let warning = kernel_mismatch("Prescott", VectorWidth::Avx512).unwrap();
        assert!(warning.contains("Prescott kernel"), "{warning}");
        assert!(warning.contains("AVX-512"), "{warning}");
        assert!(warning.contains("OPENBLAS_CORETYPE=SkylakeX"), "{warning}");
        let warning = kernel_mismatch("Haswell", VectorWidth::Avx512).unwrap();
        assert!(warning.contains("OPENBLAS_CORETYPE=SkylakeX"), "{warning}");
        let warning = kernel_mismatch("Sandybridge", VectorWidth::Avx2).unwrap();
        assert!(warning.contains("AVX2 with FMA"), "{warning}");
        assert!(warning.contains("OPENBLAS_CORETYPE=Haswell"), "{warning}");
    }

    #[test]
    fn a_kernel_as_wide_as_the_cpu_or_wider_is_not_warned_about() {
        for (core, cpu) in [
            ("SkylakeX", VectorWidth::Avx512),
            ("COOPERLAKE", VectorWidth::Avx512),
            ("SapphireRapids", VectorWidth::Avx512),
            ("Haswell", VectorWidth::Avx2),
            ("Zen", VectorWidth::Avx2),
            ("SkylakeX", VectorWidth::Avx2),
            ("Prescott", VectorWidth::Narrow),
            ("neoversen1", VectorWidth::Narrow),
        ] {
            assert_eq!(kernel_mismatch(core, cpu), None, "{core} on {cpu:?}");
        }
    }

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
        let product = |lhs: &[f32], lhs_operand, rhs: &[f32], rhs_operand| {
            let mut out = vec![f32::NAN; m * n];
            // SAFETY: each buffer holds its whole matrix as described.
            unsafe {
                sgemm(Product {
                    rows: m,
                    cols: n,
                    k,
                    lhs: lhs.as_ptr(),
                    lhs_operand,
                    rhs: rhs.as_ptr(),
                    rhs_operand,
                    out: out.as_mut_ptr(),
                    out_leading: n,
                })
                .expect("sizes within c_int");
            }
            out
        };
        let plain = product(&a, read_as_is(k).unwrap(), &b, read_as_is(n).unwrap());
        let from_transposes = product(&at, transposed(m).unwrap(), &bt, transposed(k).unwrap());
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
