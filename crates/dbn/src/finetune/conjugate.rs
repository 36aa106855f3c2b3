//! Conjugate gradients with Rasmussen's line search: the optimiser of
//! Hinton & Salakhutdinov's `backpropclassify.m`, which calls Carl
//! Rasmussen's `minimize` with three line searches on each mini-batch of
//! 1,000 images.
//!
//! The method: Polak-Ribiere directions; each line search extrapolates
//! with cubics (at most 3 times the last step) until the slope is no
//! longer steeply negative, then interpolates (quadratic or cubic, kept
//! inside the bracket) until the strong Wolfe-Powell conditions hold
//! (sufficient decrease with `RHO`, slope shrunk by `SIG`); at most `MAX`
//! evaluations per line search. A failed line search restarts along the
//! steepest descent direction from the best point seen; two failures in a
//! row end the run. Everything is on host `f64` vectors: the objective
//! computes the value and gradient however it likes (here: Burn's autodiff
//! on any backend).

// The constants of the `minimize.m` (2006-09-08) that ships with Hinton
// & Salakhutdinov's code; later versions loosen the line search (SIG 0.5,
// RHO 0.01, RATIO 100).
/// Curvature: the slope must shrink to `SIG` times the initial slope.
const SIG: f64 = 0.1;
/// Sufficient decrease (Wolfe-Powell's rho), half of `SIG`.
const RHO: f64 = SIG / 2.0;
/// Never step closer than `INT` of the bracket to its ends.
const INT: f64 = 0.1;
/// Extrapolate at most `EXT` times the current step.
const EXT: f64 = 3.0;
/// Evaluations per line search.
const MAX: usize = 20;
/// Largest ratio of the next initial step to the last accepted one.
const RATIO: f64 = 10.0;

/// What [`minimize`] reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimized {
    /// The best point found.
    pub x: Vec<f64>,
    /// The value after each successful line search (the first entry: the
    /// starting value), as `minimize.m`'s `fX`.
    pub values: Vec<f64>,
    /// The value at `x`: the last of `values`, or lower when a failed line
    /// search ended at a better point than its start (which `values` does
    /// not record).
    pub value: f64,
    /// Evaluations of the objective.
    pub evaluations: usize,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `x + step * direction`.
fn along(x: &[f64], step: f64, direction: &[f64]) -> Vec<f64> {
    x.iter().zip(direction).map(|(x, d)| x + step * d).collect()
}

/// `direction = -gradient`, in place.
fn steepest_descent(direction: &mut [f64], gradient: &[f64]) {
    for (d, g) in direction.iter_mut().zip(gradient) {
        *d = -g;
    }
}

fn finite(value: f64, gradient: &[f64]) -> bool {
    value.is_finite() && gradient.iter().all(|g| g.is_finite())
}

use burn::prelude::*;

use crate::error::{DbnConfigError, DbnError};
use crate::finetune::sgd_net::SgdNet;

/// One evaluated point on the line: step, value, slope along the direction.
#[derive(Debug, Clone, Copy)]
struct Point {
    step: f64,
    value: f64,
    slope: f64,
}

