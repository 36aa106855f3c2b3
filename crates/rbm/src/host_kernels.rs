//! Loops over host slices behind [`crate::host_ops`] and
//! [`crate::fused_update`]: a vectorised logistic and softplus, and an SGD
//! momentum step, split over threads for large slices.
//!
//! The logistic and the softplus are written lane by lane with no branches
//! or calls, so the compiler vectorises them; on x86-64 they are compiled
//! again for AVX2 and for AVX-512 and chosen at run time. No build
//! contracts `a * b + c` into an FMA, so all give the same bits.

use rayon::prelude::*;

/// Elements below which a loop runs on one thread: splitting a small
/// slice costs more in wake-ups than it saves (Flex's own threshold for
/// elementwise ops).
pub(crate) const PARALLEL_ELEMENTS: usize = 256 * 1024;
/// Elements per parallel task.
pub(crate) const CHUNK: usize = 32 * 1024;
/// Elements from which the logistic and the softplus run on threads: an
/// exponential (and a logarithm) per element is several times the work of
/// a memory-bound step, so smaller slices pay for the split (a
/// `[100, 2000]` batch of up-down's top RBM is 200,000).
pub(crate) const PARALLEL_TRANSCENDENTALS: usize = 64 * 1024;

/// `1 / (1 + exp(-x))` for every element, in place. Within 4 ulp of the
/// exact value (relative) where that is above about 1.7e-38; below, the
/// input is clamped at -87 and the result is at most 1.7e-38. NaN stays
/// NaN.
pub fn logistic_in_place(values: &mut [f32]) {
    map_in_place(values, logistic);
}

/// `log(1 + exp(x))` for every element, in place, as `max(x, 0) +
/// log1p(exp(-|x|))` (no overflow, no cancellation). Within 4 ulp of the
/// exact value (relative) where that is above about 1.7e-38; below (x <
/// -87), the result is at most 1.7e-38. NaN stays NaN.
pub fn softplus_in_place(values: &mut [f32]) {
    map_in_place(values, softplus);
}

/// `values[i] = f(values[i])`, on threads for slices of at least
/// [`PARALLEL_TRANSCENDENTALS`] (one chunk per thread; each element's
/// bits do not depend on the split).
fn map_in_place<F: Fn(f32) -> f32 + Copy + Send + Sync>(values: &mut [f32], f: F) {
    if values.len() < PARALLEL_TRANSCENDENTALS {
        map_chunk(values, f);
    } else {
        // A multiple of 16 lanes, so only the last chunk has a tail.
        let chunk = values
            .len()
            .div_ceil(rayon::current_num_threads())
            .next_multiple_of(16);
        values
            .par_chunks_mut(chunk)
            .for_each(|chunk| map_chunk(chunk, f));
    }
}

fn map_chunk<F: Fn(f32) -> f32 + Copy>(values: &mut [f32], f: F) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            unsafe { map_avx512(values, f) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { map_avx2(values, f) };
            return;
        }
    }
    map_lanes(values, f);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn map_avx2<F: Fn(f32) -> f32>(values: &mut [f32], f: F) {
    map_lanes(values, f);
}

/// 16 lanes where the CPU has them (the Xeons and the AVX-512 EPYCs): the
/// same operations as the other builds, so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn map_avx512<F: Fn(f32) -> f32>(values: &mut [f32], f: F) {
    map_lanes(values, f);
}

#[inline(always)]
fn map_lanes<F: Fn(f32) -> f32>(values: &mut [f32], f: F) {
    for x in values {
        *x = f(*x);
    }
}

/// 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to the
/// nearest integer, which is then the low bits of the sum's pattern.
const ROUNDING: f32 = 12_582_912.0;
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two (Cody & Waite), so `n * LN2_HIGH` is exact.
const LN2_HIGH: f32 = 0.693_359_4;
const LN2_LOW: f32 = -2.121_944_4e-4;
/// Cephes' `expf` polynomial: `exp(r) = 1 + r + r^2 P(r)` on |r| <= ln2 / 2.
const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5, // Cephes: 5.0000001201e-1, which is 0.5 in f32
];
/// Cephes' `logf` polynomial: `log(1 + z) = z - z^2 / 2 + z^3 P(z)` on
/// sqrt(1/2) - 1 <= z < sqrt(2) - 1.
const LOG_POLY: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461e-1,
    1.167_699_9e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_4e-1,
    -2.499_999_4e-1,
    3.333_333e-1,
];

