//! The lecture's claim that adding a layer improves a variational lower
//! bound on log p(data): log p(v) under a one-layer RBM, and the bound of
//! the two-layer DBN before the second layer is trained (it starts as the
//! first turned upside down, where the bound equals log p(v)) and after.
//! Exactly on bars-and-stripes; on MNIST with log Z by AIS and the bound
//! sampled from the first layer's posterior.

use burn::prelude::*;
use dbn::{sampled_variational_bound, transposed, variational_bound};
use rbm::{
    AisConfig, AisEstimate, AisSide, CdTrainer, Rbm, RbmConfig, Sampler, TrainConfig,
    ais_log_partition_from_data, exact_log_likelihood, mean_log_likelihood, tensor_from_rows,
};

use crate::data::BinarizeMode;
use crate::runs::loglik::loglik_images;

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
        let mut second =
            CdTrainer::new(upper, second_layer_training(config.second_epochs, 50, seed))?;
        second.fit(&samples, None, |_| {})?;
        let after = variational_bound(&first, second.rbm(), &data)?;
        say(&format!(
            "| {seed} | {exact:.4} | {before:.4} | {after:.4} | {:+.4} |",
            after - before
        ));
    }
    Ok(())
}

/// The first MNIST layer's starting rate (see [`mnist_layer_training`]).
pub const FIRST_LAYER_RATE: f64 = 0.01;
/// The second layer's: a tenth of the first's, so that it leaves the
/// transposed first layer (where the bound is log p(v)) gently.
pub const SECOND_LAYER_RATE: f64 = 0.001;

/// What the MNIST measurement takes (the subcommand's flags, checked there).
#[derive(Debug, Clone)]
pub struct MnistBoundConfig {
    pub hidden: usize,
    pub first_epochs: usize,
    pub second_epochs: usize,
    pub seeds: u64,
    /// States drawn from the first layer's posterior per test image.
    pub samples: usize,
    /// The AIS of both layers' log Z (its seed plus the measurement's;
    /// the measurement chooses each layer's side).
    pub ais: AisConfig,
    /// Test images the bound is measured on (the first ones).
    pub test_rows: usize,
}

/// The second layer's CD on bars-and-stripes: `rbm.m`'s schedule at a
/// fiftieth of its rate, so that the layer starts from the transposed
/// first layer (where the bound is log p(v)) and moves from it gently;
/// its visible biases are the first layer's hidden biases, not reset.
fn second_layer_training(epochs: usize, batch_size: usize, seed: u64) -> TrainConfig {
    TrainConfig::new()
        .with_epochs(epochs)
        .with_batch_size(batch_size)
        .with_learning_rate(0.02)
        .with_init_visible_bias_from_data(false)
        .with_mean_field_reconstruction(false)
        .with_seed(seed)
}

/// The MNIST layers' training, a density model's rather than a feature
/// detector's: PCD-1 (100 persistent chains) with the rate falling
/// linearly from `rate` to a hundredth of it, `rbm.m`'s momentum and
/// weight cost (the 500-hidden RBMs of "Log-likelihood of 500-hidden RBMs"
/// in docs/RESULTS.md, there at 0.01 for 120-450 epochs). CD-1 at
/// `rbm.m`'s rate gives a model whose log Z AIS cannot estimate in
/// 14,501 temperatures (one effective run of 100).
pub fn mnist_layer_training(epochs: usize, rate: f64, seed: u64) -> TrainConfig {
    TrainConfig::new()
        .with_epochs(epochs)
        .with_persistent(true)
        .with_learning_rate(rate)
        .with_final_learning_rate(Some(rate / 100.0))
        .with_seed(seed)
}

/// `log Z (band)` of an AIS estimate, for the table.
fn log_z_cell(estimate: &AisEstimate) -> String {
    format!(
        "{:.2} [{:.2}, {:.2}], {:.0} eff.",
        estimate.log_z, estimate.log_z_low, estimate.log_z_high, estimate.effective_runs
    )
}

