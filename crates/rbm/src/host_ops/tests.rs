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

/// Products `[m, k] @ [k, n]` as `(m, k, n)` whose outputs are split
/// along columns (4 and 16 blocks), along rows (8 and 2), and not at all.
const SPLIT_SHAPES: [(usize, usize, usize); 5] = [
    (100, 784, 500),
    (100, 500, 2000),
    (784, 100, 500),
    (250, 200, 170),
    (3, 5, 4),
];

/// `a @ b` in f64 for row-major `[m, k]` and `[k, n]` values, with the
/// bound on any f32 evaluation's error: `gamma_k sum_l |a_il| |b_lj|`,
/// `gamma_k = k u / (1 - k u)`, `u = 2^-24` (Higham, Accuracy and
/// Stability of Numerical Algorithms, 3.5: any order of summation,
/// fused multiply-adds or not).
fn exact_product(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<(f64, f64)> {
    let u = f64::powi(2.0, -24);
    let gamma = k as f64 * u / (1.0 - k as f64 * u);
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let (mut value, mut magnitude) = (0.0f64, 0.0f64);
            for l in 0..k {
                let term = a[i * k + l] as f64 * b[l * n + j] as f64;
                value += term;
                magnitude += term.abs();
            }
            out.push((value, gamma * magnitude));
        }
    }
    out
}

/// `ours` is within [`exact_product`]'s bound of `a @ b` everywhere.
fn assert_within_bound(ours: Tensor<2>, a: Tensor<2>, b: Tensor<2>, what: &str) {
    let ([m, k], [_, n]) = (a.dims(), b.dims());
    let ours = host(ours);
    for (index, (value, (exact, bound))) in ours
        .iter()
        .zip(exact_product(&host(a), &host(b), m, k, n))
        .enumerate()
    {
        assert!(
            (*value as f64 - exact).abs() <= bound,
            "{what}: element {index} is {value}, exactly {exact}, bound {bound:e}"
        );
    }
}

/// The host matmul (the `gemm` crate, or OpenBLAS with `openblas`) is
/// within the forward error bound of the exact product, with and without
/// autodiff: contiguous operands, transposed ones (strided views), a
/// slice at an offset, a broadcast row (stride 0), shapes from 1x1x1 to
/// batch-100 training's (whose outputs the threads share in 2 to 16
/// blocks of rows or of columns); it gives the same bits when repeated,
/// and a product over k = 0 is 0.
#[test]
fn matmul_is_within_the_forward_error_bound() {
    for device in [Device::flex(), Device::flex().autodiff()] {
        for (m, k, n) in SPLIT_SHAPES.into_iter().chain([(1, 1, 1)]) {
            let a = matrix(m, k, 0.1, &device);
            let b = matrix(k, n, 0.7, &device);
            let product = crate::math::matmul(a.clone(), b.clone());
            assert_eq!(
                bits(product.clone()),
                bits(crate::math::matmul(a.clone(), b.clone())),
                "repeated {m}x{k} @ {k}x{n}"
            );
            assert_within_bound(product, a, b.clone(), &format!("{m}x{k} @ {k}x{n}"));
            let at = matrix(k, m, 0.2, &device).transpose();
            let bt = matrix(n, k, 0.3, &device).transpose();
            assert_within_bound(
                crate::math::matmul(at.clone(), bt.clone()),
                at,
                bt,
                &format!("transposed {m}x{k} @ {k}x{n}"),
            );
            let sliced = matrix(m + 2, k + 3, 0.4, &device).slice([1..m + 1, 2..k + 2]);
            assert_within_bound(
                crate::math::matmul(sliced.clone(), b.clone()),
                sliced,
                b.clone(),
                &format!("sliced {m}x{k} @ {k}x{n}"),
            );
            let broadcast = matrix(1, k, 0.5, &device).expand([m, k]);
            assert_within_bound(
                crate::math::matmul(broadcast.clone(), b.clone()),
                broadcast,
                b,
                &format!("broadcast {m}x{k} @ {k}x{n}"),
            );
        }
        let empty = Tensor::<2>::zeros([3, 0], &device);
        let product = crate::math::matmul(empty, Tensor::zeros([0, 4], &device));
        assert_eq!(product.dims(), [3, 4]);
        assert_eq!(host(product), vec![0.0; 12]);
    }
}

/// The host matmul gives the same bits on 1, 2 and 3 rayon threads, so a
/// run resumed on another thread count goes on as it would have: its
/// blocks depend on the shape alone (products split along rows, along
/// columns, in 2 to 16 blocks, and not at all), each one single-threaded
/// call of the GEMM.
#[test]
fn matmul_gives_the_same_bits_on_any_number_of_threads() {
    let device = Device::flex();
    for (m, k, n) in SPLIT_SHAPES {
        let (a, b) = (matrix(m, k, 0.1, &device), matrix(k, n, 0.7, &device));
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| bits(crate::math::matmul(a.clone(), b.clone())))
        };
        let one = on(1);
        assert_eq!(on(2), one, "{m}x{k} @ {k}x{n} on 2 threads");
        assert_eq!(on(3), one, "{m}x{k} @ {k}x{n} on 3 threads");
    }
}

/// With autodiff the host matmul's gradients (`grad rhs^T`, `lhs^T grad`)
/// are within the forward error bound of the exact ones, with either
/// operand tracked or both.
#[test]
fn matmul_gradients_are_within_the_forward_error_bound() {
    let device = Device::flex().autodiff();
    for (track_lhs, track_rhs) in [(true, true), (true, false), (false, true)] {
        let (a, b) = (matrix(30, 20, 0.5, &device), matrix(20, 10, 0.9, &device));
        let (a, b) = (
            if track_lhs { a.require_grad() } else { a },
            if track_rhs { b.require_grad() } else { b },
        );
        let weights = matrix(30, 10, 0.6, &device);
        let grads = (crate::math::matmul(a.clone(), b.clone()) * weights.clone())
            .sum()
            .backward();
        let plain = |x: &Tensor<2>| Tensor::<2>::from_data(x.to_data(), &Device::flex());
        let (a_plain, b_plain, w_plain) = (plain(&a), plain(&b), plain(&weights));
        match a.grad(&grads) {
            Some(g) => {
                assert!(track_lhs, "a gradient of an untracked lhs");
                assert_within_bound(
                    plain(&g),
                    w_plain.clone(),
                    b_plain.clone().transpose(),
                    "d/d lhs",
                )
            }
            None => assert!(!track_lhs, "the lhs gradient is missing"),
        }
        match b.grad(&grads) {
            Some(g) => {
                assert!(track_rhs, "a gradient of an untracked rhs");
                assert_within_bound(plain(&g), a_plain.transpose(), w_plain, "d/d rhs")
            }
            None => assert!(!track_rhs, "the rhs gradient is missing"),
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
