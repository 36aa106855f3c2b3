//! The choice of up-down's rates on validation, as HOT 2006 made it
//! ("chosen by training the network several times and observing its
//! performance on a separate validation set"): one greedy DBN, then a grid
//! of learning rate x momentum x weight decay, each arm up-down epochs
//! with the validation error after every one. Every arm commits each epoch
//! (an interrupted sweep resumes inside its arm); `sweep.json` lists the
//! finished arms and the chosen one (the lowest best validation error).

use std::time::Instant;

use datasets::ImageSet;
use dbn::UpDownConfig;
use dbn::generative::greedy::UpDownRates;
use dbn::generative::schedule::{OneHotSet, UpDownState};
use serde::{Deserialize, Serialize};

use super::Outcome;
use super::generative::{
    GenerativeRunConfig, UpDownFailed, greedy_phases, one_hot_labels, updown_with_checkpoints,
};
use crate::run_dir::RunDir;
use crate::run_dir::shard::{Owner, Shard, ensure, shard_done_line};

/// Everything that defines a sweep (`config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpDownSweepConfig {
    /// The greedy recipe, data selection and up-down template (its epochs,
    /// Gibbs schedule, batches and labels are every arm's; its rates are
    /// replaced by each arm's).
    pub generative: GenerativeRunConfig,
    pub learning_rates: Vec<f64>,
    pub momenta: Vec<f64>,
    pub weight_decays: Vec<f64>,
}

crate::run_config!(UpDownSweepConfig);

impl crate::cli::DataRunConfig for UpDownSweepConfig {
    fn data_spec(&self) -> &crate::data::DataSpec {
        &self.generative.data
    }

    fn check_data(&self, set: &datasets::ImageSet) -> Result<(), Box<dyn std::error::Error>> {
        crate::cli::DataRunConfig::check_data(&self.generative, set)
    }
}

impl UpDownSweepConfig {
    /// Every rule: the generative configuration's, and grids that are not
    /// empty and whose values each make a valid up-down configuration.
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        self.generative.validate()?;
        for (name, grid) in [
            ("learning rate", &self.learning_rates),
            ("momentum", &self.momenta),
            ("weight decay", &self.weight_decays),
        ] {
            if grid.is_empty() {
                return Err(format!("the {name} grid is empty").into());
            }
        }
        for rates in self.arms() {
            self.arm_config(rates).validate()?;
        }
        Ok(())
    }

    /// The arms in order: learning rate, then momentum, then weight decay.
    pub fn arms(&self) -> Vec<UpDownRates> {
        let mut arms = Vec::new();
        for &learning_rate in &self.learning_rates {
            for &momentum in &self.momenta {
                for &weight_decay in &self.weight_decays {
                    arms.push(UpDownRates {
                        learning_rate,
                        momentum,
                        weight_decay,
                    });
                }
            }
        }
        arms
    }

    /// An arm's up-down configuration.
    pub fn arm_config(&self, rates: UpDownRates) -> UpDownConfig {
        UpDownConfig {
            learning_rate: rates.learning_rate,
            momentum: rates.momentum,
            weight_decay: rates.weight_decay,
            ..self.generative.updown.clone()
        }
    }
}

/// An arm's directory name, e.g. `lr0.01-m0.9-wd0.00001`.
pub fn arm_name(rates: UpDownRates) -> String {
    format!(
        "lr{}-m{}-wd{}",
        rates.learning_rate, rates.momentum, rates.weight_decay
    )
}

/// What a finished arm measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmResult {
    pub learning_rate: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Epochs done (fewer than asked if it diverged).
    pub epochs: usize,
    pub best_epoch: usize,
    pub best_valid_error_percent: f64,
    pub best_train_error_percent: Option<f64>,
    /// Why the arm stopped early: its divergence (absent if it ran to the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
}

/// The file in which an arm that diverged says so.
const DIVERGED: &str = "diverged.json";

/// The arm's result if its last commit has all its epochs, or it diverged.
fn finished_arm(
    arm_dir: &RunDir,
    rates: UpDownRates,
    epochs: usize,
) -> Result<Option<ArmResult>, Box<dyn std::error::Error>> {
    let Some(commit) = arm_dir.last_commit("updown")? else {
        return Ok(None);
    };
    let state: UpDownState = serde_json::from_value(commit.step)?;
    let diverged = if arm_dir.file(DIVERGED).exists() {
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(arm_dir.file(DIVERGED))?)?;
        Some(record["error"].as_str().unwrap_or("diverged").to_string())
    } else {
        None
    };
    if state.epochs_done < epochs && diverged.is_none() {
        return Ok(None);
    }
    let best = state.best.ok_or("an up-down commit without a best epoch")?;
    Ok(Some(ArmResult {
        diverged,
        learning_rate: rates.learning_rate,
        momentum: rates.momentum,
        weight_decay: rates.weight_decay,
        epochs: state.epochs_done,
        best_epoch: best.epoch,
        best_valid_error_percent: best.valid_error_percent,
        best_train_error_percent: best.train_error_percent,
    }))
}

