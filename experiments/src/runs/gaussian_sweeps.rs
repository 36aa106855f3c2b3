//! The lecture's two claims about Gaussian visible units, measured:
//! (a) the learning rate that suits binary units makes Gaussian units
//! diverge, a smaller one works; (b) with a small sigma, many more hidden
//! units are needed. Each measured row is a unit, committed, so a resumed
//! sweep measures only the missing ones, and `--shard` divides them.

use burn::prelude::*;
use datasets::{Binarization, DataSource};
use rbm::{CdTrainer, RbmConfig, SigmaConfig, TrainConfig, UnitKind, exact_log_likelihood};
use serde::{Deserialize, Serialize};

use crate::data::{DataArgs, images_tensor};
use crate::patches::{PatchSpec, WhitenMode, load_patches};
use crate::run_dir::RunDir;
use crate::run_dir::shard::{Shard, ensure, shard_done_line};

/// Everything that defines a sweep (`config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepConfig {
    pub rates: Vec<f64>,
    pub hidden: Vec<usize>,
    pub sigmas: Vec<f64>,
    pub epochs: usize,
    pub seed: u64,
    /// The binary units' data (left out for MNIST).
    #[serde(default, skip_serializing_if = "DataSource::is_mnist")]
    pub data: DataSource,
}

impl SweepConfig {
    /// Every value is checked before any work.
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        if self.rates.is_empty() || self.hidden.is_empty() || self.sigmas.is_empty() {
            return Err(
                "--cd-lr-grid, --hidden-grid and --sigma-grid each need at least one value".into(),
            );
        }
        if super::has_repeats(&self.rates)
            || super::has_repeats(&self.hidden)
            || super::has_repeats(&self.sigmas)
        {
            return Err(
                "--cd-lr-grid, --hidden-grid and --sigma-grid: each value once per grid".into(),
            );
        }
        for &rate in &self.rates {
            TrainConfig::new().with_learning_rate(rate).validate()?;
        }
        TrainConfig::new().with_epochs(self.epochs).validate()?;
        for &hidden in &self.hidden {
            RbmConfig::new(64, hidden).validate()?;
        }
        for &sigma in &self.sigmas {
            RbmConfig::new(64, 1)
                .with_visible_units(UnitKind::Gaussian)
                .with_visible_sigma(Some(SigmaConfig::fixed(sigma)))
                .validate()?;
        }
        Ok(())
    }
}

/// The rows measured so far: the step of each commit of the sweep.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Measured {
    pub rates: Vec<RateRow>,
    sigma_hidden: Vec<SigmaRow>,
}

/// The name of the commit in which runs from before the row units kept
/// every row (read once, see `adopt_old_rows`).
const SWEEP: &str = "sweep";

crate::run_config!(SweepConfig);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RateRow {
    units: String,
    learning_rate: f64,
    /// Held-out reconstruction MSE after the last epoch (None: diverged).
    held_out_recon: Option<f64>,
    diverged_at_epoch: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SigmaRow {
    sigma: f64,
    pub hidden: usize,
    held_out_recon: Option<f64>,
    /// Exact mean log-density of held-out patches (nats per patch), H <= 20.
    held_out_log_likelihood: Option<f64>,
    /// For more hidden units, the same by AIS (rows measured before AIS
    /// took Gaussian units have neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    held_out_log_likelihood_ais: Option<AisReading>,
}

/// A held-out log-likelihood whose log Z is an AIS estimate
/// (Salakhutdinov & Murray's 14,501 temperatures, 100 runs, the sweep's
/// seed, from the base model of the training patches' means).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AisReading {
    log_likelihood: f64,
    log_z: f64,
    /// log(mean weight -/+ 3 standard errors); `None` when the band
    /// reaches zero weight (a few runs carry the estimate).
    log_z_low: Option<f64>,
    log_z_high: f64,
    effective_runs: f64,
}

impl AisReading {
    fn measure(
        rbm: &rbm::Rbm,
        train: &Tensor<2>,
        held_out: &Tensor<2>,
        seed: u64,
    ) -> Result<Self, rbm::RbmError> {
        let estimate = rbm::ais_log_partition(
            rbm,
            rbm::base_model_biases(rbm, train)?,
            &rbm::AisConfig::paper(100, seed),
        )?;
        Ok(Self {
            log_likelihood: rbm::mean_log_likelihood(rbm, held_out, estimate.log_z)?,
            log_z: estimate.log_z,
            log_z_low: estimate.log_z_low.is_finite().then_some(estimate.log_z_low),
            log_z_high: estimate.log_z_high,
            effective_runs: estimate.effective_runs,
        })
    }

