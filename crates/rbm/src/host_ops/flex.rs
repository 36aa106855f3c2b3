//! [`HostOps`] on Flex: the host kernels on f32 buffers of their own.

use super::HostOps;
use super::blocks::for_each_block;
use crate::host_kernels::{logistic_in_place, momentum_descent_into, softplus_in_place};
use burn::backend::Flex;
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::ops::FloatTensorOps;
use burn::tensor::{Bytes, DType, Shape, TensorData};

/// `x` itself when its values are one contiguous run from the start
/// of its buffer, else a contiguous copy.
fn contiguous(x: FlexTensor) -> FlexTensor {
    if x.is_contiguous() && x.layout().start_offset() == 0 {
        x
    } else {
        x.to_contiguous()
    }
}

/// `x` as one contiguous f32 buffer of its own: in place when `x` is
/// already one, else a copy.
fn owned_f32(x: FlexTensor) -> FlexTensor {
    let mut x = contiguous(x);
    if x.try_storage_mut::<f32>().is_none() {
        let shape = x.layout().shape().clone();
        let values = x.as_slice::<f32>().expect("contiguous f32").to_vec();
        x = FlexTensor::from_data(TensorData::new(values, shape));
    }
    x
}

fn elements(x: &FlexTensor) -> usize {
    x.layout().num_elements()
}

/// `kernel` over `x`'s f32 values in a buffer of its own; `fallback`
/// (Flex's own ops) for other dtypes.
fn map_f32(
    x: FlexTensor,
    kernel: fn(&mut [f32]),
    fallback: fn(FlexTensor) -> FlexTensor,
) -> FlexTensor {
    if x.dtype() != DType::F32 {
        return fallback(x);
    }
    let mut x = owned_f32(x);
    let n = elements(&x);
    kernel(&mut x.try_storage_mut::<f32>().expect("owned")[..n]);
    x
}

impl HostOps for Flex {
    fn matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
        let (lhs_shape, rhs_shape) = (lhs.layout().shape(), rhs.layout().shape());
        if lhs.dtype() != DType::F32
            || rhs.dtype() != DType::F32
            || lhs_shape.num_dims() != 2
            || rhs_shape.num_dims() != 2
            || lhs_shape[1] != rhs_shape[0]
            || lhs_shape.num_elements() == 0
            || rhs_shape.num_elements() == 0
        {
            return <Flex as FloatTensorOps<Flex>>::float_matmul(lhs, rhs);
        }
        let (m, k, n) = (lhs_shape[0], lhs_shape[1], rhs_shape[1]);
        #[cfg(feature = "openblas")]
        if let Some(product) = blas_matmul(&lhs, &rhs, m, k, n) {
            return product;
        }
        gemm_matmul(&lhs, &rhs, m, k, n)
    }

    fn logistic(x: FlexTensor) -> FlexTensor {
        map_f32(
            x,
            logistic_in_place,
            <Flex as burn::backend::ops::ActivationOps<Flex>>::sigmoid,
        )
    }

    fn softplus(x: FlexTensor) -> FlexTensor {
        map_f32(x, softplus_in_place, super::softplus_ops::<Flex>)
    }

    fn momentum_descent(
        parameter: FlexTensor,
        velocity: FlexTensor,
        gradient: FlexTensor,
        rate: f32,
        momentum: f32,
        decay: f32,
        has_decay: bool,
    ) -> (FlexTensor, FlexTensor) {
        if [&parameter, &velocity, &gradient]
            .iter()
            .any(|t| t.dtype() != DType::F32)
        {
            return super::momentum_descent_ops::<Flex>(
                parameter, velocity, gradient, rate, momentum, decay, has_decay,
            );
        }
        let parameter = contiguous(parameter);
        // The new parameter goes into the gradient's buffer: the
        // parameter itself may be shared and is only read.
        let (mut velocity, mut out) = (owned_f32(velocity), owned_f32(gradient));
        let n = elements(&parameter);
        momentum_descent_into(
            &parameter.as_slice::<f32>().expect("contiguous f32")[..n],
            &mut velocity.try_storage_mut::<f32>().expect("owned")[..n],
            &mut out.try_storage_mut::<f32>().expect("owned")[..n],
            rate,
            momentum,
            has_decay.then_some(decay),
        );
        (out, velocity)
    }
}

/// The address of a view's first f32 value.
fn first_value(x: &FlexTensor) -> *const f32 {
    let data: &[f32] = x.storage();
    data.as_ptr().wrapping_add(x.layout().start_offset())
}

