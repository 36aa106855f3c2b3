//! The lecture's claim that adding a layer improves a variational lower
//! bound on log p(data), measured exactly on bars-and-stripes: log p(v)
//! under a one-layer RBM, and the bound of the two-layer DBN before the
//! second layer is trained (it starts as the first turned upside down,
//! where the bound equals log p(v)) and after.

use burn::prelude::*;
use dbn::{transposed, variational_bound};
use rbm::{CdTrainer, RbmConfig, Sampler, TrainConfig, exact_log_likelihood, tensor_from_rows};

/// What the measurement takes (the subcommand's flags, checked there).
#[derive(Debug, Clone)]
pub struct BoundConfig {
    pub side: usize,
    pub hidden: usize,
    pub first_epochs: usize,
    pub second_epochs: usize,
    pub seeds: u64,
}

/// Runs the measurement on `device`, reporting each line through `say`.
pub fn measure_bound(
    config: &BoundConfig,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    let patterns = datasets::bars_and_stripes(config.side);
    let pixels = config.side * config.side;
    let data = tensor_from_rows(&patterns.concat(), pixels, device);
    say(&format!(
        "bars-and-stripes {0}x{0}: {1} patterns; layers {pixels}-{2}-{2}; log p in nats per pattern (uniform: {3:.4})",
        config.side,
        patterns.len(),
        config.hidden,
        -(patterns.len() as f64).ln()
    ));
    say(
        "| seed | log p(v), 1 layer | bound, layer 2 = layer 1 transposed | bound, layer 2 trained | gain |",
    );
    say("|---|---|---|---|---|");
    for seed in 1..=config.seeds {
        let first_config = TrainConfig::new()
            .with_epochs(config.first_epochs)
            .with_batch_size(patterns.len())
            .with_learning_rate(0.1)
            .with_seed(seed);
        let mut first = CdTrainer::new(
            RbmConfig::new(pixels, config.hidden).init(device, seed),
            first_config,
        )?;
        first.fit(&data, None, |_| {})?;
        let first = first.into_rbm();
        let exact = exact_log_likelihood(&first, &data)?;
        let upper = transposed(&first);
        let before = variational_bound(&first, &upper, &data)?;
        // Layer 2 learns from the first layer's posterior: 100 samples per pattern.
        let samples = first.sample_hidden(
            data.clone().repeat_dim(0, 100),
            &mut Sampler::new(seed + 100),
        );
        let second_config = TrainConfig::new()
            .with_epochs(config.second_epochs)
            .with_batch_size(50)
            .with_learning_rate(0.02)
            .with_init_visible_bias_from_data(false)
            .with_mean_field_reconstruction(false)
            .with_seed(seed);
        let mut second = CdTrainer::new(upper, second_config)?;
        second.fit(&samples, None, |_| {})?;
        let after = variational_bound(&first, second.rbm(), &data)?;
        say(&format!(
            "| {seed} | {exact:.4} | {before:.4} | {after:.4} | {:+.4} |",
            after - before
        ));
    }
    Ok(())
}
