//! Seeded randomness for sampling, drawn on the host and sent to the device.
//!
//! Each trainer or chain owns its [`Sampler`], so the same seed gives the
//! same draws whatever else runs in the process (backends' own generators
//! are process-global). Drawing on the host with xoshiro256++ is also
//! several times cheaper than Flex's built-in `Tensor::random`; on a GPU it
//! costs one upload of the uniforms per draw.

use burn::prelude::*;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// A seeded source of uniform, Bernoulli and Gaussian tensors.
#[derive(Debug, Clone)]
pub struct Sampler {
    rng: Xoshiro256PlusPlus,
}

/// 2^-24: spacing of the uniform grid that 24 random bits give an f32.
const UNIT_24: f32 = 1.0 / (1u32 << 24) as f32;

impl Sampler {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// The stream for one epoch of a run: a function of the run's seed and
    /// the epoch only (SplitMix64-style mixing keeps the streams apart).
    pub fn for_epoch(seed: u64, epoch: usize) -> Self {
        let mut z = seed
            ^ (epoch as u64)
                .wrapping_add(1)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self::new(z ^ (z >> 31))
    }

    /// A new, independent sampler derived from this one's stream.
    pub fn fork(&mut self) -> Sampler {
        Sampler::new(self.rng.next_u64())
    }

    /// Shuffles `items` in place (Fisher-Yates, one uniform per item from
    /// this stream): every shuffle in the project, so that the same seed
    /// gives the same order everywhere.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        let uniforms = self.uniform_vec(items.len());
        for i in (1..items.len()).rev() {
            let j = ((uniforms[i] as f64 * (i + 1) as f64) as usize).min(i);
            items.swap(i, j);
        }
    }

    /// Host values uniform on [0, 1), on a grid of 2^-24 (two per `u64`).
    pub fn uniform_vec(&mut self, len: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(len + 1);
        while out.len() < len {
            let bits = self.rng.next_u64();
            out.push((bits >> 40) as f32 * UNIT_24);
            out.push(((bits >> 8) & 0xff_ffff) as f32 * UNIT_24);
        }
        out.truncate(len);
        out
    }

    /// Host values from N(0, 1), by the Box-Muller transform.
    pub fn normal_vec(&mut self, len: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(len + 1);
        while out.len() < len {
            // 1 - u is in (0, 1], so the logarithm is finite.
            let u1 = 1.0 - (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let u2 = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let radius = (-2.0 * u1.ln()).sqrt();
            let angle = std::f64::consts::TAU * u2;
            out.push((radius * angle.cos()) as f32);
            out.push((radius * angle.sin()) as f32);
        }
        out.truncate(len);
        out
    }

    /// A uniform [0, 1) tensor of the given shape.
    pub fn uniform<const D: usize>(&mut self, shape: [usize; D], device: &Device) -> Tensor<D> {
        let len = shape.iter().product();
        Tensor::from_data(TensorData::new(self.uniform_vec(len), shape), device)
    }

    /// An N(mean, std^2) tensor of the given shape.
    pub fn normal<const D: usize>(
        &mut self,
        shape: [usize; D],
        mean: f64,
        std: f64,
        device: &Device,
    ) -> Tensor<D> {
        let len = shape.iter().product();
        let values = self
            .normal_vec(len)
            .into_iter()
            .map(|z| (mean + std * z as f64) as f32)
            .collect::<Vec<_>>();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// Independent Bernoulli draws: 1 where a uniform falls below `probabilities`.
    ///
    /// # Shapes
    /// - probabilities: `[batch, units]`, values in [0, 1]
    /// - output: `[batch, units]`, values in {0, 1}
    pub fn bernoulli(&mut self, probabilities: Tensor<2>) -> Tensor<2> {
        let uniform = self.uniform(probabilities.dims(), &probabilities.device());
        uniform.lower(probabilities).float()
    }
}
