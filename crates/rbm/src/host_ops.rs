//! Kernels that Flex lacks, as a Burn backend extension ([`HostOps`]):
//! a vectorised logistic (Flex's `sigmoid` and `exp` call a scalar `expf`
//! per element, and Burn's autodiff `sigmoid` evaluates it twice, once
//! more in the backward pass), a vectorised softplus (six passes with a
//! scalar `expf` and `log1pf` as tensor ops; the free energies that
//! classify with a generative DBN are mostly softplus) and an SGD momentum step that reads a
//! parameter the caller still shares (Burn's `Learner` keeps the model it
//! hands to the optimizer, so a fine-tuned parameter is never held once).
//!
//! On an autodiff device the logistic keeps its output for the backward
//! pass, `grad * s * (1 - s)`: finite for every input, where the backward
//! of `1 / (1 + exp(-x))` written as tensor ops is `0 * inf` below -88.
//!
//! Callers use [`on_flex`] first: on any other backend (wgpu) the
//! extension is not routed and they keep Burn's own ops.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::{Autodiff, Backend, backend_extension, tensor::FloatTensor};
use burn::prelude::*;

/// Operations with a host kernel on Flex; elsewhere Burn's own ops.
#[backend_extension(Flex: cfg(feature = "flex"), Autodiff)]
pub trait HostOps: Backend {
    /// `1 / (1 + exp(-x))`, elementwise.
    fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::sigmoid(x)
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
    use burn::backend::flex::FlexTensor;
    use burn::tensor::{DType, TensorData};

    /// `x` as one contiguous f32 buffer of its own: in place when `x` is
    /// already one, else a copy.
    fn owned_f32(x: FlexTensor) -> FlexTensor {
        let mut x = if x.is_contiguous() && x.layout().start_offset() == 0 {
            x
        } else {
            x.to_contiguous()
        };
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
            let parameter = if parameter.is_contiguous() && parameter.layout().start_offset() == 0 {
                parameter
            } else {
                parameter.to_contiguous()
            };
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