/// `exp(t)`, branch-free, with `t` clamped to [-87, 88] so that the
/// scaling by 2^n stays a finite normal float: `t = n ln2 + r`.
#[inline(always)]
fn exp_clamped(t: f32) -> f32 {
    let t = t.clamp(-87.0, 88.0);
    let rounded = t * LOG2_E + ROUNDING;
    let n = rounded - ROUNDING;
    let r = t - n * LN2_HIGH - n * LN2_LOW;
    let p = EXP_POLY[1..]
        .iter()
        .fold(EXP_POLY[0], |acc, &c| acc * r + c);
    let exp_r = p * r * r + r + 1.0;
    let exponent = (rounded.to_bits() as i32 - ROUNDING.to_bits() as i32) + 127;
    let two_to_n = f32::from_bits((exponent as u32) << 23);
    exp_r * two_to_n
}

/// The logistic of one value, branch-free (see [`logistic_in_place`]).
#[inline(always)]
pub(crate) fn logistic(x: f32) -> f32 {
    1.0 / (1.0 + exp_clamped(-x))
}

/// `log(1 + y)` for `y` in [0, 1], branch-free: `u = 1 + y` is split as
/// `2^k m` with `m` in [sqrt(1/2), sqrt(2)], and the rounding of `1 + y`
/// is added back to first order, `(y - (u - 1)) / u` (`u - 1` is exact).
#[inline(always)]
fn log1p_unit(y: f32) -> f32 {
    let u = 1.0 + y;
    let above = u > std::f32::consts::SQRT_2;
    let k = if above { 1.0 } else { 0.0 };
    let m = if above { u * 0.5 } else { u };
    let z = m - 1.0;
    let z2 = z * z;
    let p = LOG_POLY[1..]
        .iter()
        .fold(LOG_POLY[0], |acc, &c| acc * z + c);
    let log_m = z + (z * z2 * p - 0.5 * z2);
    let rounding = (y - (u - 1.0)) / u;
    k * LN2_HIGH + (log_m + (k * LN2_LOW + rounding))
}

/// The softplus of one value, branch-free (see [`softplus_in_place`]).
#[inline(always)]
pub(crate) fn softplus(x: f32) -> f32 {
    // `max` returns 0 for NaN; the tail is NaN then, so the sum is too.
    x.max(0.0) + log1p_unit(exp_clamped(-x.abs()))
}

/// Burn's `Sgd` with momentum for one element, the one place its formula
/// is written: the new velocity `(decay * p + g) + momentum * v` (the
/// decayed gradient alone at the first step, `v` None) and the new
/// parameter `p - rate * velocity`, as `(velocity, parameter)`. The same
/// f32 operations in the same order as Burn's tensor ops.
#[inline(always)]
pub(crate) fn sgd_momentum_element(
    p: f32,
    g: f32,
    v: Option<f32>,
    rate: f32,
    momentum: f32,
    decay: Option<f32>,
) -> (f32, f32) {
    let gradient = match decay {
        Some(decay) => p * decay + g,
        None => g,
    };
    let velocity = match v {
        Some(v) => gradient + v * momentum,
        None => gradient,
    };
    (velocity, p - velocity * rate)
}

