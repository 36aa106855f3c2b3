use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// How intensities (bytes, or values in [0, 1]) become model inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binarization {
    /// Intensities scaled to [0, 1] (`byte / 255`).
    None,
    /// 1 where `byte / 255 > threshold`, else 0.
    Threshold(f32),
    /// Each pixel drawn once as Bernoulli(`byte / 255`) with this seed
    /// (Salakhutdinov & Murray 2008 use such a fixed stochastic binarisation).
    Stochastic { seed: u64 },
}

impl Binarization {
    /// Applies the scaling or binarisation to raw bytes (intensity `byte / 255`).
    pub fn apply(self, bytes: &[u8]) -> Vec<f32> {
        self.apply_to_intensities(bytes.iter().map(|&b| b as f32 / 255.0))
    }

    /// Applies the binarisation to intensities already in [0, 1] (`None`
    /// keeps them as they are).
    pub fn apply_unit(self, intensities: &[f32]) -> Vec<f32> {
        self.apply_to_intensities(intensities.iter().copied())
    }

    fn apply_to_intensities(self, intensities: impl Iterator<Item = f32>) -> Vec<f32> {
        match self {
            Binarization::None => intensities.collect(),
            Binarization::Threshold(t) => {
                intensities.map(|p| if p > t { 1.0 } else { 0.0 }).collect()
            }
            Binarization::Stochastic { seed } => {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                intensities
                    .map(|p| {
                        // 24 random bits against the intensity: exact for p up to 2^-24.
                        let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
                        if u < p { 1.0 } else { 0.0 }
                    })
                    .collect()
            }
        }
    }

    /// A short description for logs and result files.
    pub fn describe(self) -> String {
        match self {
            Binarization::None => "none (intensities scaled to [0,1])".into(),
            Binarization::Threshold(t) => format!("threshold at {t}"),
            Binarization::Stochastic { seed } => {
                format!("stochastic, each pixel ~ Bernoulli(intensity), seed {seed}")
            }
        }
    }
}
