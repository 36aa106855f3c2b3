//! An RBM is an infinite sigmoid belief net with tied weights (lecture
//! 14e), measured exactly on an 8 x 6 RBM: generation, inference and
//! learning of the directed net against the RBM's own answers.

use burn::prelude::*;
use dbn::theory::infinite_sbn::{TiedNet, total_variation};
use rbm::{CdTrainer, RbmConfig, Sampler, TrainConfig, tensor_from_rows};

/// The data: four 8-pixel patterns with probabilities 0.4, 0.3, 0.2, 0.1.
const PATTERNS: [(usize, f64); 4] = [
    (0b1111_0000, 0.4),
    (0b0000_1111, 0.3),
    (0b1010_1010, 0.2),
    (0b0101_0101, 0.1),
];

/// What the measurement takes (the subcommand's flags, checked there).
#[derive(Debug, Clone)]
pub struct InfiniteSbnConfig {
    pub weight_std: f64,
    pub cd_epochs: usize,
    pub layers: Vec<usize>,
    pub seed: u64,
}

/// Runs the measurement on `device`, reporting each line through `say`.
pub fn measure_infinite_sbn(
    config: &InfiniteSbnConfig,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    let random = RbmConfig::new(8, 6)
        .with_init_std(config.weight_std)
        .init(device, config.seed);
    // 100 rows in the patterns' proportions; one batch per epoch.
    let rows: Vec<f32> = PATTERNS
        .iter()
        .flat_map(|&(state, p)| {
            let row: Vec<f32> = (0..8).map(|i| ((state >> i) & 1) as f32).collect();
            std::iter::repeat_n(row, (p * 100.0).round() as usize).flatten()
        })
        .collect();
    let data_tensor = tensor_from_rows(&rows, 8, device);
    let train = TrainConfig::new()
        .with_epochs(config.cd_epochs)
        .with_batch_size(100)
        .with_learning_rate(0.1)
        .with_seed(config.seed);
    let mut trainer = CdTrainer::new(RbmConfig::new(8, 6).init(device, config.seed), train)?;
    trainer.fit(&data_tensor, None, |_| {})?;
    let mut data = vec![0.0; 256];
    for (state, p) in PATTERNS {
        data[state] = p;
    }
    let mut sampler = Sampler::new(config.seed);
    let random_top: Vec<f64> = {
        let raw: Vec<f64> = sampler
            .uniform_vec(256)
            .into_iter()
            .map(f64::from)
            .collect();
        let total: f64 = raw.iter().sum();
        raw.into_iter().map(|r| r / total).collect()
    };
    for (name, rbm) in [
        (
            format!("random weights (std {})", config.weight_std),
            &random,
        ),
        (
            format!("trained by CD-1 ({} epochs)", config.cd_epochs),
            trainer.rbm(),
        ),
    ] {
        let net = TiedNet::from_rbm(rbm)?;
        let target = net.rbm_visible();
        let prior = net.rbm_hidden();
        let worst_posterior = (0..256)
            .map(|v| {
                net.directed_posterior(&prior, v)
                    .iter()
                    .zip(net.posterior(v))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        let exact = net.boltzmann_gradient(&data);
        let gradient_norm = exact.iter().map(|g| g * g).sum::<f64>().sqrt();
        say(&format!("\n## {name}\n"));
        say(&format!(
            "Inference: with the prior over h0 of infinitely many layers above (the RBM's p(h)), \
             max |directed posterior - factorial p(h|v)| over all 256 v and 64 h = {worst_posterior:.2e}\n"
        ));
        say(&format!(
            "| layers L | TV(bottom, p(v)) from a uniform top | from a random top | max |posterior - p(h|v)|, L layers above h0 | max |SBN rule over L layers - Boltzmann gradient| (gradient norm {gradient_norm:.3}) |"
        ));
        say("|---|---|---|---|---|");
        for &layers in &config.layers {
            let top_size = if layers % 2 == 1 { 64 } else { 256 };
            let uniform = vec![1.0 / top_size as f64; top_size];
            let random_top = if layers % 2 == 1 {
                let mut h = vec![0.0; 64];
                for (i, p) in random_top.iter().enumerate() {
                    h[i % 64] += p;
                }
                h
            } else {
                random_top.clone()
            };
            let tv_uniform = total_variation(&net.generate(&uniform, layers), &target);
            let tv_random = total_variation(&net.generate(&random_top, layers), &target);
            // L layers above h0 from a uniform visible-type top (L odd).
            let above = net.generate_hidden(&vec![1.0 / 256.0; 256], layers / 2);
            let posterior_error = (0..256)
                .map(|v| {
                    net.directed_posterior(&above, v)
                        .iter()
                        .zip(net.posterior(v))
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max)
                })
                .fold(0.0, f64::max);
            let sbn = net.sbn_gradient(&data, layers);
            let learning_error = sbn
                .iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            say(&format!(
                "| {layers} | {tv_uniform:.3e} | {tv_random:.3e} | {posterior_error:.3e} ({} above) | {learning_error:.3e} |",
                2 * (layers / 2) + 1
            ));
        }
    }
    Ok(())
}