/// One SGD step with classical momentum, the parameter only read: for each
/// element, `velocity = (decay * parameter + gradient) + momentum *
/// velocity` (`gradient + momentum * velocity` without decay), and the new
/// parameter `parameter - rate * velocity` is written over `gradient`.
/// The same f32 operations in the same order as Burn's `Sgd`.
///
/// # Shapes
/// - parameter, velocity, gradient: the same length
pub fn momentum_descent_into(
    parameter: &[f32],
    velocity: &mut [f32],
    gradient: &mut [f32],
    rate: f32,
    momentum: f32,
    decay: Option<f32>,
) {
    assert!(
        parameter.len() == velocity.len() && parameter.len() == gradient.len(),
        "momentum_descent_into: lengths {} / {} / {}",
        parameter.len(),
        velocity.len(),
        gradient.len()
    );
    // One loop per case, each with a constant `decay`, so that both vectorise.
    let step = |p: &[f32], v: &mut [f32], g: &mut [f32]| match decay {
        Some(decay) => {
            for ((p, v), g) in p.iter().zip(v.iter_mut()).zip(g.iter_mut()) {
                (*v, *g) = sgd_momentum_element(*p, *g, Some(*v), rate, momentum, Some(decay));
            }
        }
        None => {
            for ((p, v), g) in p.iter().zip(v.iter_mut()).zip(g.iter_mut()) {
                (*v, *g) = sgd_momentum_element(*p, *g, Some(*v), rate, momentum, None);
            }
        }
    };
    if parameter.len() < PARALLEL_ELEMENTS {
        step(parameter, velocity, gradient);
    } else {
        parameter
            .par_chunks(CHUNK)
            .zip(velocity.par_chunks_mut(CHUNK))
            .zip(gradient.par_chunks_mut(CHUNK))
            .for_each(|((p, v), g)| step(p, v, g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(x: f32) -> f64 {
        1.0 / (1.0 + (-(x as f64)).exp())
    }

    fn exact_softplus(x: f32) -> f64 {
        let x = x as f64;
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }

    /// Every f32 step of 1/64 from -200 to 200, the extremes, and inputs
    /// near zero and near the branch at `1 + exp(-|x|) = sqrt(2)`: within 4
    /// ulp relative of the f64 value (exp and log are each within about 1
    /// ulp, the sum rounds once), or within 1.7e-38 where the exponential
    /// is clamped (x < -87).
    #[test]
    fn softplus_is_within_four_ulp_of_the_exact_value() {
        let mut inputs: Vec<f32> = (-12_800..=12_800).map(|i| i as f32 / 64.0).collect();
        // 1 + exp(-|x|) = sqrt(2) at |x| = -ln(sqrt(2) - 1) = 0.8814.
        inputs.extend((-2000..=2000).map(|i| 0.881_374 + i as f32 * 1e-6));
        inputs.extend((-2000..=2000).map(|i| i as f32 * 1e-7));
        inputs.extend([
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            1e-30,
            -1e-30,
            -16.5,
            17.0,
            -87.5,
            88.5,
        ]);
        let mut values = inputs.clone();
        softplus_in_place(&mut values);
        for (&x, &s) in inputs.iter().zip(&values) {
            let want = exact_softplus(x);
            if want.is_infinite() {
                assert_eq!(s as f64, want, "x = {x}");
                continue;
            }
            let error = (s as f64 - want).abs();
            let bound = 4.0 * f64::from(f32::EPSILON) / 2.0 * want + 1.7e-38;
            assert!(
                error <= bound,
                "x = {x}: {s} vs {want} (error {error:e}, bound {bound:e})"
            );
            assert!(s >= 0.0, "x = {x}: {s}");
        }
        let mut edges = [f32::NAN, f32::NEG_INFINITY];
        softplus_in_place(&mut edges);
        assert!(edges[0].is_nan());
        assert!((0.0..=1.7e-38).contains(&edges[1]), "{}", edges[1]);
    }

    /// Every f32 step of 1/64 from -200 to 200, and the extremes: within
    /// 4 ulp relative of the f64 value (Cephes' polynomial is within about
    /// 1 ulp, the add and the division round once each), or within
    /// 1.7e-38 where the input is clamped (x < -87).
    #[test]
    fn logistic_is_within_four_ulp_of_the_exact_value() {
        let mut inputs: Vec<f32> = (-12_800..=12_800).map(|i| i as f32 / 64.0).collect();
        inputs.extend([
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-30,
            -1e-30,
        ]);
        let mut values = inputs.clone();
        logistic_in_place(&mut values);
        for (&x, &s) in inputs.iter().zip(&values) {
            let want = exact(x);
            let error = (s as f64 - want).abs();
            let bound = 4.0 * f64::from(f32::EPSILON) / 2.0 * want + 1.7e-38;
            assert!(
                error <= bound,
                "x = {x}: {s} vs {want} (error {error:e}, bound {bound:e})"
            );
            assert!((0.0..=1.0).contains(&s), "x = {x}: {s}");
        }
        let mut nan = [f32::NAN];
        logistic_in_place(&mut nan);
        assert!(nan[0].is_nan());
    }

    /// The vectorised loops, on one thread and split over threads, give
    /// the scalar functions' bits (the result does not depend on how the
    /// slice is cut).
    #[test]
    fn logistic_and_softplus_are_the_same_on_any_split() {
        let inputs: Vec<f32> = (0..PARALLEL_TRANSCENDENTALS + 1001)
            .map(|i| ((i as f32) * 0.618_034).sin() * 30.0)
            .collect();
        for (in_place, scalar) in [
            (
                logistic_in_place as fn(&mut [f32]),
                logistic as fn(f32) -> f32,
            ),
            (softplus_in_place, softplus),
        ] {
            let mut whole = inputs.clone();
            in_place(&mut whole);
            let mut small = inputs[..1001].to_vec();
            in_place(&mut small);
            for (i, &x) in inputs.iter().enumerate() {
                assert_eq!(whole[i].to_bits(), scalar(x).to_bits(), "element {i}");
            }
            assert_eq!(small[..], whole[..1001]);
        }
    }

    /// Each build the CPU can run (portable, AVX2, AVX-512) gives the
    /// scalar functions' bits, on a length that is no multiple of any
    /// vector width (so the tail loops run too).
    #[test]
    fn every_simd_build_gives_the_scalar_bits() {
        let inputs: Vec<f32> = (0..4099)
            .map(|i| ((i as f32) * 0.377_21).sin() * 100.0)
            .collect();
        for scalar in [logistic as fn(f32) -> f32, softplus] {
            let want: Vec<u32> = inputs.iter().map(|&x| scalar(x).to_bits()).collect();
            let bits = |values: Vec<f32>| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let mut portable = inputs.clone();
            map_lanes(&mut portable, scalar);
            assert_eq!(bits(portable), want, "portable");
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    let mut avx2 = inputs.clone();
                    // SAFETY: the CPU supports AVX2, checked just above.
                    unsafe { map_avx2(&mut avx2, scalar) };
                    assert_eq!(bits(avx2), want, "AVX2");
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let mut avx512 = inputs.clone();
                    // SAFETY: the CPU supports AVX-512F, checked just above.
                    unsafe { map_avx512(&mut avx512, scalar) };
                    assert_eq!(bits(avx512), want, "AVX-512");
                }
            }
        }
    }

    /// Two steps by hand (momentum 0.5, rate 0.1, decay 0.01): v1 = (0.01 *
    /// 1 + 2) + 0.5 * 0 = 2.01, p1 = 1 - 0.201 = 0.799; then with gradient
    /// -1: v2 = (0.00799 - 1) + 1.005 = 0.01299, p2 = 0.799 - 0.001299.
    #[test]
    fn momentum_descent_matches_a_hand_computed_two_step_update() {
        let (mut velocity, mut gradient) = (vec![0.0f32], vec![2.0f32]);
        momentum_descent_into(&[1.0], &mut velocity, &mut gradient, 0.1, 0.5, Some(0.01));
        assert!((velocity[0] - 2.01).abs() < 1e-6, "{velocity:?}");
        assert!((gradient[0] - 0.799).abs() < 1e-6, "{gradient:?}");
        let parameter = gradient;
        let mut gradient = vec![-1.0f32];
        momentum_descent_into(
            &parameter,
            &mut velocity,
            &mut gradient,
            0.1,
            0.5,
            Some(0.01),
        );
        assert!((velocity[0] - 0.01299).abs() < 1e-6, "{velocity:?}");
        assert!(
            (gradient[0] - (0.799 - 0.001_299)).abs() < 1e-6,
            "{gradient:?}"
        );
    }
}
