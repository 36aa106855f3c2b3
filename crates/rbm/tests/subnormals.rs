//! `set_flush_subnormals` in a process of its own: it changes the CPU's
//! arithmetic for the process's threads, which no other test should see.

use std::hint::black_box;

/// The smallest positive subnormal f32 and a subnormal result from normal
/// inputs, as this thread's arithmetic computes them.
fn subnormal_arithmetic() -> (f32, f32) {
    let input = black_box(f32::from_bits(1)) * black_box(1e30); // 1.4e-45 * 1e30
    let result = black_box(f32::MIN_POSITIVE) / black_box(4.0);
    (input, result)
}

/// A product large enough for Flex's threaded GEMM: a row of the smallest
/// subnormals and rows of 0.5, times ones. Returns an entry of each kind
/// of output row, and whether each row is constant.
#[cfg(feature = "flex")]
fn subnormal_row_product() -> (f32, f32, bool) {
    use burn::prelude::*;
    let device = Device::flex();
    let (m, k, n) = (256, 256, 256);
    let mut lhs = vec![0.5f32; m * k];
    lhs[..k].fill(f32::from_bits(1));
    let lhs = Tensor::<2>::from_data(TensorData::new(lhs, [m, k]), &device);
    let rhs = Tensor::<2>::ones([k, n], &device);
    let data = rbm::math::matmul(lhs, rhs).into_data();
    let product = data.as_slice::<f32>().unwrap();
    let constant_rows = product
        .chunks(n)
        .all(|row| row.iter().all(|&v| v.to_bits() == row[0].to_bits()));
    (product[0], product[n], constant_rows)
}

#[test]
fn flushing_subnormals_zeroes_them_as_inputs_and_results_on_every_thread() {
    assert!(!rbm::subnormals_flushed());
    let (input, result) = subnormal_arithmetic();
    assert!(
        input > 1e-16 && result > 0.0,
        "IEEE before: {input}, {result}"
    );
    #[cfg(feature = "flex")]
    {
        // 256 subnormals of 1.4e-45 sum to 3.6e-43.
        let (tiny, half, constant) = subnormal_row_product();
        assert!(
            tiny > 3e-43 && half == 128.0 && constant,
            "IEEE before: {tiny}, {half}"
        );
    }
    if !rbm::set_flush_subnormals(true) {
        // Not x86-64: the setting does not exist and nothing changed.
        assert!(!rbm::subnormals_flushed());
        return;
    }
    assert!(rbm::subnormals_flushed());
    assert_eq!(subnormal_arithmetic(), (0.0, 0.0));
    let workers = rayon::broadcast(|_| (rbm::subnormals_flushed(), subnormal_arithmetic()));
    assert_eq!(workers.len(), rayon::current_num_threads());
    assert!(
        workers.iter().all(|&w| w == (true, (0.0, 0.0))),
        "{workers:?}"
    );
    #[cfg(feature = "flex")]
    assert_eq!(subnormal_row_product(), (0.0, 128.0, true));
    // And back to IEEE's gradual underflow.
    assert!(rbm::set_flush_subnormals(false));
    assert!(!rbm::subnormals_flushed());
    assert_eq!(subnormal_arithmetic(), (input, result));
    let workers = rayon::broadcast(|_| (rbm::subnormals_flushed(), subnormal_arithmetic()));
    assert!(
        workers.iter().all(|&w| w == (false, (input, result))),
        "{workers:?}"
    );
    #[cfg(feature = "flex")]
    assert!(subnormal_row_product().0 > 3e-43);
}
