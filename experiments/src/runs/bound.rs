//! The lecture's claim that adding a layer improves a variational lower
//! bound on log p(data): log p(v) under a one-layer RBM, and the bound of
//! the two-layer DBN before the second layer is trained (it starts as the
//! first turned upside down, where the bound equals log p(v)) and after.
//! Exactly on bars-and-stripes; on MNIST with log Z by AIS and the bound
//! sampled from the first layer's posterior.

use burn::prelude::*;
use dbn::{sampled_variational_bound, transposed, variational_bound};
use rbm::{
    AisEstimate, AisSide, CdTrainer, Rbm, RbmConfig, Sampler, TrainConfig,
    ais_log_partition_from_data, exact_log_likelihood, mean_log_likelihood, tensor_from_rows,
};

use serde::{Deserialize, Serialize};

use crate::data::{BinarizeMode, DataSpec};
use crate::run_dir::RunDir;
use crate::runs::function_space::{mean_std, standard_error};
use crate::runs::loglik::{AisSettings, loglik_images};

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

/// What the MNIST measurement takes: its run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MnistBoundConfig {
    /// The images (MNIST unless `--data` names others).
    pub data: DataSpec,
    pub hidden: usize,
    pub first_epochs: usize,
    pub second_epochs: usize,
    pub seeds: u64,
    /// States drawn from the first layer's posterior per test image.
    pub samples: usize,
    /// The AIS of both layers' log Z: runs, temperatures and seed (plus
    /// the measurement's offsets; the measurement chooses each layer's
    /// side, `side` is not used). Settings, not the 14,501 temperatures
    /// themselves, so that `config.json` stays short.
    pub ais: AisSettings,
    /// Test images the bound is measured on (the first ones).
    pub test_rows: usize,
}

crate::run_config!(MnistBoundConfig, data);

impl MnistBoundConfig {
    /// Every rule: layers, epochs, seeds and samples of at least one, an
    /// AIS schedule AIS accepts, test rows that the data have.
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        for (flag, value) in [
            ("--hidden", self.hidden),
            ("--first-epochs", self.first_epochs),
            ("--second-epochs", self.second_epochs),
            ("--seeds", self.seeds as usize),
            ("--samples", self.samples),
            ("--test-rows", self.test_rows),
        ] {
            if value == 0 {
                return Err(format!("{flag} must be at least 1").into());
            }
        }
        self.ais.config().validate()?;
        if self.test_rows > self.data.test_images {
            return Err(format!(
                "--test-rows {}: the data have {} test images",
                self.test_rows, self.data.test_images
            )
            .into());
        }
        Ok(())
    }
}

/// One seed's measurement, committed as a unit (`seeds/seed-N.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MnistBoundRow {
    pub seed: u64,
    /// Mean log p(v) of the test images under the first layer (nats).
    pub log_p: f64,
    /// The sampled bound with the second layer the first transposed, and
    /// its sampling standard error (nats).
    pub before: f64,
    pub before_standard_error: f64,
    /// The same with the second layer trained.
    pub after: f64,
    pub after_standard_error: f64,
    /// log Z of layer 1 over its hidden units (the one the figures use).
    pub first_log_z: StoredLogZ,
    /// log Z of layer 2.
    pub second_log_z: StoredLogZ,
    /// log Z of layer 1 over its pixels (the check).
    pub first_log_z_pixel_side: StoredLogZ,
}

/// An AIS estimate as the run keeps it (without each run's weight).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StoredLogZ {
    pub log_z: f64,
    /// The 3-sigma band: its lower end is minus infinity when the band
    /// reaches zero weight (JSON: `"-inf"`).
    #[serde(with = "crate::run_dir::json_float")]
    pub log_z_low: f64,
    pub log_z_high: f64,
    /// Kish's effective number of runs.
    pub effective_runs: f64,
}

impl From<AisEstimate> for StoredLogZ {
    fn from(estimate: AisEstimate) -> Self {
        Self {
            log_z: estimate.log_z,
            log_z_low: estimate.log_z_low,
            log_z_high: estimate.log_z_high,
            effective_runs: estimate.effective_runs,
        }
    }
}

impl MnistBoundRow {
    /// What stacking gained: the trained bound minus the transposed one.
    pub fn gain(&self) -> f64 {
        self.after - self.before
    }