/// Minimises `objective` (value and gradient at a point) from `x` with at
/// most `line_searches` line searches.
///
/// # Errors
/// The first error of `objective`.
pub fn minimize<E>(
    x: Vec<f64>,
    line_searches: usize,
    mut objective: impl FnMut(&[f64]) -> Result<(f64, Vec<f64>), E>,
) -> Result<Minimized, E> {
    let mut x = x;
    let (mut f0, mut df0) = objective(&x)?;
    let mut evaluations = 1;
    let mut values = vec![f0];
    let mut s: Vec<f64> = df0.iter().map(|g| -g).collect();
    let mut d0 = -dot(&s, &s);
    let mut x3 = 1.0 / (1.0 - d0);
    let mut searches = 0;
    let mut failed_last = false;
    while searches < line_searches {
        searches += 1;
        // The line search's best point when it improved on the start; a
        // failed search falls back to it (to the start otherwise, which is
        // therefore never copied).
        let mut best: Option<(Vec<f64>, f64, Vec<f64>)> = None;
        let mut best_f = f0;
        let mut budget = MAX;
        let mut p3;
        let mut df3;
        // Extrapolation: step out while the slope stays steep.
        // Every extrapolation starts its cubic from the line's origin (as
        // `minimize.m` does), and an interpolation that follows brackets
        // from there.
        let origin = Point {
            step: 0.0,
            value: f0,
            slope: d0,
        };
        let mut p2;
        loop {
            p2 = origin;
            p3 = Point {
                step: x3,
                value: f0,
                slope: d0,
            };
            // Without a finite evaluation the slope is the origin's.
            let mut evaluated = None;
            while evaluated.is_none() && budget > 0 {
                budget -= 1;
                let point = along(&x, x3, &s);
                let (f3, g3) = objective(&point)?;
                evaluations += 1;
                if finite(f3, &g3) {
                    p3.value = f3;
                    if f3 < best_f {
                        best_f = f3;
                        best = Some((point, f3, g3.clone()));
                    }
                    evaluated = Some(g3);
                } else {
                    // Bisect back towards the last good step.
                    x3 = (p2.step + x3) / 2.0;
                    p3.step = x3;
                }
            }
            df3 = evaluated.unwrap_or_else(|| df0.clone());
            p3.slope = dot(&df3, &s);
            if p3.slope > SIG * d0 || p3.value > f0 + x3 * RHO * d0 || budget == 0 {
                break;
            }
            let p1 = p2;
            p2 = p3;
            // Cubic extrapolation through p1 and p2.
            let span = p2.step - p1.step;
            let a = 6.0 * (p1.value - p2.value) + 3.0 * (p2.slope + p1.slope) * span;
            let b = 3.0 * (p2.value - p1.value) - (2.0 * p1.slope + p2.slope) * span;
            let root = b * b - a * p1.slope * span;
            x3 = p1.step - p1.slope * span * span / (b + root.sqrt());
            if !x3.is_finite() || root < 0.0 || x3 < 0.0 || x3 > p2.step * EXT {
                x3 = p2.step * EXT;
            } else if x3 < p2.step + INT * span {
                x3 = p2.step + INT * span;
            }
        }
        // Interpolation: shrink the bracket [p2, p4] until Wolfe-Powell holds.
        let mut p4 = p3;
        while (p3.slope.abs() > -SIG * d0 || p3.value > f0 + x3 * RHO * d0) && budget > 0 {
            if p3.slope > 0.0 || p3.value > f0 + x3 * RHO * d0 {
                p4 = p3;
            } else {
                p2 = p3;
            }
            let span = p4.step - p2.step;
            x3 = if p4.value > f0 {
                // Quadratic through p2 (value, slope) and p4's value.
                p2.step - 0.5 * p2.slope * span * span / (p4.value - p2.value - p2.slope * span)
            } else {
                let a = 6.0 * (p2.value - p4.value) / span + 3.0 * (p4.slope + p2.slope);
                let b = 3.0 * (p4.value - p2.value) - (2.0 * p2.slope + p4.slope) * span;
                p2.step + ((b * b - a * p2.slope * span * span).sqrt() - b) / a
            };
            if !x3.is_finite() {
                x3 = (p2.step + p4.step) / 2.0;
            }
            x3 = x3.min(p4.step - INT * span).max(p2.step + INT * span);
            let point = along(&x, x3, &s);
            let (f3, g3) = objective(&point)?;
            evaluations += 1;
            budget -= 1;
            if f3 < best_f {
                best_f = f3;
                best = Some((point, f3, g3.clone()));
            }
            df3 = g3;
            p3 = Point {
                step: x3,
                value: f3,
                slope: dot(&df3, &s),
            };
        }
        if p3.slope.abs() < -SIG * d0 && p3.value < f0 + x3 * RHO * d0 {
            // Success: move, then the Polak-Ribiere direction.
            x = along(&x, x3, &s);
            f0 = p3.value;
            values.push(f0);
            let beta = (dot(&df3, &df3) - dot(&df0, &df3)) / dot(&df0, &df0);
            for (s, g) in s.iter_mut().zip(&df3) {
                *s = beta * *s - g;
            }
            df0 = df3;
            let last_slope = d0;
            d0 = dot(&df0, &s);
            if d0 > 0.0 {
                steepest_descent(&mut s, &df0);
                d0 = -dot(&s, &s);
            }
            x3 *= RATIO.min(last_slope / (d0 - f64::MIN_POSITIVE));
            failed_last = false;
        } else {
            // Failure: back to the best point, then steepest descent.
            if let Some(point) = best.take() {
                (x, f0, df0) = point;
            }
            if failed_last {
                break;
            }
            steepest_descent(&mut s, &df0);
            d0 = -dot(&s, &s);
            x3 = 1.0 / (1.0 - d0);
            failed_last = true;
        }
    }
    Ok(Minimized {
        x,
        values,
        value: f0,
        evaluations,
    })
}