/// The greedy DBN of the sweep if its phases are finished (nothing trained).
fn finished_greedy(
    run: &RunDir,
    generative: &GenerativeRunConfig,
    device: &burn::prelude::Device,
) -> Result<Option<dbn::GenerativeDbn>, Box<dyn std::error::Error>> {
    use crate::runs::pretrain::finished_stack;
    let Some(lower) = finished_stack(run, &generative.lower, device)? else {
        return Ok(None);
    };
    let Some(top) = finished_stack(&run.subdir("top")?, &generative.top, device)? else {
        return Ok(None);
    };
    Ok(Some(dbn::GenerativeDbn::from_greedy(
        &lower,
        top.layers[0].clone(),
    )?))
}

/// Runs (or resumes) `shard`'s arms of the sweep of `config` on `set` in
/// `run` (the greedy DBN is claimed by the first process that needs it;
/// the others wait for it); progress goes to `log`. The whole sweep
/// ([`Shard::WHOLE`]) ends with the table ([`report`]) and returns the
/// finished arms, the chosen (lowest best validation error; ties to the
/// earlier arm) first; a shard returns none (the report is `--report`'s).
pub fn run_updown_sweep(
    run: &RunDir,
    config: &UpDownSweepConfig,
    set: &ImageSet,
    shard: Shard,
    device: &burn::prelude::Device,
    log: &mut dyn FnMut(&str),
) -> Result<Outcome<Vec<ArmResult>>, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let classes = set.classes;
    let generative = &config.generative;
    let (train, valid) = generative.splits(set)?;
    let (train_images, _) = train.tensors(device);
    let (valid_images, valid_labels) = valid.tensors(device);
    let train_set = OneHotSet {
        images: train_images,
        labels: one_hot_labels(train.labels(), classes, device)?,
    };
    let log = std::cell::RefCell::new(log);
    let waiting = |name: &str, owner: &Owner| (log.borrow_mut())(&owner.waiting_line(name));
    let greedy = ensure(
        run,
        "greedy",
        || finished_greedy(run, generative, device),
        || {
            greedy_phases(
                run,
                generative,
                &train_set,
                &valid_images,
                *log.borrow_mut(),
            )
        },
        || false,
        |owner| waiting("greedy", owner),
    )?;
    let Some(greedy) = greedy else {
        return Ok(Outcome::Interrupted);
    };
    let log = log.into_inner();
    let greedy_valid_error = 100.0 * greedy.error_rate(&valid_images, &valid_labels, 1000);
    log(&format!(
        "greedy DBN: validation error {greedy_valid_error:.2}% ({:.1} min)",
        started.elapsed().as_secs_f64() / 60.0
    ));
    let arms = config.arms();
    let epochs = generative.updown.epochs;
    let log = std::cell::RefCell::new(log);
    let outcome = super::sweep::run_pending(
        arms.iter()
            .copied()
            .enumerate()
            .filter(|(position, _)| shard.owns(*position))
            .map(|(_, rates)| rates),
        |_| Ok::<bool, Box<dyn std::error::Error>>(false),
        |rates| -> Result<Option<()>, Box<dyn std::error::Error>> {
            let name = arm_name(rates);
            let dir = run.subdir(&format!("arms/{name}"))?;
            ensure(
                run,
                &format!("arm-{name}"),
                || {
                    Ok::<_, Box<dyn std::error::Error>>(
                        finished_arm(&dir, rates, epochs)?.map(|_| ()),
                    )
                },
                || {
                    train_arm(
                        run,
                        config,
                        rates,
                        &greedy,
                        greedy_valid_error,
                        &train_set,
                        (&valid_images, &valid_labels),
                        *log.borrow_mut(),
                    )
                },
                || false,
                |owner: &Owner| (log.borrow_mut())(&owner.waiting_line(&format!("arm-{name}"))),
            )
        },
    )?;
    let log = log.into_inner();
    if matches!(outcome, Outcome::Interrupted) {
        return Ok(Outcome::Interrupted);
    }
    if shard != Shard::WHOLE {
        log(&shard_done_line(shard, &run.path));
        return Ok(Outcome::Finished(Vec::new()));
    }
    let results = report(run, config, log)?;
    log(&format!(
        "wrote {} ({:.1} min)",
        run.path.display(),
        started.elapsed().as_secs_f64() / 60.0
    ));
    Ok(Outcome::Finished(results))
}