    /// The table's cell: the figure, then how far to trust it.
    fn cell(&self) -> String {
        match self.log_z_low {
            Some(low) => format!(
                "{:.2} (AIS: log Z {:.2} in [{low:.2}, {:.2}])",
                self.log_likelihood, self.log_z, self.log_z_high
            ),
            None => format!(
                "{:.2} (AIS, unreliable: {:.1} effective runs of 100; likely too high)",
                self.log_likelihood, self.effective_runs
            ),
        }
    }
}

/// One measured row of the sweeps: the unit that `--shard` divides.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SweepRow {
    /// Table (a): the rate at `rates[rate]`, on binary (`gaussian` false)
    /// or Gaussian units.
    Rate { rate: usize, gaussian: bool },
    /// Table (b): `sigmas[sigma]` with `hidden[hidden]` units.
    Sigma { sigma: usize, hidden: usize },
}

impl SweepRow {
    /// The unit's name (its commit's and claim's).
    fn name(&self) -> String {
        match self {
            SweepRow::Rate { rate, gaussian } => {
                format!(
                    "rate-{rate}-{}",
                    if *gaussian { "gaussian" } else { "binary" }
                )
            }
            SweepRow::Sigma { sigma, hidden } => format!("sigma-{sigma}-hidden-{hidden}"),
        }
    }
}

/// Every row in order: table (a) rate by rate (binary, then Gaussian), then
/// table (b) sigma by sigma.
fn sweep_rows(config: &SweepConfig) -> Vec<SweepRow> {
    let rates = (0..config.rates.len())
        .flat_map(|rate| [false, true].map(|gaussian| SweepRow::Rate { rate, gaussian }));
    let sigmas = (0..config.sigmas.len()).flat_map(|sigma| {
        (0..config.hidden.len()).map(move |hidden| SweepRow::Sigma { sigma, hidden })
    });
    rates.chain(sigmas).collect()
}

/// The committed result of row `name` (`rows/<name>.json`), if any.
fn load_row<T: serde::de::DeserializeOwned>(
    run: &RunDir,
    name: &str,
) -> Result<Option<T>, Box<dyn std::error::Error>> {
    Ok(run.last_committed_json(&format!("rows/{name}"), "row")?)
}

/// Writes and commits row `name`.
fn commit_row(
    run: &RunDir,
    name: &str,
    row: &impl Serialize,
) -> Result<(), Box<dyn std::error::Error>> {
    run.subdir("rows")?;
    let file = format!("rows/{name}.json");
    run.write_json(&file, row)?;
    run.commit(
        &format!("rows/{name}"),
        serde_json::json!({ "done": true }),
        &[("row", &file)],
    )?;
    Ok(())
}

/// A run from before the rows were units kept every row in its `sweep`
/// commit: they become row units, once.
fn adopt_old_rows(run: &RunDir, config: &SweepConfig) -> Result<(), Box<dyn std::error::Error>> {
    let Some(commit) = run.last_commit(SWEEP)? else {
        return Ok(());
    };
    let old: Measured = serde_json::from_value(commit.step)?;
    let rows = sweep_rows(config);
    let (rate_rows, sigma_rows): (Vec<SweepRow>, Vec<SweepRow>) = rows
        .iter()
        .partition(|r| matches!(r, SweepRow::Rate { .. }));
    for (row, measured) in rate_rows.iter().zip(&old.rates) {
        if load_row::<RateRow>(run, &row.name())?.is_none() {
            commit_row(run, &row.name(), measured)?;
        }
    }
    for (row, measured) in sigma_rows.iter().zip(&old.sigma_hidden) {
        if load_row::<SigmaRow>(run, &row.name())?.is_none() {
            commit_row(run, &row.name(), measured)?;
        }
    }
    Ok(())
}

