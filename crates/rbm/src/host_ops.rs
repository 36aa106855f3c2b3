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
//! epoch. [`HostOps::matmul`] calls the same GEMM with the same arguments
//! into an f32 buffer of its own, so the bits are Flex's.
//!
//! On an autodiff device the logistic keeps its output for the backward
//! pass, `grad * s * (1 - s)`: finite for every input, where the backward
//! of `1 / (1 + exp(-x))` written as tensor ops is `0 * inf` below -88.
//!
//! Callers use [`on_flex`] first: on any other backend (wgpu) the
//! extension is not routed and they keep Burn's own ops.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Autodiff, Backend, backend_extension, tensor::FloatTensor};
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

/// [`HostOps::logistic`] on a tensor whose device passes [`on_flex`].
pub(crate) fn logistic_on_flex<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as HostOps>::logistic(x.into_dispatch()))
}

/// [`HostOps::matmul`] on tensors whose device passes [`on_flex`].
pub(crate) fn matmul_on_flex<const D: usize>(lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<D> {
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

impl<B: Backend + HostOps, C: CheckpointStrategy> HostOps for Autodiff<B, C> {
    fn matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        /// Burn's matmul backward for 2-D operands, through
        /// [`HostOps::matmul`]: `grad rhs^T` and `lhs^T grad`.
        #[derive(Debug)]
        struct Matmul;

        impl<B: Backend + HostOps> Backward<B, 2> for Matmul {
            type State = (Option<NodeId>, Option<NodeId>);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (lhs, rhs) = ops.state;
                let lhs = lhs.map(|lhs| checkpointer.retrieve_node_output(lhs));
                let rhs = rhs.map(|rhs| checkpointer.retrieve_node_output(rhs));
                binary::<B, _, _>(
                    ops.parents,
                    ops.node,
                    grads,
                    |grad| B::matmul(grad, B::float_transpose(rhs.expect("kept for lhs"))),
                    |grad| B::matmul(B::float_transpose(lhs.expect("kept for rhs")), grad),
                );
            }
        }

        // Other ranks broadcast batch dimensions: Burn's own op.
        if lhs.primitive().shape().num_dims() != 2 || rhs.primitive().shape().num_dims() != 2 {
            return <Self as FloatTensorOps<Self>>::float_matmul(lhs, rhs);
        }
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match Matmul
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                // Each operand is kept only for the other's gradient.
                let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                prep.finish(
                    (lhs_state, rhs_state),
                    B::matmul(lhs.into_primitive(), rhs.into_primitive()),
                )
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::matmul(lhs.into_primitive(), rhs.into_primitive()))
            }
        }
    }

    fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self> {
        /// The backward pass from the saved output `s`: `grad * s (1 - s)`.
        #[derive(Debug)]
        struct Logistic;

        impl<B: Backend> Backward<B, 1> for Logistic {
            type State = B::FloatTensorPrimitive;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let output = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::sigmoid_backward(output, grad)
                });
            }
        }

        let node = x.node();
        let output = B::logistic(x.into_primitive());
        match Logistic.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }
}

