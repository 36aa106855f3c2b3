//! Numerically stable scalar functions on tensors, and host-side log-sum-exp.

use burn::prelude::*;
use burn::tensor::activation::relu;

/// The logistic function `1 / (1 + exp(-x))`.
///
/// On Flex it is one vectorised pass ([`crate::host_ops`]; Flex's own
/// `sigmoid` and `exp` call a scalar `expf` per element), with autodiff
/// too. Elsewhere, without autodiff, it is four elementwise ops, which
/// the CubeCL backends fuse (`exp(-x)` overflows to infinity for very
/// negative `x`, giving exactly 0); with autodiff it is Burn's `sigmoid`.
/// Both autodiff paths have the backward `s (1 - s)`: the four ops'
/// backward multiplies 0 by that infinity, NaN at pre-activations below
/// about -88, which saturated pretrained units reach (measured: -162 on
/// MNIST).
pub fn logistic<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if crate::host_ops::on_flex(&x.device()) {
        return crate::host_ops::logistic_on_flex(x);
    }
    if x.device().is_autodiff() {
        return burn::tensor::activation::sigmoid(x);
    }
    x.neg().exp().add_scalar(1.0).recip()
}

/// `lhs @ rhs`: on Flex (with or without autodiff) Flex's own GEMM with
/// its arguments, into a buffer of its own ([`crate::host_ops`]; the same
/// bits without Flex's zeroing and copy of the output), else Burn's
/// `matmul`.
///
/// # Shapes
/// - lhs: `[m, k]`, rhs: `[k, n]` -> `[m, n]`
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    if crate::host_ops::on_flex(&lhs.device()) {
        return crate::host_ops::matmul_on_flex(lhs, rhs);
    }
    lhs.matmul(rhs)
}

/// `log(1 + exp(x))` without overflow: `max(x, 0) + log1p(exp(-|x|))`.
///
/// On Flex without autodiff it is one vectorised pass
/// ([`crate::host_ops`]); elsewhere five elementwise ops.
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if crate::host_ops::on_flex(&device) && !device.is_autodiff() {
        return crate::host_ops::softplus_on_flex(x);
    }
    let tail = x.clone().abs().neg().exp().log1p();
    relu(x) + tail
}

/// `log(sum(exp(values)))` in f64, stable for any magnitudes.
/// Returns negative infinity for an empty slice.
pub fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// Reads a rank-1 tensor back to the host as f64.
pub fn to_host_f64(x: Tensor<1>) -> Vec<f64> {
    x.into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensor data converts to f32")
        .into_iter()
        .map(f64::from)
        .collect()
}