/// A new contiguous `[m, n]` f32 tensor whose values `write` puts at the
/// pointer it is given, or `None` (nothing kept) when `write` returns
/// `None`.
///
/// # Safety
/// `write`, returning `Some`, has written all `m * n` values.
unsafe fn new_matrix(
    m: usize,
    n: usize,
    write: impl FnOnce(*mut f32) -> Option<()>,
) -> Option<FlexTensor> {
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    write(out.as_mut_ptr())?;
    // SAFETY: the caller's contract: all `m * n` values are written.
    unsafe { out.set_len(m * n) };
    Some(FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(Shape::new([m, n])),
        DType::F32,
    ))
}

/// `lhs @ rhs` by Flex's own GEMM (the `gemm` crate) into an f32 buffer
/// of its own, the output's blocks ([`for_each_block`]) on rayon's
/// threads, each one single-threaded call: the bits depend on the shape,
/// never on the thread count. Called with `Parallelism::Rayon` on the
/// whole product as Flex calls it, the `gemm` crate ran one fine-tuning
/// step's products no faster on 2 threads than on 1 (docs/RESULTS.md).
///
/// # Shapes
/// - lhs: `[m, k]`, rhs: `[k, n]` (f32, none empty) -> `[m, n]`
fn gemm_matmul(lhs: &FlexTensor, rhs: &FlexTensor, m: usize, k: usize, n: usize) -> FlexTensor {
    let (lhs_rows, lhs_cols) = (lhs.layout().strides()[0], lhs.layout().strides()[1]);
    let (rhs_rows, rhs_cols) = (rhs.layout().strides()[0], rhs.layout().strides()[1]);
    // Addresses, not pointers, cross to rayon's threads.
    let (lhs_at, rhs_at) = (first_value(lhs) as usize, first_value(rhs) as usize);
    // SAFETY: the operands' views lie within their storage (their
    // layouts say so); the blocks are disjoint and together cover all
    // `m * n` values of the output, each written by the GEMM (k > 0, the
    // output not read: alpha 0, beta 1).
    let product = unsafe {
        new_matrix(m, n, |out| {
            let out_at = out as usize;
            for_each_block(m, n, k, |along_rows, start, end| {
                let (rows, cols, lhs, rhs, out) = if along_rows {
                    (
                        end - start,
                        n,
                        (lhs_at as *const f32).wrapping_offset(start as isize * lhs_rows),
                        rhs_at as *const f32,
                        (out_at as *mut f32).wrapping_add(start * n),
                    )
                } else {
                    (
                        m,
                        end - start,
                        lhs_at as *const f32,
                        (rhs_at as *const f32).wrapping_offset(start as isize * rhs_cols),
                        (out_at as *mut f32).wrapping_add(start),
                    )
                };
                gemm::gemm(
                    rows,
                    cols,
                    k,
                    out,
                    1,
                    n as isize,
                    false,
                    lhs,
                    lhs_cols,
                    lhs_rows,
                    rhs,
                    rhs_cols,
                    rhs_rows,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            });
            Some(())
        })
    };
    product.expect("the gemm crate writes every value")
}

/// `lhs @ rhs` by the system's OpenBLAS ([`super::blas`]), each operand
/// read in place where its strides allow and copied contiguous where
/// not; `None` when a size passes BLAS's `int`.
///
/// # Shapes
/// - lhs: `[m, k]`, rhs: `[k, n]` (f32, none empty) -> `[m, n]`
#[cfg(feature = "openblas")]
fn blas_matmul(
    lhs: &FlexTensor,
    rhs: &FlexTensor,
    m: usize,
    k: usize,
    n: usize,
) -> Option<FlexTensor> {
    use super::blas::{Operand, Product, operand, sgemm};
    use std::borrow::Cow;
    // The operand as BLAS reads it: in place where its strides allow,
    // else a contiguous copy (described once more: `None` only past
    // `c_int`).
    fn as_operand(
        x: &FlexTensor,
        rows: usize,
        cols: usize,
    ) -> Option<(Cow<'_, FlexTensor>, Operand)> {
        let describe = |x: &FlexTensor| {
            let strides = x.layout().strides();
            operand(rows, cols, strides[0], strides[1])
        };
        match describe(x) {
            Some(described) => Some((Cow::Borrowed(x), described)),
            None => {
                let copy = x.clone().to_contiguous();
                describe(&copy).map(|described| (Cow::Owned(copy), described))
            }
        }
    }
    let (lhs, lhs_operand) = as_operand(lhs, m, k)?;
    let (rhs, rhs_operand) = as_operand(rhs, k, n)?;
    // SAFETY: the operands' views lie within their storage (their layouts
    // say so, and `operand` describes exactly those views), and `sgemm`
    // returning `Some` has written all `m * n` values (beta 0).
    unsafe {
        new_matrix(m, n, |out| {
            sgemm(Product {
                rows: m,
                cols: n,
                k,
                lhs: first_value(&lhs),
                lhs_operand,
                rhs: first_value(&rhs),
                rhs_operand,
                out,
                out_leading: n,
            })
        })
    }
}
