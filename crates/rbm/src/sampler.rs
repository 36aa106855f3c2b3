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

    /// Host values uniform on [0, 1), on a grid of 2^-24 (two per `u64`:
    /// its high 24 bits, then bits 8 to 31; an odd last value takes the
    /// high ones and leaves the rest).
    pub fn uniform_vec(&mut self, len: usize) -> Vec<f32> {
        let mut out = vec![0.0; len];
        self.each_uniform(&mut out, |slot, u| *slot = u);
        out
    }

    /// `apply(value, u)` for each value in order with the next uniform of
    /// [`Self::uniform_vec`]'s stream (the one definition of it), without
    /// a buffer of uniforms.
    #[inline(always)]
    fn each_uniform(&mut self, values: &mut [f32], mut apply: impl FnMut(&mut f32, f32)) {
        let mut pairs = values.chunks_exact_mut(2);
        for pair in &mut pairs {
            let bits = self.rng.next_u64();
            apply(&mut pair[0], (bits >> 40) as f32 * UNIT_24);
            apply(&mut pair[1], ((bits >> 8) & 0xff_ffff) as f32 * UNIT_24);
        }
        if let [last] = pairs.into_remainder() {
            let bits = self.rng.next_u64();
            apply(last, (bits >> 40) as f32 * UNIT_24);
        }
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

    /// An inverted-dropout mask: `1 / keep` where the stream's uniform
    /// ([`Self::uniform_vec`]'s) falls below `keep`, 0 elsewhere, so that
    /// `activations * mask` keeps each unit with probability `keep` and
    /// leaves the expectation unchanged.
    ///
    /// # Shapes
    /// - output: `shape`, values in {0, 1 / keep}
    pub fn dropout_mask<const D: usize>(
        &mut self,
        shape: [usize; D],
        keep: f64,
        device: &Device,
    ) -> Tensor<D> {
        let kept = (1.0 / keep) as f32;
        let keep = keep as f32;
        let mut values = vec![0.0; shape.iter().product()];
        self.each_uniform(&mut values, |slot, u| {
            *slot = if u < keep { kept } else { 0.0 }
        });
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// Independent Bernoulli draws: 1 where a uniform falls below `probabilities`.
    ///
    /// # Shapes
    /// - probabilities: `[batch, units]`, values in [0, 1]
    /// - output: `[batch, units]`, values in {0, 1}
    pub fn bernoulli(&mut self, probabilities: Tensor<2>) -> Tensor<2> {
        let device = probabilities.device();
        if crate::host_ops::on_flex(&device) && probabilities.dtype() == burn::tensor::DType::F32 {
            // On the host: one pass, drawing as it goes, over the
            // probabilities' own buffer (no uniform tensor, no mask): the
            // same draws and the same comparison, so the same states.
            let shape = probabilities.dims();
            let mut values = probabilities
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 values, checked above");
            self.each_uniform(&mut values, |p, u| *p = if u < *p { 1.0 } else { 0.0 });
            return Tensor::from_data(TensorData::new(values, shape), &device);
        }
        let uniform = self.uniform(probabilities.dims(), &device);
        uniform.lower(probabilities).float()
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    /// The stream as first written: two values per `u64`, the last one
    /// dropped for an odd length.
    fn reference_uniforms(seed: u64, len: usize) -> Vec<f32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut out = Vec::new();
        while out.len() < len {
            let bits = rng.next_u64();
            out.push((bits >> 40) as f32 * UNIT_24);
            out.push(((bits >> 8) & 0xff_ffff) as f32 * UNIT_24);
        }
        out.truncate(len);
        out
    }

    #[test]
    fn uniforms_are_the_stream_as_first_written_and_consume_it_alike() {
        for len in [0, 1, 2, 7, 1000] {
            let mut sampler = Sampler::new(11);
            let drawn = sampler.uniform_vec(len);
            assert_eq!(drawn, reference_uniforms(11, len), "length {len}");
            // The next draw continues after ceil(len / 2) words.
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
            for _ in 0..len.div_ceil(2) {
                rng.next_u64();
            }
            assert_eq!(sampler.rng.next_u64(), rng.next_u64(), "length {len}");
        }
    }

    /// A dropout mask is `1 / keep` exactly where the stream's uniforms
    /// fall below `keep` (an odd count too), and consumes the stream as
    /// they do.
    #[test]
    fn dropout_masks_keep_where_the_uniforms_fall_below_keep() {
        let device = Device::flex();
        for (len, keep) in [(1, 0.5), (7, 0.8), (1001, 0.75)] {
            let mut sampler = Sampler::new(21);
            let mask = sampler
                .dropout_mask([len], keep, &device)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            let uniforms = reference_uniforms(21, len);
            for (m, u) in mask.iter().zip(&uniforms) {
                let expected = if *u < keep as f32 {
                    (1.0 / keep) as f32
                } else {
                    0.0
                };
                assert_eq!(m.to_bits(), expected.to_bits(), "length {len}");
            }
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(21);
            for _ in 0..len.div_ceil(2) {
                rng.next_u64();
            }
            assert_eq!(sampler.rng.next_u64(), rng.next_u64(), "length {len}");
        }
    }

    /// On Flex the fused draw gives the states of the tensor ops (uniforms
    /// compared below the probabilities) bit for bit, for probabilities
    /// 0, 1, in between and NaN, on an odd count, and leaves the stream
    /// where they leave it.
    #[test]
    fn flex_bernoulli_draws_what_the_tensor_ops_draw() {
        let device = Device::flex();
        let (rows, cols) = (7, 13);
        let p: Vec<f32> = (0..rows * cols)
            .map(|i| match i % 9 {
                0 => 0.0,
                1 => 1.0,
                2 => f32::NAN,
                k => k as f32 / 9.0,
            })
            .collect();
        let probabilities = Tensor::<2>::from_data(TensorData::new(p, [rows, cols]), &device);
        let mut fused = Sampler::new(5);
        let mut ops = Sampler::new(5);
        let states = fused.bernoulli(probabilities.clone());
        let expected = ops
            .uniform([rows, cols], &device)
            .lower(probabilities.clone())
            .float();
        let bits = |t: Tensor<2>| -> Vec<u32> {
            t.into_data()
                .try_to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        let states = bits(states);
        assert_eq!(states, bits(expected));
        assert!(states.iter().any(|&b| b == 1.0f32.to_bits()));
        assert!(states.contains(&0));
        assert_eq!(fused.rng.next_u64(), ops.rng.next_u64());
        // A probabilities tensor still held elsewhere is left as it was.
        let before = bits(probabilities.clone());
        let held = probabilities.clone();
        fused.bernoulli(probabilities);
        assert_eq!(bits(held), before);
    }
}