/// Runs (or resumes) `shard`'s rows of the sweeps of `config` in `run`
/// (every row claimed before it is measured); MNIST (or the configured
/// data) is found as `data_args` say. The whole sweep ([`Shard::WHOLE`])
/// then prints its tables through `say` and writes `sweeps.json`
/// ([`report`]); a shard leaves that to `--report`.
pub fn run_gaussian_sweeps(
    run: &RunDir,
    config: &SweepConfig,
    data_args: &DataArgs,
    shard: Shard,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    adopt_old_rows(run, config)?;
    let mut data_args = data_args.clone();
    data_args.data = config.data.clone();
    let (mnist, line) = data_args.load()?;
    say(&line);
    let spec = PatchSpec::identified(None, 8, 20_000, 2_000, WhitenMode::Zca, config.seed)?;
    let (patches, patches_held_out) = load_patches(&spec, device)?;
    let digits = images_tensor(&mnist.train.head(10_000), Binarization::None, device);
    let digits_held_out = images_tensor(&mnist.test.head(2_000), Binarization::None, device);
    let say = std::cell::RefCell::new(say);
    for (position, row) in sweep_rows(config).into_iter().enumerate() {
        if !shard.owns(position) {
            continue;
        }
        let name = row.name();
        ensure(
            run,
            &name,
            || {
                Ok::<_, Box<dyn std::error::Error>>(match row {
                    SweepRow::Rate { .. } => load_row::<RateRow>(run, &name)?.map(|_| ()),
                    SweepRow::Sigma { .. } => load_row::<SigmaRow>(run, &name)?.map(|_| ()),
                })
            },
            || {
                match row {
                    // (a) The same CD-1 recipe at each rate: binary RBM on
                    // MNIST intensities (784 x 100, 5 epochs), Gaussian RBM
                    // (sigma 1) on whitened 8x8 patches (64 x 100).
                    SweepRow::Rate { rate, gaussian } => {
                        let learning_rate = config.rates[rate];
                        let (units, data, held_out, epochs, visible) = if gaussian {
                            (
                                "gaussian (patches)",
                                &patches,
                                &patches_held_out,
                                config.epochs,
                                UnitKind::Gaussian,
                            )
                        } else {
                            (
                                "binary (MNIST)",
                                &digits,
                                &digits_held_out,
                                5,
                                UnitKind::Bernoulli,
                            )
                        };
                        let rbm_config =
                            RbmConfig::new(data.dims()[1], 100).with_visible_units(visible);
                        let (recon, diverged) = train(
                            &rbm_config,
                            data,
                            held_out,
                            learning_rate,
                            epochs,
                            config.seed,
                        );
                        commit_row(
                            run,
                            &name,
                            &RateRow {
                                units: units.to_string(),
                                learning_rate,
                                held_out_recon: recon,
                                diverged_at_epoch: diverged,
                            },
                        )?;
                    }
                    // (b) Fixed sigma, small vs 1, against the number of hidden units.
                    SweepRow::Sigma { sigma, hidden } => {
                        let (sigma, hidden) = (config.sigmas[sigma], config.hidden[hidden]);
                        let rbm_config = RbmConfig::new(64, hidden)
                            .with_visible_units(UnitKind::Gaussian)
                            .with_visible_sigma(Some(SigmaConfig::fixed(sigma)));
                        let (recon, log_likelihood, ais) = match train_model(
                            &rbm_config,
                            &patches,
                            0.01,
                            config.epochs,
                            config.seed,
                        ) {
                            Ok(trainer) => {
                                let rbm = trainer.rbm();
                                let recon = (patches_held_out.clone()
                                    - rbm.reconstruct(patches_held_out.clone()))
                                .square()
                                .mean()
                                .into_scalar::<f32>()
                                    as f64;
                                let exact = hidden <= 20;
                                let log_likelihood = exact
                                    .then(|| exact_log_likelihood(rbm, &patches_held_out))
                                    .transpose()?;
                                let ais = (!exact)
                                    .then(|| {
                                        AisReading::measure(
                                            rbm,
                                            &patches,
                                            &patches_held_out,
                                            config.seed,
                                        )
                                    })
                                    .transpose()?;
                                (Some(recon), log_likelihood, ais)
                            }
                            Err(_) => (None, None, None),
                        };
                        commit_row(
                            run,
                            &name,
                            &SigmaRow {
                                sigma,
                                hidden,
                                held_out_recon: recon,
                                held_out_log_likelihood: log_likelihood,
                                held_out_log_likelihood_ais: ais,
                            },
                        )?;
                    }
                }
                Ok(Some(()))
            },
            || false,
            |owner| (say.borrow_mut())(&owner.waiting_line(&name)),
        )?;
    }
    let say = say.into_inner();
    if shard != Shard::WHOLE {
        say(&shard_done_line(shard, &run.path));
        return Ok(());
    }
    report(run, config, say)
}

