use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// How 8-bit intensities become model inputs.
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
    /// Applies the scaling or binarisation to raw bytes.
    pub fn apply(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            Binarization::None => bytes.iter().map(|&b| b as f32 / 255.0).collect(),
            Binarization::Threshold(t) => bytes
                .iter()
                .map(|&b| if b as f32 / 255.0 > t { 1.0 } else { 0.0 })
                .collect(),
            Binarization::Stochastic { seed } => {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                bytes
                    .iter()
                    .map(|&b| {
                        // 24 random bits against the intensity: exact for p = b/255
                        // up to 2^-24.
                        let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
                        if u < b as f32 / 255.0 { 1.0 } else { 0.0 }
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