#[cfg(feature = "flex")]
mod flex {
    use super::HostOps;
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
            let mut out: Vec<f32> = Vec::with_capacity(m * n);
            // Flex's arguments (`burn_flex::ops::matmul`): its strides,
            // alpha 0 and beta 1 with the output not read, and threads
            // from 192^3 multiply-adds.
            let parallelism = if m.saturating_mul(n).saturating_mul(k) >= 192 * 192 * 192 {
                gemm::Parallelism::Rayon(0)
            } else {
                gemm::Parallelism::None
            };
            let (lhs_rows, lhs_cols) = (lhs.layout().strides()[0], lhs.layout().strides()[1]);
            let (rhs_rows, rhs_cols) = (rhs.layout().strides()[0], rhs.layout().strides()[1]);
            let lhs_data: &[f32] = lhs.storage();
            let rhs_data: &[f32] = rhs.storage();
            // SAFETY: the operands' views lie within their storage (their
            // layouts say so) and `out` has room for `m * n` values, which
            // the GEMM writes all of (k > 0, the output not read) before
            // the length is set.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    out.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    lhs_data.as_ptr().add(lhs.layout().start_offset()),
                    lhs_cols,
                    lhs_rows,
                    rhs_data.as_ptr().add(rhs.layout().start_offset()),
                    rhs_cols,
                    rhs_rows,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                );
                out.set_len(m * n);
            }
            FlexTensor::new(
                Bytes::from_elems(out),
                Layout::contiguous(Shape::new([m, n])),
                DType::F32,
            )
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
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn host(x: Tensor<2>) -> Vec<f32> {
        x.try_into_vec_as::<f32>().expect("f32")
    }

    fn inputs(device: &Device) -> (Vec<f32>, Tensor<2>) {
        let values: Vec<f32> = (-800..=800).map(|i| i as f32 / 4.0).collect();
        let n = values.len();
        (
            values.clone(),
            Tensor::from_data(TensorData::new(values, [1, n]), device),
        )
    }

    /// On Flex, with and without autodiff, the logistic agrees with Burn's
    /// `sigmoid` within the kernel's bound (4 x 2^-24 relative, 1.7e-38
    /// absolute where the input is clamped), and an input held elsewhere
    /// is left as it was and gives the same bits as a unique one.
    #[test]
    fn logistic_on_flex_agrees_with_burns_sigmoid() {
        for device in [Device::flex(), Device::flex().autodiff()] {
            assert!(on_flex(&device));
            let (values, x) = inputs(&device);
            let ours = host(logistic_on_flex(x.clone()));
            let burns = host(burn::tensor::activation::sigmoid(x.clone()));
            for ((v, a), b) in values.iter().zip(&ours).zip(&burns) {
                let bound = 4.0 * f32::EPSILON / 2.0 * b + 1.7e-38;
                assert!((a - b).abs() <= bound, "x = {v}: {a} vs Burn's {b}");
            }
            assert_eq!(host(x.clone()), values, "the shared input changed");
            let unique = host(logistic_on_flex(x.add_scalar(0.0)));
            assert_eq!(unique, ours);
        }
    }

    /// On Flex the softplus kernel agrees with the five tensor ops it
    /// replaces (what an autodiff device still runs), within both bounds
    /// added: each is within 4 ulp of the exact value (libm's `expf` and
    /// `log1pf` are within 1 ulp, the add rounds once), plus 1.7e-38 where
    /// the kernel clamps; the shared input is left as it was.
    #[test]
    fn softplus_on_flex_agrees_with_the_tensor_ops() {
        let (values, x) = inputs(&Device::flex());
        let ours = host(crate::math::softplus(x.clone()));
        let ops = host(crate::math::softplus(Tensor::<2>::from_data(
            x.to_data(),
            &Device::flex().autodiff(),
        )));
        for ((v, a), b) in values.iter().zip(&ours).zip(&ops) {
            let bound = 8.0 * f32::EPSILON / 2.0 * a.max(*b) + 1.7e-38;
            assert!((a - b).abs() <= bound, "x = {v}: {a} vs the ops' {b}");
        }
        assert_eq!(host(x), values, "the shared input changed");
    }

    fn matrix(rows: usize, cols: usize, phase: f32, device: &Device) -> Tensor<2> {
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i as f32) * 0.371 + phase).sin())
            .collect();
        Tensor::from_data(TensorData::new(values, [rows, cols]), device)
    }

    fn bits(x: Tensor<2>) -> Vec<u32> {
        host(x).iter().map(|v| v.to_bits()).collect()
    }

    /// The host matmul gives Flex's own bits, with and without autodiff:
    /// contiguous operands, transposed ones (strided views), a slice at an
    /// offset, shapes on either side of Flex's threshold for threads
    /// (192^3 multiply-adds), and a product over k = 0.
    #[test]
    fn matmul_on_flex_gives_flexs_bits() {
        for device in [Device::flex(), Device::flex().autodiff()] {
            for (m, k, n) in [(3, 5, 4), (100, 784, 500), (250, 200, 170), (1, 1, 1)] {
                let a = matrix(m, k, 0.1, &device);
                let b = matrix(k, n, 0.7, &device);
                assert_eq!(
                    bits(crate::math::matmul(a.clone(), b.clone())),
                    bits(a.clone().matmul(b.clone())),
                    "{m}x{k} @ {k}x{n}"
                );
                let at = matrix(k, m, 0.2, &device).transpose();
                let bt = matrix(n, k, 0.3, &device).transpose();
                assert_eq!(
                    bits(crate::math::matmul(at.clone(), bt.clone())),
                    bits(at.matmul(bt)),
                    "transposed {m}x{k} @ {k}x{n}"
                );
                let sliced = matrix(m + 2, k + 3, 0.4, &device).slice([1..m + 1, 2..k + 2]);
                assert_eq!(
                    bits(crate::math::matmul(sliced.clone(), b.clone())),
                    bits(sliced.matmul(b)),
                    "sliced {m}x{k} @ {k}x{n}"
                );
            }
            let empty = Tensor::<2>::zeros([3, 0], &device);
            let product = crate::math::matmul(empty, Tensor::zeros([0, 4], &device));
            assert_eq!(product.dims(), [3, 4]);
            assert_eq!(host(product), vec![0.0; 12]);
        }
    }

    /// With autodiff the host matmul's gradients are Burn's bit for bit
    /// (`grad rhs^T`, `lhs^T grad`), with either operand tracked or both.
    #[test]
    fn matmul_gradients_on_flex_are_burns() {
        let device = Device::flex().autodiff();
        for (track_lhs, track_rhs) in [(true, true), (true, false), (false, true)] {
            let operands = || {
                let (a, b) = (matrix(30, 20, 0.5, &device), matrix(20, 10, 0.9, &device));
                (
                    if track_lhs { a.require_grad() } else { a },
                    if track_rhs { b.require_grad() } else { b },
                )
            };
            let weights = matrix(30, 10, 0.6, &device);
            let (a, b) = operands();
            let ours = (crate::math::matmul(a.clone(), b.clone()) * weights.clone())
                .sum()
                .backward();
            let (a2, b2) = operands();
            let burns = (a2.clone().matmul(b2.clone()) * weights).sum().backward();
            for (x, x2, tracked) in [(a, a2, track_lhs), (b, b2, track_rhs)] {
                match (x.grad(&ours), x2.grad(&burns)) {
                    (Some(g), Some(g2)) => {
                        assert!(tracked);
                        assert_eq!(bits(g), bits(g2));
                    }
                    (None, None) => assert!(!tracked),
                    _ => panic!("one gradient missing ({track_lhs}, {track_rhs})"),
                }
            }
        }
    }

    /// With autodiff the gradient is Burn's `sigmoid` gradient `s (1 - s)`
    /// of our `s`: finite everywhere, within a few ulp of 0.25 of Burn's.
    #[test]
    fn logistic_gradient_on_flex_agrees_with_burns_sigmoid() {
        let device = Device::flex().autodiff();
        let (values, x) = inputs(&device);
        let x = x.require_grad();
        let s = logistic_on_flex(x.clone());
        let ours = host(x.grad(&s.clone().sum().backward()).expect("tracked"));
        let x2 = inputs(&device).1.require_grad();
        let burns = host(
            x2.grad(
                &burn::tensor::activation::sigmoid(x2.clone())
                    .sum()
                    .backward(),
            )
            .expect("tracked"),
        );
        for ((v, a), b) in values.iter().zip(&ours).zip(&burns) {
            assert!(a.is_finite(), "x = {v}: {a}");
            assert!((a - b).abs() <= 1e-7, "x = {v}: {a} vs Burn's {b}");
        }
        for ((v, g), s) in values.iter().zip(&ours).zip(host(s)) {
            assert_eq!(*g, s * (1.0 - s), "x = {v}");
        }
    }
}
