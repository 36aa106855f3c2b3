//! The matrix products of one fine-tuning step, alone: the forward
//! products, the weight gradients and the input gradients of a logistic
//! net at one mini-batch, through [`rbm::math::matmul`] (on Flex the
//! project's GEMM: the `gemm` crate, or OpenBLAS with the `openblas`
//! feature), the transposes as the autodiff's backward takes them (views,
//! not copies). `scripts/peer-torch-products.py` times the same products
//! in PyTorch: side by side they say how much of a fine-tuning gap is the
//! GEMM's.

use std::time::Instant;

use burn::prelude::*;
use rbm::Sampler;
use rbm::math::matmul;

/// What the benchmark times.
#[derive(Debug, Clone)]
pub struct ProductsBench {
    /// Layer sizes, inputs first, classes last (784-500-500-2000-10).
    pub sizes: Vec<usize>,
    pub batch: usize,
    /// Timed steps per repeat, untimed ones before, and repeats.
    pub steps: usize,
    pub warmup: usize,
    pub repeats: usize,
    /// The device as the user named it (for the report).
    pub device_name: String,
}

impl ProductsBench {
    /// Multiply-adds times two of one step: forward and weight gradients
    /// for every layer, input gradients for all but the first (the
    /// images need none).
    pub fn flops_per_step(&self) -> f64 {
        let layer = |w: &[usize]| (2 * self.batch * w[0] * w[1]) as f64;
        let all: f64 = self.sizes.windows(2).map(layer).sum();
        let first = layer(&self.sizes[..2]);
        3.0 * all - first
    }
}

/// One step's products; returns the last one (to wait for the device).
///
/// # Shapes
/// - activities\[i\]: `[batch, sizes[i]]`, weights\[i\]: `[sizes[i], sizes[i+1]]`,
///   deltas\[i\]: `[batch, sizes[i+1]]`
fn step(activities: &[Tensor<2>], weights: &[Tensor<2>], deltas: &[Tensor<2>]) -> Tensor<2> {
    let mut last = None;
    for (a, w) in activities.iter().zip(weights) {
        last = Some(matmul(a.clone(), w.clone())); // [batch, out]
    }
    for (a, d) in activities.iter().zip(deltas) {
        last = Some(matmul(a.clone().transpose(), d.clone())); // [in, out]
    }
    for (d, w) in deltas.iter().zip(weights).skip(1) {
        last = Some(matmul(d.clone(), w.clone().transpose())); // [batch, in]
    }
    last.expect("at least one layer")
}

/// Times `bench` on `device`, reporting each repeat, the median and the
/// GEMM rate through `say`.
pub fn bench_products(
    bench: &ProductsBench,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    super::say_matmul_engine(device, say);
    let mut sampler = Sampler::new(1);
    let layers: Vec<(usize, usize)> = bench.sizes.windows(2).map(|w| (w[0], w[1])).collect();
    let weights: Vec<Tensor<2>> = layers
        .iter()
        .map(|&(i, o)| sampler.uniform([i, o], device).sub_scalar(0.5))
        .collect();
    let activities: Vec<Tensor<2>> = layers
        .iter()
        .map(|&(i, _)| sampler.uniform([bench.batch, i], device))
        .collect();
    let deltas: Vec<Tensor<2>> = layers
        .iter()
        .map(|&(_, o)| sampler.uniform([bench.batch, o], device).sub_scalar(0.5))
        .collect();
    let wait = |t: Tensor<2>| -> Result<(), Box<dyn std::error::Error>> {
        t.slice([0..1, 0..1])
            .try_into_scalar::<f32>()
            .map_err(|e| format!("the device failed: {e:?}"))?;
        Ok(())
    };
    for _ in 0..bench.warmup {
        step(&activities, &weights, &deltas);
    }
    wait(step(&activities, &weights, &deltas))?;
    let mut times = Vec::new();
    for repeat in 0..bench.repeats {
        let started = Instant::now();
        let mut last = None;
        for _ in 0..bench.steps {
            last = Some(step(&activities, &weights, &deltas));
        }
        wait(last.expect("at least one step"))?;
        let ms = started.elapsed().as_secs_f64() * 1e3 / bench.steps as f64;
        say(&format!(
            "repeat {}: {ms:.2} ms per step ({:.1} GFLOP/s)",
            repeat + 1,
            bench.flops_per_step() / ms / 1e6
        ));
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let sizes: Vec<String> = bench.sizes.iter().map(usize::to_string).collect();
    say(&format!(
        "the {} products of one step of {} at batch {} on {}: median {median:.2} ms, \
         best {:.2} ms; {:.1} GFLOP/s at the median",
        3 * layers.len() - 1,
        sizes.join("-"),
        bench.batch,
        bench.device_name,
        times[0],
        bench.flops_per_step() / median / 1e6
    ));
    say(&format!("ms_per_step={median:.3}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_counts_three_products_a_layer_but_the_first_layers_input_gradient() {
        let bench = ProductsBench {
            sizes: vec![784, 500, 500, 2000, 10],
            batch: 100,
            steps: 1,
            warmup: 0,
            repeats: 1,
            device_name: "flex".into(),
        };
        let per_layer = [784 * 500, 500 * 500, 500 * 2000, 2000 * 10];
        let expected = 2.0 * 100.0 * (3 * per_layer.iter().sum::<usize>() - 784 * 500) as f64;
        assert_eq!(bench.flops_per_step(), expected);
    }
}