/// The parameters of layers `from..` of `net` (weights, then biases, each
/// row-major) as one host vector.
fn host_parameters(net: &SgdNet, from: usize) -> Vec<f64> {
    let tensors = net.weights[from..].iter().chain(&net.biases[from..]);
    host_values(tensors.cloned().collect(), 1.0)
}

/// The values of `tensors`, one after another, each times `scale`, as one
/// host vector, filled in place: for the whole net it is 1.7 million
/// numbers at every evaluation of the objective (a tensor held only here
/// is read without a copy).
fn host_values(tensors: Vec<Tensor<2>>, scale: f64) -> Vec<f64> {
    let len = tensors.iter().map(|t| t.shape().num_elements()).sum();
    let mut values = Vec::with_capacity(len);
    for t in tensors {
        let data = t.into_data().convert::<f32>();
        let floats = data.as_slice::<f32>().expect("f32 values after convert");
        values.extend(floats.iter().map(|&v| v as f64 * scale));
    }
    values
}

/// `values` as the f32 parameters the net computes with.
fn single_precision(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

/// `net` with the parameters of layers `from..` taken from `floats`
/// (laid out as [`host_parameters`]).
fn with_host_parameters(net: &SgdNet, from: usize, floats: &[f32]) -> SgdNet {
    let mut next = net.clone();
    let mut offset = 0;
    let device = net.weights[0].device();
    for t in next.weights[from..]
        .iter_mut()
        .chain(next.biases[from..].iter_mut())
    {
        let shape = t.dims();
        let len = shape[0] * shape[1];
        let data = TensorData::new(floats[offset..offset + len].to_vec(), shape);
        *t = Tensor::from_data(data, &device);
        offset += len;
    }
    next
}

/// The objective's last few evaluations, by the f32 parameters they were
/// computed at.
///
/// `minimize` steps in f64, but the net computes in f32: once the loss is
/// tiny the steps fall below the weights' f32 resolution, and a failing
/// line search evaluates point after point that rounds to one already
/// computed (in a small `hs` run, 41 evaluations an epoch once stalled).
/// The same f32 parameters give the same value and gradient bit for bit,
/// so those are returned instead of computed again: `minimize` takes the
/// same path and reaches the same point.
struct RecentEvaluations {
    /// Most recent first: parameters, value, gradient.
    entries: Vec<(Vec<f32>, f64, Vec<f64>)>,
    /// Evaluations actually computed.
    computed: usize,
}

impl RecentEvaluations {
    /// Enough for a line search's origin and its last two points.
    const KEPT: usize = 3;

    fn new() -> Self {
        Self {
            entries: Vec::with_capacity(Self::KEPT),
            computed: 0,
        }
    }

    /// The value and gradient at `floats`: remembered, or `compute`d and
    /// remembered.
    fn get<E>(
        &mut self,
        floats: Vec<f32>,
        compute: impl FnOnce(&[f32]) -> Result<(f64, Vec<f64>), E>,
    ) -> Result<(f64, Vec<f64>), E> {
        let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        if let Some(i) = self.entries.iter().position(|(p, _, _)| same(p, &floats)) {
            let entry = self.entries.remove(i);
            let result = (entry.1, entry.2.clone());
            self.entries.insert(0, entry);
            return Ok(result);
        }
        let (value, gradient) = compute(&floats)?;
        self.computed += 1;
        self.entries.truncate(Self::KEPT - 1);
        self.entries.insert(0, (floats, value, gradient.clone()));
        Ok((value, gradient))
    }
}

/// The value and gradient, as host vectors, of the summed cross-entropy of
/// `net` on a batch (`backpropclassify.m`'s `CG_CLASSIFY`: a sum, not a
/// mean), with respect to the parameters of layers `from..`.
fn summed_loss(
    net: &SgdNet,
    from: usize,
    images: Tensor<2>,
    one_hot: Tensor<2>,
) -> (f64, Vec<f64>) {
    let rows = images.dims()[0] as f64;
    let (mut weight_gradients, loss) = net.gradients(images, one_hot);
    // `gradients` holds the weights' then the biases' gradients.
    let bias_gradients = weight_gradients.split_off(net.weights.len());
    let wanted = weight_gradients
        .into_iter()
        .skip(from)
        .chain(bias_gradients.into_iter().skip(from));
    let gradient = host_values(wanted.collect(), rows);
    (loss.into_scalar::<f32>() as f64 * rows, gradient)
}

/// What one conjugate-gradient epoch did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConjugateEpoch {
    /// Mean cross-entropy per image over the epoch's batches, before and
    /// after each batch's line searches.
    pub loss_before: f64,
    pub loss_after: f64,
    /// Evaluations of the objective that `minimize` asked for.
    pub evaluations: usize,
    /// Those computed (a forward and backward pass of one batch); the
    /// rest were at f32 parameters already computed.
    pub computed: usize,
    /// Every batch's line searches ended at the f32 parameters they
    /// started from, so the epoch returned its net bit for bit. An epoch
    /// is a function of the net alone (fixed batches, a fresh `minimize`
    /// on each): the next one (of the same kind) would return it too.
    pub unchanged: bool,
}