/// Trains (or resumes) one arm of the sweep from `greedy` and commits it;
/// a diverged arm is recorded as the sweep's result for those rates.
#[allow(clippy::too_many_arguments)]
fn train_arm(
    run: &RunDir,
    config: &UpDownSweepConfig,
    rates: UpDownRates,
    greedy: &dbn::GenerativeDbn,
    greedy_valid_error: f64,
    train_set: &OneHotSet,
    valid: (
        &burn::prelude::Tensor<2>,
        &burn::prelude::Tensor<1, burn::prelude::Int>,
    ),
    log: &mut dyn FnMut(&str),
) -> Result<Option<()>, Box<dyn std::error::Error>> {
    let epochs = config.generative.updown.epochs;
    let (valid_images, valid_labels) = valid;
    let name = arm_name(rates);
    let dir = run.subdir(&format!("arms/{name}"))?;
    let mut arm_log = |line: &str| log(&format!("{name}: {line}"));
    let finished = updown_with_checkpoints(
        &dir,
        greedy.clone(),
        greedy_valid_error,
        &config.arm_config(rates),
        train_set,
        (valid_images, valid_labels),
        &mut arm_log,
    );
    match finished {
        Ok(finished) => {
            let best = finished.state.best.expect("set at the start");
            log(&format!(
                "{name}: best validation error {:.2}% at epoch {} of {epochs}",
                best.valid_error_percent, best.epoch
            ));
        }
        // A diverged arm is a result of the sweep (these rates are
        // too large), not a failure of it: recorded, and the sweep
        // goes on.
        Err(e) => match e.downcast_ref::<UpDownFailed>() {
            Some(failed) if matches!(failed.source, dbn::DbnError::Diverged { .. }) => {
                dir.write_json(
                    DIVERGED,
                    &serde_json::json!({
                        "error": failed.source.to_string(),
                        "epochs_done": failed.epochs_done,
                    }),
                )?;
                log(&format!("{name}: {}", failed.source));
            }
            _ => return Err(e),
        },
    }
    write_summary(run, config)?;
    Ok(Some(()))
}

/// Writes `sweep.json` from the arms finished so far and logs the table;
/// returns the arms, the chosen first.
pub fn report(
    run: &RunDir,
    config: &UpDownSweepConfig,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<ArmResult>, Box<dyn std::error::Error>> {
    let results = write_summary(run, config)?;
    if results.len() < config.arms().len() {
        log(&format!(
            "{} of {} arms finished so far",
            results.len(),
            config.arms().len()
        ));
    }
    log(
        "arm (learning rate, momentum, weight decay): best validation error at epoch, training error there",
    );
    for (index, arm) in results.iter().enumerate() {
        log(&format!(
            "{}{}: {:.2}% at epoch {} of {}, training {}{}",
            if index == 0 { "chosen " } else { "" },
            arm_name(UpDownRates {
                learning_rate: arm.learning_rate,
                momentum: arm.momentum,
                weight_decay: arm.weight_decay
            }),
            arm.best_valid_error_percent,
            arm.best_epoch,
            arm.epochs,
            arm.best_train_error_percent
                .map_or("not measured".into(), |e| format!("{e:.2}%")),
            arm.diverged
                .as_ref()
                .map_or(String::new(), |e| format!(" (stopped: {e})"))
        ));
    }
    Ok(results)
}

/// Writes `sweep.json` (the finished arms, best first, and the chosen
/// rates) and returns the arms in that order.
fn write_summary(
    run: &RunDir,
    config: &UpDownSweepConfig,
) -> Result<Vec<ArmResult>, Box<dyn std::error::Error>> {
    let epochs = config.generative.updown.epochs;
    let mut results = Vec::new();
    for rates in config.arms() {
        let dir = run.subdir(&format!("arms/{}", arm_name(rates)))?;
        if let Some(result) = finished_arm(&dir, rates, epochs)? {
            results.push(result);
        }
    }
    // A stable sort keeps the grid order among equal errors.
    results.sort_by(|a, b| {
        a.best_valid_error_percent
            .total_cmp(&b.best_valid_error_percent)
    });
    run.write_json(
        "sweep.json",
        &serde_json::json!({
            "arms_finished": results.len(),
            "arms_in_grid": config.arms().len(),
            "updown_epochs": epochs,
            "gibbs_schedule": config.generative.updown.gibbs_schedule,
            "chosen": results.first(),
            "arms": results,
        }),
    )?;
    Ok(results)
}
