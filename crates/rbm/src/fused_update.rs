//! Fused parameter updates for backends whose tensors live in host memory.
//!
//! A momentum update written as tensor ops is five to seven passes over
//! every parameter (scale the velocity, add the step, scale the weights for
//! decay, subtract, add), each a separate kernel with its own buffer. On
//! Flex those passes are memory-bound and cost as much as a GEMM of the
//! same layer; a uniquely held Flex tensor converts to and from host data
//! without a copy, so the whole update runs as one pass over the numbers.
//! The fused loops perform the same f32 operations in the same order as
//! the tensor ops they replace (Rust never contracts them into FMAs), so
//! both paths give the same bits; GPU backends keep the tensor ops.
//!
//! Each update spells out its own loops, one per case (with or without a
//! velocity), and shares only the plumbing ([`fused`]): a version sharing
//! one per-element closure with an `Option` step measured 8% slower on
//! `bench-cd --pcd`.
//!
//! The host path needs this crate's `flex` feature; without it, or on any
//! other device, [`on_host`] is false and callers use tensor ops.

use burn::prelude::*;
use burn::tensor::DType;

use crate::host_kernels::{CHUNK, PARALLEL_ELEMENTS, sgd_momentum_element};

/// True when tensors on `device` are host memory that the fused updates
/// of this module may read and write directly (Flex, with this crate's
/// `flex` feature).
pub fn on_host(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        *device == Device::flex() && !device.is_autodiff()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// Operands that [`fused`] could not take, handed back unchanged.
type Operands<const D: usize> = Box<(Tensor<D>, Option<Tensor<D>>, Tensor<D>)>;

/// Runs `update(parameter, velocity, step)` over the operands' numbers in
/// one pass on the host (see [`for_each_element`]) when [`on_host`] holds
/// and every operand is f32 and held only here (a shared one would have to
/// be copied out); returns the new `(parameter, velocity)`, or the
/// operands for the tensor-op path. Without a velocity, the step's buffer
/// becomes the velocity's: `update` then sees no step and the step in
/// `velocity`.
fn fused<const D: usize>(
    parameter: Tensor<D>,
    velocity: Option<Tensor<D>>,
    step: Tensor<D>,
    update: impl Fn(&mut [f32], &mut [f32], Option<&[f32]>) + Sync,
) -> Result<(Tensor<D>, Tensor<D>), Operands<D>> {
    let device = parameter.device();
    let fusable = on_host(&device)
        && [Some(&parameter), Some(&step), velocity.as_ref()]
            .into_iter()
            .flatten()
            .all(|t| t.dtype() == DType::F32 && t.can_mut());
    if !fusable {
        return Err(Box::new((parameter, velocity, step)));
    }
    let shape = parameter.shape();
    // Moved out without a copy: each operand is held once.
    let (mut parameter, step) = (parameter.into_data(), step.into_data());
    let (mut velocity, step) = match velocity.map(Tensor::into_data) {
        Some(v) => (v, Some(step)),
        None => (step, None),
    };
    for_each_element(
        parameter.as_mut_slice::<f32>().expect("f32"),
        velocity.as_mut_slice::<f32>().expect("f32"),
        step.as_ref().map(|s| s.as_slice::<f32>().expect("f32")),
        update,
    );
    Ok((
        Tensor::<D>::from_data(parameter, &device).reshape(shape.clone()),
        Tensor::<D>::from_data(velocity, &device).reshape(shape),
    ))
}

/// Runs `update(parameter, velocity, step)` over matching chunks of the
/// slices (`step` absent: velocity and parameter only), in parallel for
/// large ones.
fn for_each_element(
    parameter: &mut [f32],
    velocity: &mut [f32],
    step: Option<&[f32]>,
    update: impl Fn(&mut [f32], &mut [f32], Option<&[f32]>) + Sync,
) {
    use rayon::prelude::*;
    if parameter.len() < PARALLEL_ELEMENTS {
        update(parameter, velocity, step);
        return;
    }
    let pairs = parameter
        .par_chunks_mut(CHUNK)
        .zip(velocity.par_chunks_mut(CHUNK));
    match step {
        Some(step) => pairs
            .zip(step.par_chunks(CHUNK))
            .for_each(|((p, v), s)| update(p, v, Some(s))),
        None => pairs.for_each(|(p, v)| update(p, v, None)),
    }
}

/// The RBM trainer's update (Hinton's guide, section 9):
/// `velocity = momentum * velocity + step - decay * parameter`, then
/// `parameter += velocity`, where `step` is the learning-rate-scaled
/// gradient estimate; without a velocity yet, `velocity = step - decay *
/// parameter`. Returns `(parameter, velocity)`.
///
/// Runs fused on the host when [`on_host`] holds for the parameter's
/// device and every operand is f32 and held only here (a shared one
/// would be copied out), as tensor ops otherwise; both give the same
/// values.
///
/// # Shapes
/// - parameter, velocity, step: the same shape
pub fn momentum_ascent<const D: usize>(
    parameter: Tensor<D>,
    velocity: Option<Tensor<D>>,
    step: Tensor<D>,
    momentum: f64,
    decay: f64,
) -> (Tensor<D>, Tensor<D>) {
    let (momentum32, decay32) = (momentum as f32, decay as f32);
    let update = |p: &mut [f32], v: &mut [f32], s: Option<&[f32]>| {
        let apply = |p: &mut f32, v: &mut f32, velocity: f32| {
            let velocity = if decay32 > 0.0 {
                velocity - *p * decay32
            } else {
                velocity
            };
            *v = velocity;
            *p += velocity;
        };
        match s {
            Some(s) => {
                for ((p, v), s) in p.iter_mut().zip(v.iter_mut()).zip(s) {
                    apply(p, v, *v * momentum32 + *s);
                }
            }
            // Without a velocity yet, `v` holds the step.
            None => {
                for (p, v) in p.iter_mut().zip(v.iter_mut()) {
                    apply(p, v, *v);
                }
            }
        }
    };
    fused(parameter, velocity, step, update).unwrap_or_else(|operands| {
        let (p, v, s) = *operands;
        momentum_ascent_ops(p, v, s, momentum, decay)
    })
}

/// [`momentum_ascent`] as tensor ops, for any backend.
fn momentum_ascent_ops<const D: usize>(
    parameter: Tensor<D>,
    velocity: Option<Tensor<D>>,
    step: Tensor<D>,
    momentum: f64,
    decay: f64,
) -> (Tensor<D>, Tensor<D>) {
    let velocity = match velocity {
        Some(v) => v * momentum + step,
        None => step,
    };
    let velocity = if decay > 0.0 {
        velocity - parameter.clone() * decay
    } else {
        velocity
    };
    (parameter + velocity.clone(), velocity)
}

/// SGD with classical momentum and L2 weight decay, as Burn's `Sgd` (no
/// dampening, no Nesterov): `gradient += weight_decay * parameter`,
/// `velocity = momentum * velocity + gradient` (the gradient alone at the
/// first step), `parameter -= learning_rate * velocity`. Returns
/// `(parameter, velocity)`.
///
/// Runs fused on the host under the conditions of [`momentum_ascent`],
/// as tensor ops otherwise; both give the same values as Burn's `Sgd`.
///
/// # Shapes
/// - parameter, velocity, gradient: the same shape
pub fn momentum_descent<const D: usize>(
    parameter: Tensor<D>,
    velocity: Option<Tensor<D>>,
    gradient: Tensor<D>,
    learning_rate: f64,
    momentum: f32,
    weight_decay: Option<f32>,
) -> (Tensor<D>, Tensor<D>) {
    let rate = learning_rate as f32;
    let update = |p: &mut [f32], v: &mut [f32], g: Option<&[f32]>| match g {
        Some(g) => {
            for ((p, v), g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
                (*v, *p) = sgd_momentum_element(*p, *g, Some(*v), rate, momentum, weight_decay);
            }
        }
        // Without a velocity yet, `v` holds the gradient.
        None => {
            for (p, v) in p.iter_mut().zip(v.iter_mut()) {
                (*v, *p) = sgd_momentum_element(*p, *v, None, rate, momentum, weight_decay);
            }
        }
    };
    // A parameter that is shared (Burn's Learner keeps the model it hands
    // to the optimizer) is read in place by the host kernel, the new value
    // written over the gradient.
    let device = parameter.device();
    let shared_on_host = crate::host_ops::on_flex(&device)
        && !device.is_autodiff()
        && !parameter.can_mut()
        && velocity.is_some();
    if shared_on_host {
        let velocity = velocity.expect("checked above");
        return crate::host_ops::momentum_descent_on_flex(
            parameter,
            velocity,
            gradient,
            rate,
            momentum,
            weight_decay,
        );
    }
    fused(parameter, velocity, gradient, update).unwrap_or_else(|operands| {
        let (p, v, g) = *operands;
        momentum_descent_ops(p, v, g, learning_rate, momentum, weight_decay)
    })
}

/// [`momentum_descent`] as tensor ops, for any backend.
fn momentum_descent_ops<const D: usize>(
    parameter: Tensor<D>,
    velocity: Option<Tensor<D>>,
    gradient: Tensor<D>,
    learning_rate: f64,
    momentum: f32,
    weight_decay: Option<f32>,
) -> (Tensor<D>, Tensor<D>) {
    let gradient = match weight_decay {
        Some(decay) => parameter.clone().mul_scalar(decay).add(gradient),
        None => gradient,
    };
    let velocity = match velocity {
        Some(v) => gradient.add(v.mul_scalar(momentum)),
        None => gradient,
    };
    // `-(velocity * rate) + parameter` is `parameter - velocity * rate`
    // exactly; written this way the product's fresh buffer takes the sum,
    // where a parameter still held by the caller would need one more.
    let step = velocity.clone().mul_scalar(-learning_rate);
    (step.add(parameter), velocity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::Sampler;

    fn bits(t: &Tensor<2>) -> Vec<u32> {
        t.clone()
            .try_into_vec_as::<f32>()
            .expect("f32")
            .into_iter()
            .map(f32::to_bits)
            .collect()
    }

    /// Parameter, velocity and step of `rows x 300` (random normals of
    /// different scales), as fresh, uniquely held tensors.
    fn operands(rows: usize, seed: u64) -> [Tensor<2>; 3] {
        let device = Device::flex();
        let mut sampler = Sampler::new(seed);
        [1.0, 0.1, 0.01].map(|std| sampler.normal([rows, 300], 0.0, std, &device))
    }

    /// Sizes on either side of the parallel threshold, with and without a
    /// velocity and decay: the fused loops give the tensor ops' bits.
    #[test]
    fn fused_updates_match_tensor_ops_bit_for_bit() {
        #[cfg(feature = "flex")]
        assert!(on_host(&Device::flex()), "Flex is a host device");
        for rows in [3, PARALLEL_ELEMENTS / 300 + 7] {
            for (with_velocity, decay) in [(false, 0.0), (true, 0.0), (false, 2e-4), (true, 2e-4)] {
                let [p, v, s] = operands(rows, rows as u64);
                let velocity = |v: &Tensor<2>| with_velocity.then(|| v.clone().add_scalar(0.0));
                let (fused_p, fused_v) = momentum_ascent(
                    p.clone().add_scalar(0.0),
                    velocity(&v),
                    s.clone(),
                    0.9,
                    decay,
                );
                let (ops_p, ops_v) =
                    momentum_ascent_ops(p.clone(), velocity(&v), s.clone(), 0.9, decay);
                assert_eq!(
                    bits(&fused_p),
                    bits(&ops_p),
                    "ascent parameter, rows {rows}"
                );
                assert_eq!(bits(&fused_v), bits(&ops_v), "ascent velocity, rows {rows}");
                let weight_decay = (decay > 0.0).then_some(1e-5);
                let (fused_p, fused_v) = momentum_descent(
                    p.clone().add_scalar(0.0),
                    velocity(&v),
                    s.clone(),
                    0.1,
                    0.9,
                    weight_decay,
                );
                let (ops_p, ops_v) = momentum_descent_ops(
                    p.clone(),
                    velocity(&v),
                    s.clone(),
                    0.1,
                    0.9,
                    weight_decay,
                );
                assert_eq!(
                    bits(&fused_p),
                    bits(&ops_p),
                    "descent parameter, rows {rows}"
                );
                assert_eq!(
                    bits(&fused_v),
                    bits(&ops_v),
                    "descent velocity, rows {rows}"
                );
                // And the update did something.
                assert_ne!(bits(&ops_p), bits(&p));
            }
        }
    }

    /// A parameter held elsewhere too (Burn's Learner keeps the model it
    /// hands the optimizer) goes to the host kernel, which reads it in
    /// place: the tensor ops' bits on either side of the parallel
    /// threshold, with and without decay, and the other holder's copy
    /// unchanged.
    #[test]
    fn descent_on_a_shared_parameter_matches_tensor_ops_bit_for_bit() {
        for rows in [3, PARALLEL_ELEMENTS / 300 + 7] {
            for weight_decay in [None, Some(1e-3)] {
                let [p, v, g] = operands(rows, 40 + rows as u64);
                let before = bits(&p);
                let (host_p, host_v) = momentum_descent(
                    p.clone(),
                    Some(v.clone().add_scalar(0.0)),
                    g.clone().add_scalar(0.0),
                    0.1,
                    0.9,
                    weight_decay,
                );
                let (ops_p, ops_v) = momentum_descent_ops(
                    p.clone(),
                    Some(v.clone()),
                    g.clone(),
                    0.1,
                    0.9,
                    weight_decay,
                );
                assert_eq!(bits(&host_p), bits(&ops_p), "parameter, rows {rows}");
                assert_eq!(bits(&host_v), bits(&ops_v), "velocity, rows {rows}");
                assert_eq!(bits(&p), before, "the shared parameter changed");
                assert_ne!(bits(&host_p), before);
            }
        }
    }

    /// A parameter that is also held elsewhere is copied, not changed under
    /// the other holder.
    #[test]
    fn shared_parameters_are_not_changed_in_place() {
        let [p, v, s] = operands(4, 9);
        let before = bits(&p);
        let (updated, _) = momentum_ascent(p.clone(), Some(v), s, 0.5, 0.0);
        assert_eq!(bits(&p), before);
        assert_ne!(bits(&updated), before);
    }
}
