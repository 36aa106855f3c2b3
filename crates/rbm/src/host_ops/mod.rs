//! Kernels that Flex lacks, as a Burn backend extension ([`HostOps`]):
//! a vectorised logistic (Flex's `sigmoid` and `exp` call a scalar `expf`
//! per element, and Burn's autodiff `sigmoid` evaluates it twice, once
//! more in the backward pass), a vectorised softplus (six passes with a
//! scalar `expf` and `log1pf` as tensor ops; the free energies that
//! classify with a generative DBN are mostly softplus) and an SGD momentum step that reads a
//! parameter the caller still shares (Burn's `Learner` keeps the model it
//! hands to the optimizer, so a fine-tuned parameter is never held once).
//!
//! Flex's matmul allocates its output zeroed and then copies it once more
//! (Burn's byte buffer re-aligns a `Vec<u8>`): 10% of a fine-tuning
//! epoch; and the `gemm` crate, given rayon's threads for the whole
//! product as Flex gives them, ran a fine-tuning step's products no
//! faster on 2 threads than on 1. [`HostOps::matmul`] writes into an f32
//! buffer of its own, the output's blocks ([`blocks`], fixed by the shape)
//! each one single-threaded GEMM call on one of rayon's threads: the same
//! bits on any thread count, not Flex's own (the order of the sum over `k`
//! follows each block's shape).
//!
//! On an autodiff device the logistic keeps its output for the backward
//! pass, `grad * s * (1 - s)`: finite for every input, where the backward
//! of `1 / (1 + exp(-x))` written as tensor ops is `0 * inf` below -88.
//!
//! Callers use [`on_flex`] first: on any other backend (wgpu) the
//! extension is not routed and they keep Burn's own ops.

use burn::backend::{Backend, backend_extension, tensor::FloatTensor};
use burn::prelude::*;

/// Operations with a host kernel on Flex; elsewhere Burn's own ops.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff)]
pub trait HostOps: Backend {
    /// `1 / (1 + exp(-x))`, elementwise.
    fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::sigmoid(x)
    }

    /// `lhs @ rhs` (Burn's `float_matmul` elsewhere, and on Flex for other
    /// ranks or dtypes).
    fn matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }

    /// `log(1 + exp(x))`, elementwise ([`softplus_ops`] elsewhere).
    fn softplus(x: FloatTensor<Self>) -> FloatTensor<Self> {
        softplus_ops::<Self>(x)
    }

    /// One SGD step with classical momentum on a parameter that has a
    /// velocity: `g' = g + decay * p` (when `has_decay`), `v' = g' + m *
    /// v`, `p' = p - rate * v'`. Returns `(p', v')`.
    #[allow(clippy::too_many_arguments)]
    fn momentum_descent(
        parameter: FloatTensor<Self>,
        velocity: FloatTensor<Self>,
        gradient: FloatTensor<Self>,
        rate: f32,
        momentum: f32,
        decay: f32,
        has_decay: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        momentum_descent_ops::<Self>(
            parameter, velocity, gradient, rate, momentum, decay, has_decay,
        )
    }
}

/// [`HostOps::softplus`] as the backend's tensor ops, stable for any
/// input: `max(x, 0) + log1p(exp(-|x|))`.
fn softplus_ops<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let tail = B::float_log1p(B::float_exp(B::float_neg(B::float_abs(x.clone()))));
    B::float_add(B::relu(x), tail)
}

/// [`HostOps::momentum_descent`] as the backend's tensor ops.
#[allow(clippy::too_many_arguments)]
fn momentum_descent_ops<B: Backend>(
    parameter: FloatTensor<B>,
    velocity: FloatTensor<B>,
    gradient: FloatTensor<B>,
    rate: f32,
    momentum: f32,
    decay: f32,
    has_decay: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let gradient = if has_decay {
        B::float_add(
            B::float_mul_scalar(parameter.clone(), decay.into()),
            gradient,
        )
    } else {
        gradient
    };
    let velocity = B::float_add(gradient, B::float_mul_scalar(velocity, momentum.into()));
    let parameter = B::float_sub(
        parameter,
        B::float_mul_scalar(velocity.clone(), rate.into()),
    );
    (parameter, velocity)
}

/// True when tensors on `device` (with or without autodiff) are routed to
/// the host kernels of [`HostOps`].
pub fn on_flex(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        // Device equality ignores autodiff.
        *device == Device::flex()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// What multiplies matrices on Flex ([`HostOps::matmul`]): the system's
/// OpenBLAS (the `openblas` feature) with its version, kernels and
/// threads, or Flex's own `gemm` crate; for benchmarks and run logs.
pub fn matmul_engine() -> String {
    #[cfg(feature = "openblas")]
    {
        blas::describe()
    }
    #[cfg(not(feature = "openblas"))]
    {
        "the gemm crate (Flex's own GEMM)".to_string()
    }
}

/// A warning when OpenBLAS (the `openblas` feature) multiplies with a
/// kernel for narrower vectors than this CPU has (it falls back so on CPUs
/// newer than itself, silently and up to 2.7x slower), naming the
/// `OPENBLAS_CORETYPE` to set; `None` otherwise and without `openblas`.
pub fn matmul_engine_warning() -> Option<String> {
    #[cfg(feature = "openblas")]
    {
        blas::kernel_warning()
    }
    #[cfg(not(feature = "openblas"))]
    {
        None
    }
}

/// [`HostOps::logistic`] on a tensor whose device passes [`on_flex`].
pub(crate) fn logistic_on_flex<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as HostOps>::logistic(x.into_dispatch()))
}

/// [`HostOps::matmul`] on matrices whose device passes [`on_flex`] (the
/// host GEMM takes rank 2 only; other ranks would fall back to Flex's).
///
/// # Shapes
/// - lhs: `[m, k]`, rhs: `[k, n]` -> `[m, n]`
pub(crate) fn matmul_on_flex(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as HostOps>::matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
    ))
}

/// [`HostOps::softplus`] on a tensor whose device passes [`on_flex`].
pub(crate) fn softplus_on_flex<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as HostOps>::softplus(x.into_dispatch()))
}

/// [`HostOps::momentum_descent`] on tensors whose device passes [`on_flex`].
pub(crate) fn momentum_descent_on_flex<const D: usize>(
    parameter: Tensor<D>,
    velocity: Tensor<D>,
    gradient: Tensor<D>,
    rate: f32,
    momentum: f32,
    decay: Option<f32>,
) -> (Tensor<D>, Tensor<D>) {
    use burn::backend::Dispatch;
    let (parameter, velocity) = <Dispatch as HostOps>::momentum_descent(
        parameter.into_dispatch(),
        velocity.into_dispatch(),
        gradient.into_dispatch(),
        rate,
        momentum,
        decay.unwrap_or(0.0),
        decay.is_some(),
    );
    (
        Tensor::from_dispatch(parameter),
        Tensor::from_dispatch(velocity),
    )
}

mod autodiff;
#[cfg(feature = "openblas")]
mod blas;
#[cfg(feature = "flex")]
mod blocks;
#[cfg(feature = "flex")]
mod flex;
#[cfg(all(test, feature = "flex"))]
mod tests;