    /// The row of the printed table.
    fn line(&self) -> String {
        format!(
            "| {} | {:.2} | {:.2} ± {:.2} | {:.2} ± {:.2} | {:+.2} | {} | {} | {} |",
            self.seed,
            self.log_p,
            self.before,
            self.before_standard_error,
            self.after,
            self.after_standard_error,
            self.gain(),
            log_z_cell(&self.first_log_z),
            log_z_cell(&self.second_log_z),
            log_z_cell(&self.first_log_z_pixel_side)
        )
    }
}

/// What `bound.json` holds: every seed's row and the gain over them.
#[derive(Debug, Clone, Serialize)]
struct MnistBoundSummary<'a> {
    rows: &'a [MnistBoundRow],
    gain_mean: f64,
    /// `None` with one seed.
    gain_standard_error: Option<f64>,
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
fn log_z_cell(estimate: &StoredLogZ) -> String {
    format!(
        "{:.2} [{:.2}, {:.2}], {:.0} eff.",
        estimate.log_z, estimate.log_z_low, estimate.log_z_high, estimate.effective_runs
    )
}

/// The MNIST measurement, in `run`: per seed, a `784-H` RBM by PCD-1
/// ([`mnist_layer_training`]) on the training images binarised with the
/// seed, its test log-likelihood by AIS, the DBN's bound with the first
/// layer transposed on top (the same log Z: the transposed RBM has the
/// same partition function), then with that second layer trained on one
/// posterior sample of every training image, its own log Z by AIS. Each
/// seed is a unit committed in `seeds/`, which a resumed run reads back
/// instead of measuring again (a seed depends on nothing but its number);
/// the rows and the gain's mean and standard error end in `bound.json`.
/// Reports each line through `say`.
pub fn measure_mnist_bound(
    run: &RunDir,
    config: &MnistBoundConfig,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    let ais = config.ais.config();
    say(&format!(
        "layers {0}-{1}-{0} ({2} + {3} PCD-1 epochs); the bound on the first {4} test images, \
         {5} posterior samples each; AIS: {6} runs, {7} temperatures; nats per image",
        set.dim(),
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
    let mut rows = Vec::new();
    for seed in 1..=config.seeds {
        let unit = format!("seeds/seed-{seed}");
        if run.last_commit(&unit)?.is_none() {
            let row = measure_mnist_seed(config, set, seed, device)?;
            run.subdir("seeds")?;
            let file = format!("{unit}.json");
            run.write_json(&file, &row)?;
            run.commit(
                &unit,
                serde_json::json!({ "done": true }),
                &[("row", &file)],
            )?;
        }
        // The committed row, read back whether measured now or before a
        // resume: JSON's decimal floats need not parse to the bits they
        // were written from, so a run that used its in-memory row could
        // differ in the last digit from one that resumed past it.
        let row: MnistBoundRow = run
            .last_committed_json(&unit, "row")?
            .ok_or_else(|| format!("{unit}: committed without its row"))?;
        say(&row.line());
        rows.push(row);
    }
    let gains: Vec<f64> = rows.iter().map(MnistBoundRow::gain).collect();
    let (gain_mean, _) = mean_std(&gains);
    let gain_standard_error = (gains.len() > 1).then(|| standard_error(&gains));
    run.write_json(
        "bound.json",
        &MnistBoundSummary {
            rows: &rows,
            gain_mean,
            gain_standard_error,
        },
    )?;
    say(
        "(± the sampling's standard error; the log Z bands are AIS's 3-sigma bands, whose error moves log p(v) and the bounds one for one)",
    );
    say(&format!(
        "gain over {} seeds: {gain_mean:+.2}{} nats; wrote {}",
        gains.len(),
        gain_standard_error.map_or(String::new(), |se| format!(" ± {se:.2}")),
        run.file("bound.json").display()
    ));
    Ok(())
}

/// One seed of [`measure_mnist_bound`].
fn measure_mnist_seed(
    config: &MnistBoundConfig,
    set: &datasets::ImageSet,
    seed: u64,
    device: &Device,
) -> Result<MnistBoundRow, Box<dyn std::error::Error>> {
    let ais = config.ais.config();
    let (train, test) = loglik_images(set, BinarizeMode::Stochastic, seed, device);
    let test = test.slice(0..config.test_rows);
    let mut first = CdTrainer::new(
        RbmConfig::new(set.dim(), config.hidden).init(device, seed),
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
    Ok(MnistBoundRow {
        seed,
        log_p,
        before: before.mean,
        before_standard_error: before.standard_error,
        after: after.mean,
        after_standard_error: after.standard_error,
        first_log_z: transposed_z.into(),
        second_log_z: upper_z.into(),
        first_log_z_pixel_side: lower_z.into(),
    })
}