/// The MNIST measurement: per seed, a `784-H` RBM by PCD-1
/// ([`mnist_layer_training`]) on the 60,000 training images binarised with the seed, its test
/// log-likelihood by AIS, the DBN's bound with the first layer transposed
/// on top (the same log Z: the transposed RBM has the same partition
/// function), then with that second layer trained on one posterior sample
/// of every training image, its own log Z by AIS. Reports each line
/// through `say`.
pub fn measure_mnist_bound(
    config: &MnistBoundConfig,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    let pixels = set.dim();
    let ais = &config.ais;
    say(&format!(
        "layers {pixels}-{0}-{pixels} ({1} + {2} PCD-1 epochs); the bound on the first {3} test images, \
         {4} posterior samples each; AIS: {5} runs, {6} temperatures; nats per image",
        config.hidden,
        config.first_epochs,
        config.second_epochs,
        config.test_rows,
        config.samples,
        ais.runs,
        ais.betas.len()
    ));
    say(
        "| seed | log p(v), 1 layer | bound, layer 2 = layer 1 transposed | bound, layer 2 trained | gain | log Z, layer 1 (hidden side) | log Z, layer 2 | log Z, layer 1 (pixel side, the check) |",
    );
    say("|---|---|---|---|---|---|---|---|");
    for seed in 1..=config.seeds {
        let (train, test) = loglik_images(set, BinarizeMode::Stochastic, seed, device);
        let test = test.slice(0..config.test_rows);
        let mut first = CdTrainer::new(
            RbmConfig::new(pixels, config.hidden).init(device, seed),
            mnist_layer_training(config.first_epochs, FIRST_LAYER_RATE, seed),
        )?;
        first.fit(&train, None, |_| {})?;
        let first = first.into_rbm();
        let ais_seeded = |offset: u64| {
            let mut ais = ais.clone();
            ais.seed = ais.seed.wrapping_add(offset);
            ais
        };
        // log Z of layer 1 twice: over its hidden units (AIS on the
        // transpose, from the base rates of E[h | v]), the side and kind of
        // base model of layer 2's estimate, which the bounds use; and over
        // its pixels from theirs, the check.
        let lower_z =
            ais_log_partition_from_data(&first, &train, AisSide::Visible, &ais_seeded(2 * seed))?;
        let transposed_z =
            ais_log_partition_from_data(&first, &train, AisSide::Hidden, &ais_seeded(1000 + seed))?;
        let posterior = first.sample_hidden(train, &mut Sampler::new(seed.wrapping_add(100)));
        let upper = transposed(&first);
        let log_p = mean_log_likelihood(&first, &test, transposed_z.log_z)?;
        let mut sampler = Sampler::new(seed.wrapping_add(200));
        let before = sampled_variational_bound(
            &first,
            &upper,
            transposed_z.log_z,
            &test,
            config.samples,
            &mut sampler,
        )?;
        // From the transposed first layer, whose biases it keeps.
        let mut second = CdTrainer::new(
            upper,
            mnist_layer_training(config.second_epochs, SECOND_LAYER_RATE, seed)
                .with_init_visible_bias_from_data(false),
        )?;
        second.fit(&posterior, None, |_| {})?;
        let second: Rbm = second.into_rbm();
        let upper_z = ais_log_partition_from_data(
            &second,
            &posterior,
            AisSide::Visible,
            &ais_seeded(2 * seed + 1),
        )?;
        let after = sampled_variational_bound(
            &first,
            &second,
            upper_z.log_z,
            &test,
            config.samples,
            &mut sampler,
        )?;
        say(&format!(
            "| {seed} | {log_p:.2} | {:.2} ± {:.2} | {:.2} ± {:.2} | {:+.2} | {} | {} | {} |",
            before.mean,
            before.standard_error,
            after.mean,
            after.standard_error,
            after.mean - before.mean,
            log_z_cell(&transposed_z),
            log_z_cell(&upper_z),
            log_z_cell(&lower_z)
        ));
    }
    say(
        "(± the sampling's standard error; the log Z bands are AIS's 3-sigma bands, whose error moves log p(v) and the bounds one for one)",
    );
    Ok(())
}
