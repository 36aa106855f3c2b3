//! The blocks of a matrix product's output that rayon's threads share:
//! fixed by the product's shape alone, each computed by one
//! single-threaded call of the GEMM ([`super::blas`] for OpenBLAS, the
//! `gemm` crate's in [`super::flex`]), so that the bits do not depend on
//! the thread count.

/// The output's blocks for the threads: along rows (`along_rows`) or
/// columns, `size` rows or columns each (the last may be shorter). A
/// function of the shape only, never of the thread count, so that the
/// bits do not depend on the threads either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    pub along_rows: bool,
    pub size: usize,
}

/// Multiply-adds below which a block is not worth a thread's wake-up and
/// its own packing of the shared operand.
const MIN_BLOCK_WORK: usize = 1 << 22;
/// Rows or columns below which a block is too narrow for the kernels.
const MIN_BLOCK_SIDE: usize = 64;
/// Blocks at most: enough for 16 cores, few enough that packing the
/// shared operand once per block stays small.
const MAX_BLOCKS: usize = 16;

/// [`Split`] of an `[m, n]` output over `k`: along its longer side, into
/// the largest power of two of blocks that the work and the side allow
/// (16 at most). On the 11 products of a batch-100 fine-tuning step on 2
/// cores these blocks took 5.8-6.1 ms where 1, 2, 3 or 5 blocks of at
/// least 16M multiply-adds and 128 rows or columns took 6.1-8.7 ms
/// (docs/RESULTS.md): 3 or 5 blocks leave a thread idle for one.
pub(crate) fn split(m: usize, n: usize, k: usize) -> Split {
    let along_rows = m >= n;
    let side = m.max(n);
    let most = (m.saturating_mul(n).saturating_mul(k) / MIN_BLOCK_WORK)
        .min(side / MIN_BLOCK_SIDE)
        .clamp(1, MAX_BLOCKS);
    // A power of two: equal shares on 2, 4, 8 or 16 threads.
    let blocks = 1 << most.ilog2();
    Split {
        along_rows,
        size: side.div_ceil(blocks),
    }
}

/// Block `b` of `side` rows or columns, `size` each: `(start, end)`.
fn block_range(b: usize, size: usize, side: usize) -> (usize, usize) {
    (b * size, ((b + 1) * size).min(side))
}

/// Runs `block(along_rows, start, end)` for each block of an `[m, n]`
/// output over `k` ([`split`]): on rayon's threads when there are several,
/// on the calling thread when there is one.
pub(crate) fn for_each_block(
    m: usize,
    n: usize,
    k: usize,
    block: impl Fn(bool, usize, usize) + Sync,
) {
    let Split { along_rows, size } = split(m, n, k);
    let side = if along_rows { m } else { n };
    let blocks = side.div_ceil(size);
    if blocks == 1 {
        block(along_rows, 0, side);
    } else {
        use rayon::prelude::*;
        (0..blocks).into_par_iter().for_each(|b| {
            let (start, end) = block_range(b, size, side);
            block(along_rows, start, end)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs split along their longer side, into the largest power of
    /// two of blocks that the work (4M multiply-adds each) and the side
    /// (64 each) allow, at most 16; small products are one block.
    #[test]
    fn outputs_split_by_their_shape_alone() {
        let split_of = |along_rows, size| Split { along_rows, size };
        // Batch-100 training: [100, 784] @ [784, 500], 39M multiply-adds,
        // 500 columns: 7 blocks allowed, 4 used.
        assert_eq!(
            split(100, 500, 784),
            split_of(false, 125),
            "4 blocks of columns"
        );
        // Its weight gradient, [784, 100] @ [100, 500]: 9 allowed.
        assert_eq!(split(784, 500, 100), split_of(true, 98), "8 blocks of rows");
        // [500, 100] @ [100, 2000]: 100M, 23 allowed by the work.
        assert_eq!(split(500, 2000, 100), split_of(false, 125), "16 blocks");
        assert_eq!(split(4000, 4000, 2000), split_of(true, 250), "at most 16");
        // 200 columns allow 3 blocks; a power of two is 2.
        assert_eq!(split(100, 200, 2000), split_of(false, 100), "2 of 3");
        assert_eq!(split(100, 10, 2000), split_of(true, 100), "one block: 2M");
        assert_eq!(split(3, 4, 5), split_of(false, 4));
        assert_eq!(split(1, 1, 1), split_of(true, 1));
        assert_eq!(
            split(100, 100, 1 << 20),
            split_of(true, 100),
            "one block: 100 rows"
        );
    }

    #[test]
    fn blocks_cover_the_side_once_in_order() {
        let ranges = |side: usize, size: usize| -> Vec<(usize, usize)> {
            (0..side.div_ceil(size))
                .map(|b| block_range(b, size, side))
                .collect()
        };
        assert_eq!(ranges(500, 250), [(0, 250), (250, 500)]);
        assert_eq!(ranges(5, 2), [(0, 2), (2, 4), (4, 5)]);
        assert_eq!(ranges(1, 1), [(0, 1)]);
    }
}