/// The tables of the rows committed so far (missing rows named) and
/// `sweeps.json`.
pub fn report(
    run: &RunDir,
    config: &SweepConfig,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    adopt_old_rows(run, config)?;
    let mut measured = Measured::default();
    let mut missing = Vec::new();
    for row in sweep_rows(config) {
        let name = row.name();
        match row {
            SweepRow::Rate { .. } => match load_row::<RateRow>(run, &name)? {
                Some(r) => measured.rates.push(r),
                None => missing.push(name),
            },
            SweepRow::Sigma { .. } => match load_row::<SigmaRow>(run, &name)? {
                Some(r) => measured.sigma_hidden.push(r),
                None => missing.push(name),
            },
        }
    }
    if !missing.is_empty() {
        say(&format!(
            "not yet committed (left out of these tables): {}",
            missing.join(", ")
        ));
    }
    say("\n(a) held-out reconstruction MSE after training, by learning rate\n");
    say(&format!(
        "| learning rate | binary units (MNIST, 5 epochs) | Gaussian units (patches, {} epochs) |",
        config.epochs
    ));
    say("|---|---|---|");
    for &rate in &config.rates {
        let of = |units: &str| {
            measured
                .rates
                .iter()
                .find(|r| r.learning_rate == rate && r.units.starts_with(units))
                .map_or("not yet measured".into(), outcome)
        };
        say(&format!(
            "| {rate} | {} | {} |",
            of("binary"),
            of("gaussian")
        ));
    }
    say(&format!(
        "\n(b) fixed sigma vs hidden units (64 visible, learning rate 0.01, {} epochs)\n",
        config.epochs
    ));
    say(
        "| sigma | hidden | held-out recon MSE | held-out log-likelihood (nats/patch; exact up to 20 hidden) |",
    );
    say("|---|---|---|---|");
    for row in &measured.sigma_hidden {
        let recon = row
            .held_out_recon
            .map_or("diverged".into(), |r| format!("{r:.4}"));
        let ll = match (
            &row.held_out_log_likelihood,
            &row.held_out_log_likelihood_ais,
        ) {
            (Some(exact), _) => format!("{exact:.2}"),
            (None, Some(ais)) => ais.cell(),
            (None, None) => "-".into(),
        };
        say(&format!(
            "| {} | {} | {recon} | {ll} |",
            row.sigma, row.hidden
        ));
    }
    run.write_json("sweeps.json", &measured)?;
    say(&format!("\nwrote {}", run.file("sweeps.json").display()));
    Ok(())
}

fn outcome(row: &RateRow) -> String {
    match (row.held_out_recon, row.diverged_at_epoch) {
        (Some(r), _) => format!("{r:.4}"),
        (None, Some(epoch)) => format!("diverged (epoch {epoch})"),
        (None, None) => "failed".into(),
    }
}

fn train_model(
    config: &RbmConfig,
    data: &Tensor<2>,
    learning_rate: f64,
    epochs: usize,
    seed: u64,
) -> Result<CdTrainer, rbm::RbmError> {
    let train = TrainConfig::new()
        .with_epochs(epochs)
        .with_learning_rate(learning_rate)
        .with_monitor_rows(500)
        .with_seed(seed);
    let mut trainer = CdTrainer::new(config.init(&data.device(), seed), train)?;
    trainer.fit(data, None, |_| {})?;
    Ok(trainer)
}

/// Held-out reconstruction MSE, or the epoch at which training diverged.
fn train(
    config: &RbmConfig,
    data: &Tensor<2>,
    held_out: &Tensor<2>,
    learning_rate: f64,
    epochs: usize,
    seed: u64,
) -> (Option<f64>, Option<usize>) {
    match train_model(config, data, learning_rate, epochs, seed) {
        Ok(trainer) => {
            let rbm = trainer.rbm();
            let recon = (held_out.clone() - rbm.reconstruct(held_out.clone()))
                .square()
                .mean()
                .into_scalar::<f32>() as f64;
            if recon.is_finite() {
                (Some(recon), None)
            } else {
                (None, Some(epochs))
            }
        }
        Err(rbm::RbmError::Diverged { epoch, .. }) => (None, Some(epoch)),
        Err(_) => (None, None),
    }
}