/// One epoch of Hinton & Salakhutdinov's `backpropclassify.m`: the rows of
/// `images` in `order`, cut into batches of `batch_rows`, and on each batch
/// `line_searches` line searches of [`minimize`] on the summed
/// cross-entropy, over the head alone (`head_only`: the hidden layers'
/// output is fixed input, `CG_CLASSIFY_INIT`; H&S's first 5 epochs) or over
/// every layer (`CG_CLASSIFY`). No weight decay, as there.
///
/// # Shapes
/// - images: `[rows, inputs]`, one_hot: `[rows, classes]`
///
/// # Errors
/// [`DbnError::EmptyData`] for no rows; a zero batch size or number of line
/// searches; a batch's loss that is not finite before its line searches
/// ([`DbnError::Diverged`], naming `epoch`).
#[allow(clippy::too_many_arguments)]
pub fn conjugate_gradient_epoch(
    net: &mut SgdNet,
    epoch: usize,
    images: &Tensor<2>,
    one_hot: &Tensor<2>,
    order: &[usize],
    batch_rows: usize,
    line_searches: usize,
    head_only: bool,
) -> Result<ConjugateEpoch, DbnError> {
    if order.is_empty() {
        return Err(DbnError::EmptyData {
            what: "conjugate-gradient fine-tuning",
        });
    }
    if batch_rows == 0 {
        return Err(DbnConfigError::ZeroBatchSize.into());
    }
    if line_searches == 0 {
        return Err(DbnConfigError::ZeroLineSearches.into());
    }
    let device = images.device();
    let head = net.weights.len() - 1;
    let from = if head_only { head } else { 0 };
    let (mut before, mut after, mut evaluations, mut computed) = (0.0, 0.0, 0, 0);
    let mut unchanged = true;
    for batch in order.chunks(batch_rows) {
        let index: Vec<i64> = batch.iter().map(|&r| r as i64).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [batch.len()]), &device);
        let x = images.clone().select(0, index.clone());
        let y = one_hot.clone().select(0, index);
        // The head alone sees the top hidden layer's fixed output.
        let (objective_net, x) = if head_only {
            let head_net = SgdNet {
                weights: vec![net.weights[head].clone()],
                biases: vec![net.biases[head].clone()],
                velocity: None,
            };
            (head_net, net.top_features(x))
        } else {
            (net.clone(), x)
        };
        let layer = if head_only { 0 } else { from };
        let start = host_parameters(&objective_net, layer);
        let start_floats = single_precision(&start);
        let mut recent = RecentEvaluations::new();
        let result = minimize(start, line_searches, |values| {
            recent.get(single_precision(values), |floats| {
                let candidate = with_host_parameters(&objective_net, layer, floats);
                Ok::<_, DbnError>(summed_loss(&candidate, layer, x.clone(), y.clone()))
            })
        })?;
        computed += recent.computed;
        let first = result.values[0];
        if !first.is_finite() {
            return Err(DbnError::Diverged {
                phase: "conjugate-gradient fine-tuning",
                epoch,
                quantity: "a batch's cross-entropy",
                value: first,
                rule: "not finite".into(),
            });
        }
        before += first;
        after += result.value;
        evaluations += result.evaluations;
        let floats = single_precision(&result.x);
        // `start` holds f32 values exactly, so equal f32s are equal bits
        // (NaN aside, which a finite loss excludes).
        unchanged &= floats
            .iter()
            .zip(&start_floats)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        let trained = with_host_parameters(&objective_net, layer, &floats);
        if head_only {
            net.weights[head] = trained.weights[0].clone();
            net.biases[head] = trained.biases[0].clone();
        } else {
            *net = trained;
        }
    }
    let rows = order.len() as f64;
    Ok(ConjugateEpoch {
        loss_before: before / rows,
        loss_after: after / rows,
        evaluations,
        computed,
        unchanged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(x) = 1/2 x'Ax - b'x with A = M'M + I (symmetric positive definite).
    fn quadratic(n: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        let m: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.4)
                    .collect()
            })
            .collect();
        let a = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        (0..n).map(|k| m[k][i] * m[k][j]).sum::<f64>()
                            + if i == j { 1.0 } else { 0.0 }
                    })
                    .collect()
            })
            .collect();
        let b = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        (a, b)
    }

    /// The solution of A x = b by Gaussian elimination with partial pivoting.
    fn solve(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
        let n = b.len();
        let mut m: Vec<Vec<f64>> = a
            .iter()
            .zip(b)
            .map(|(row, &bi)| row.iter().copied().chain([bi]).collect())
            .collect();
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))
                .expect("rows");
            m.swap(col, pivot);
            for row in col + 1..n {
                let factor = m[row][col] / m[col][col];
                let (above, below) = m.split_at_mut(row);
                for (target, source) in below[0][col..].iter_mut().zip(&above[col][col..]) {
                    *target -= factor * source;
                }
            }
        }
        let mut x = vec![0.0; n];
        for row in (0..n).rev() {
            let rest: f64 = (row + 1..n).map(|k| m[row][k] * x[k]).sum();
            x[row] = (m[row][n] - rest) / m[row][row];
        }
        x
    }

    #[test]
    fn it_minimises_a_quadratic_to_the_closed_form_solution() {
        let n = 12;
        let (a, b) = quadratic(n);
        let objective = |x: &[f64]| {
            let ax: Vec<f64> = a.iter().map(|row| dot(row, x)).collect();
            let value = 0.5 * dot(x, &ax) - dot(&b, x);
            let gradient = ax.iter().zip(&b).map(|(ax, b)| ax - b).collect();
            Ok::<_, ()>((value, gradient))
        };
        let result = minimize(vec![0.0; n], 100, objective).expect("no errors");
        let exact = solve(&a, &b);
        let error = result
            .x
            .iter()
            .zip(&exact)
            .map(|(x, e)| (x - e).abs())
            .fold(0.0, f64::max);
        // Exact arithmetic would need n line searches; f64 rounding leaves
        // ~1e-15 relative, and the stopping rule (two failed line searches
        // once nothing decreases) stops near machine precision.
        assert!(error < 1e-8, "max error {error}");
        // The value never increases from one line search to the next, and
        // the reported value is the objective's at the returned point.
        assert!(result.values.windows(2).all(|w| w[1] <= w[0]));
        assert_eq!(result.value, objective(&result.x).unwrap().0);
        assert!(result.value <= *result.values.last().unwrap());
    }

    #[test]
    fn it_converges_in_a_few_times_n_line_searches_where_steepest_descent_crawls() {
        // A diagonal quadratic with eigenvalues from 1 to 10^4: conjugate
        // directions reach the minimum in about n line searches (the cubic
        // interpolation is exact along a quadratic), steepest descent shrinks
        // the error by at most (k - 1) / (k + 1) = 0.9998 per step.
        let n = 12;
        let scales: Vec<f64> = (0..n)
            .map(|i| 10f64.powf(4.0 * i as f64 / (n - 1) as f64))
            .collect();
        let objective = |x: &[f64]| {
            let value = x
                .iter()
                .zip(&scales)
                .map(|(x, a)| 0.5 * a * (x - 1.0).powi(2))
                .sum();
            let gradient = x.iter().zip(&scales).map(|(x, a)| a * (x - 1.0)).collect();
            Ok::<_, ()>((value, gradient))
        };
        let result = minimize(vec![0.0; n], 3 * n, objective).expect("no errors");
        let error = result.x.iter().map(|x| (x - 1.0).abs()).fold(0.0, f64::max);
        assert!(
            error < 1e-6,
            "max error {error} after {} line searches",
            result.values.len() - 1
        );
    }

    #[test]
    fn it_finds_the_minimum_of_rosenbrocks_valley() {
        // f = sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, minimum 0 at (1, ..., 1).
        let objective = |x: &[f64]| {
            let n = x.len();
            let mut value = 0.0;
            let mut gradient = vec![0.0; n];
            for i in 0..n - 1 {
                let (u, v) = (x[i + 1] - x[i] * x[i], 1.0 - x[i]);
                value += 100.0 * u * u + v * v;
                gradient[i] += -400.0 * u * x[i] - 2.0 * v;
                gradient[i + 1] += 200.0 * u;
            }
            Ok::<_, ()>((value, gradient))
        };
        let result = minimize(vec![-1.2, 1.0, -1.2, 1.0], 400, objective).expect("no errors");
        assert!(
            result.x.iter().all(|x| (x - 1.0).abs() < 1e-5),
            "{:?}",
            result.x
        );
    }

    #[test]
    fn it_stops_after_the_given_line_searches() {
        let objective = |x: &[f64]| {
            Ok::<_, ()>((
                x[0].powi(4) + x[1] * x[1],
                vec![4.0 * x[0].powi(3), 2.0 * x[1]],
            ))
        };
        let result = minimize(vec![3.0, -2.0], 3, objective).expect("no errors");
        assert!(result.values.len() <= 4);
        assert!(result.evaluations <= 1 + 3 * (MAX + 1));
        assert!(result.values.last() < result.values.first());
    }

    #[test]
    fn failed_line_searches_return_the_best_point_evaluated() {
        // x^2 whose reported gradient is right at the start only and
        // points uphill everywhere else: no step meets Wolfe-Powell, so
        // the first line search fails (after points better than the
        // start), restarts from its best point, and the second fails too
        // (every point worse), which ends the run.
        let start = 5.0;
        let seen = std::cell::RefCell::new(Vec::new());
        let objective = |x: &[f64]| {
            let x = x[0];
            seen.borrow_mut().push((x * x, x));
            let gradient = if x == start { 2.0 * x } else { -2.0 * x };
            Ok::<_, ()>((x * x, vec![gradient]))
        };
        let result = minimize(vec![start], 10, objective).expect("no errors");
        let seen = seen.into_inner();
        let (best_value, best_x) = seen
            .iter()
            .copied()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("evaluations");
        assert!(best_value < start * start, "some step improved: {seen:?}");
        assert_eq!(result.x, vec![best_x]);
        // Only successful line searches add values; the value at the
        // returned point is the best one.
        assert_eq!(result.values, vec![start * start]);
        assert_eq!(result.value, best_value);
        assert_eq!(result.evaluations, seen.len());
        assert!(result.evaluations <= 1 + 2 * MAX, "{}", result.evaluations);
    }

    #[test]
    fn a_non_finite_value_shortens_the_step_instead_of_failing() {
        // A barrier: infinite from x = 1 on; the minimum is just below 0.9,
        // and extrapolating from 0 (steps 0.055, then up to 3 times more)
        // lands beyond the barrier.
        let derivative = |x: f64| 1.0 / (1.0 - x) + 20.0 * (x - 0.95);
        let objective = |x: &[f64]| {
            let x = x[0];
            Ok::<_, ()>(if x < 1.0 {
                (
                    -(1.0 - x).ln() + 10.0 * (x - 0.95).powi(2),
                    vec![derivative(x)],
                )
            } else {
                (f64::INFINITY, vec![f64::NAN])
            })
        };
        let result = minimize(vec![0.0], 20, objective).expect("no errors");
        assert!(result.x[0] < 1.0 && result.values.iter().all(|v| v.is_finite()));
        assert!(derivative(result.x[0]).abs() < 1e-6, "{:?}", result.x);
    }

    /// A 6-5-4-3 net and 60 rows of two noisy prototypes per class.
    fn net_and_data(device: &Device) -> (SgdNet, Tensor<2>, Tensor<2>, Vec<usize>) {
        let classifier = crate::finetune::classifier::ClassifierConfig::new(vec![6, 5, 4], 3)
            .init_with(
                crate::finetune::classifier::Initialisation::Glorot4,
                device,
                1,
            );
        let net = SgdNet::from_classifier(&classifier).expect("logistic");
        let labels: Vec<usize> = (0..60).map(|i| i % 3).collect();
        let mut sampler = rbm::Sampler::new(2);
        let noise = sampler.uniform_vec(60 * 6);
        let pixels: Vec<f32> = labels
            .iter()
            .enumerate()
            .flat_map(|(row, &label)| {
                let noise = &noise[row * 6..row * 6 + 6];
                (0..6).map(move |p| {
                    if (p / 2 == label) ^ (noise[p] < 0.1) {
                        1.0
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let images = Tensor::from_data(TensorData::new(pixels, [60, 6]), device);
        let one_hot = crate::one_hot_rows(&labels, 3, device).expect("labels below 3");
        (net, images, one_hot, labels)
    }

    fn host32(t: &Tensor<2>) -> Vec<u32> {
        t.clone()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32")
            .into_iter()
            .map(f32::to_bits)
            .collect()
    }

    #[test]
    fn the_summed_losss_gradient_is_laid_out_as_the_parameters() {
        // Central differences of the summed loss at coordinates of every
        // block (weights and biases of each layer), from layer 0 and from the
        // head alone. f32 sums of 60 rows have errors ~1e-5 on a loss of ~70;
        // with h = 1e-2 that is ~1e-3 on a slope, far below the slopes
        // (~0.1-10) and below the 5e-3 allowed.
        let device = Device::flex();
        let (net, images, one_hot, _) = net_and_data(&device);
        for from in [0, 2] {
            let x = host_parameters(&net, from);
            let (_, gradient) = summed_loss(&net, from, images.clone(), one_hot.clone());
            assert_eq!(gradient.len(), x.len());
            for index in (0..x.len()).step_by(7) {
                let value_at = |delta: f64| {
                    let mut moved = x.clone();
                    moved[index] += delta;
                    summed_loss(
                        &with_host_parameters(&net, from, &single_precision(&moved)),
                        from,
                        images.clone(),
                        one_hot.clone(),
                    )
                    .0
                };
                let slope = (value_at(1e-2) - value_at(-1e-2)) / 2e-2;
                assert!(
                    (slope - gradient[index]).abs() < 5e-3 * gradient[index].abs().max(1.0),
                    "from {from}, coordinate {index}: {slope} vs {}",
                    gradient[index]
                );
            }
        }
    }

    #[test]
    fn an_epoch_lowers_every_batchs_loss_and_a_few_classify_the_training_set() {
        let device = Device::flex();
        let (mut net, images, one_hot, labels) = net_and_data(&device);
        let order: Vec<usize> = (0..60).collect();
        let first = conjugate_gradient_epoch(&mut net, 1, &images, &one_hot, &order, 20, 3, false)
            .expect("trains");
        assert!(first.loss_after < first.loss_before, "{first:?}");
        assert!(
            first.evaluations >= 3 * 2,
            "at least two evaluations per line search"
        );
        assert!(
            first.computed >= 3 && first.computed <= first.evaluations,
            "{first:?}"
        );
        for epoch in 2..=10 {
            conjugate_gradient_epoch(&mut net, epoch, &images, &one_hot, &order, 20, 3, false)
                .expect("trains");
        }
        let predicted = net
            .forward(images)
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("i64");
        let wrong = predicted
            .iter()
            .zip(&labels)
            .filter(|&(&p, &l)| p as usize != l)
            .count();
        // The prototypes are 2 pixels apart per class at 10% noise: a few
        // rows are ambiguous, most are not.
        assert!(wrong <= 6, "{wrong} of 60 wrong");
    }

    #[test]
    fn an_epoch_says_whether_it_returned_its_net_bit_for_bit() {
        let device = Device::flex();
        let (mut net, images, one_hot, _) = net_and_data(&device);
        let order: Vec<usize> = (0..60).collect();
        let before = net.clone();
        let moved = conjugate_gradient_epoch(&mut net, 1, &images, &one_hot, &order, 20, 3, false)
            .expect("trains");
        assert!(!moved.unchanged);
        assert!(!before.same_parameters(&net));
        // All parameters 0 and every class equally often: every gradient is
        // exactly 0 (each image's hidden values are 1/2, its softmax
        // uniform, and the classes' slopes cancel), so nothing moves.
        let zero = |t: &Tensor<2>| t.zeros_like();
        let mut still = SgdNet {
            weights: net.weights.iter().map(zero).collect(),
            biases: net.biases.iter().map(zero).collect(),
            velocity: None,
        };
        let balanced: Vec<usize> = (0..60).map(|i| i % 3).collect();
        let balanced = crate::one_hot_rows(&balanced, 3, &device).expect("labels below 3");
        let before = still.clone();
        let epoch =
            conjugate_gradient_epoch(&mut still, 1, &images, &balanced, &order, 60, 3, false)
                .expect("trains");
        assert!(epoch.unchanged, "{epoch:?}");
        assert!(before.same_parameters(&still));
    }

    #[test]
    fn head_only_epochs_leave_the_hidden_layers_bit_for_bit() {
        let device = Device::flex();
        let (mut net, images, one_hot, _) = net_and_data(&device);
        let before = net.clone();
        let order: Vec<usize> = (0..60).collect();
        let epoch = conjugate_gradient_epoch(&mut net, 1, &images, &one_hot, &order, 30, 3, true)
            .expect("trains");
        assert!(epoch.loss_after < epoch.loss_before);
        for layer in 0..2 {
            assert_eq!(host32(&net.weights[layer]), host32(&before.weights[layer]));
            assert_eq!(host32(&net.biases[layer]), host32(&before.biases[layer]));
        }
        assert_ne!(host32(&net.weights[2]), host32(&before.weights[2]));
    }

    /// f(x) = sum (x_i - 1)^2 computed in f32 at the f32-rounded point,
    /// as the net computes: flat below f32's resolution near x = 1.
    fn f32_bowl(floats: &[f32]) -> (f64, Vec<f64>) {
        let value: f32 = floats.iter().map(|&v| (v - 1.0) * (v - 1.0)).sum();
        let gradient = floats.iter().map(|&v| f64::from(2.0 * (v - 1.0))).collect();
        (f64::from(value), gradient)
    }

    #[test]
    fn remembered_evaluations_are_the_computed_ones_bit_for_bit() {
        let mut recent = RecentEvaluations::new();
        let mut calls = 0;
        let mut at = |values: &[f64], recent: &mut RecentEvaluations| {
            recent
                .get(single_precision(values), |floats| {
                    calls += 1;
                    Ok::<_, ()>(f32_bowl(floats))
                })
                .unwrap()
        };
        let first = at(&[0.5, 2.0], &mut recent);
        // 1e-12 moves an f64 but not its f32: remembered, not computed.
        let again = at(&[0.5 + 1e-12, 2.0], &mut recent);
        assert_eq!(first.0.to_bits(), again.0.to_bits());
        assert_eq!(first.1, again.1);
        assert_eq!(recent.computed, 1);
        // Three more distinct points: the first is no longer kept.
        for x in [0.25, 0.125, 0.0625] {
            at(&[x, 2.0], &mut recent);
        }
        assert_eq!(recent.computed, 4);
        let recomputed = at(&[0.5, 2.0], &mut recent);
        assert_eq!(recent.computed, 5);
        assert_eq!(recomputed.0.to_bits(), first.0.to_bits());
        assert_eq!(calls, 5);
    }

    #[test]
    fn minimize_takes_the_same_path_with_remembered_evaluations() {
        // From near the bowl's floor, the line searches soon step below
        // f32's resolution and evaluate points that round to ones already
        // computed: `minimize` must reach the same point with the same
        // values and the same count of evaluations either way.
        let start: Vec<f64> = (0..50)
            .map(|i| 1.0 + 1e-3 * ((i % 7) as f64 - 3.0))
            .collect();
        let plain = minimize(start.clone(), 12, |values| {
            Ok::<_, ()>(f32_bowl(&single_precision(values)))
        })
        .unwrap();
        let mut recent = RecentEvaluations::new();
        let remembered = minimize(start, 12, |values| {
            recent.get(single_precision(values), |floats| {
                Ok::<_, ()>(f32_bowl(floats))
            })
        })
        .unwrap();
        assert_eq!(plain, remembered);
        assert!(
            recent.computed < remembered.evaluations,
            "no evaluation was remembered ({} computed of {})",
            recent.computed,
            remembered.evaluations
        );
    }

    #[test]
    fn empty_data_a_zero_batch_or_no_line_search_is_an_error() {
        let device = Device::flex();
        let (mut net, images, one_hot, _) = net_and_data(&device);
        let order: Vec<usize> = (0..60).collect();
        let mut run = |order: &[usize], batch, searches| {
            conjugate_gradient_epoch(
                &mut net, 1, &images, &one_hot, order, batch, searches, false,
            )
        };
        assert!(matches!(run(&[], 10, 3), Err(DbnError::EmptyData { .. })));
        assert!(matches!(
            run(&order, 0, 3),
            Err(DbnError::Config(DbnConfigError::ZeroBatchSize))
        ));
        assert!(matches!(
            run(&order, 10, 0),
            Err(DbnError::Config(DbnConfigError::ZeroLineSearches))
        ));
    }

    #[test]
    fn an_objectives_error_is_returned() {
        let result = minimize(vec![1.0], 3, |_| Err::<(f64, Vec<f64>), _>("broken"));
        assert_eq!(result, Err("broken"));
    }
}
