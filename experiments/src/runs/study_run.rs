//! The pretraining study run whole: the seeds' stacks, then for every
//! depth and arm the rate grid on the first seeds, the rate chosen on
//! validation, the remaining seeds at that rate; then the report.

use std::collections::BTreeMap;

use burn::prelude::*;
use burn::train::Interrupter;

use super::Outcome;
use crate::run_dir::RunDir;
use crate::runs::study::{
    NetSpec, SgdData, StudyArm, StudyConfig, StudyData, Unit, load_unit, pretrained_stack, run_cell,
};

/// The index of the rate whose networks have the lowest mean validation
/// error (`valid_errors[r]`: the errors of rate `r`'s networks); the first
/// such rate on ties.
pub fn choose_rate(valid_errors: &[Vec<f64>]) -> usize {
    let mean = |v: &Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut best = 0;
    for (index, errors) in valid_errors.iter().enumerate() {
        if mean(errors) < mean(&valid_errors[best]) {
            best = index;
        }
    }
    best
}

/// The committed units of `specs`, or `None` if any is missing.
fn committed(
    run: &RunDir,
    specs: &[NetSpec],
) -> Result<Option<Vec<Unit>>, Box<dyn std::error::Error>> {
    let mut units = Vec::with_capacity(specs.len());
    for spec in specs {
        match load_unit(run, &spec.unit_name())? {
            Some(unit) => units.push(unit),
            None => return Ok(None),
        }
    }
    Ok(Some(units))
}

/// The chosen rate and final units of every depth and arm.
pub struct StudyUnits {
    /// `(depth, arm) -> (chosen rate, one unit per seed in seed order)`.
    pub cells: BTreeMap<(usize, StudyArm), (f64, Vec<Unit>)>,
    /// `(depth, arm) -> [(rate, mean validation error of the grid seeds)]`.
    pub grids: BTreeMap<(usize, StudyArm), Vec<(f64, f64)>>,
}

/// Trains (or resumes) every cell of the study; `None` if interrupted.
pub fn train_study(
    run: &RunDir,
    config: &StudyConfig,
    data: &StudyData,
    interrupter: &Interrupter,
    say: &mut dyn FnMut(&str),
) -> Result<Option<StudyUnits>, Box<dyn std::error::Error>> {
    let (mut renderer, _records) = crate::output::dashboard::dashboard(interrupter, None);
    let mut stacks = BTreeMap::new();
    for &seed in &config.seeds {
        match pretrained_stack(run, config, seed, data, renderer.as_mut(), interrupter)? {
            Some(stack) => stacks.insert(seed, stack),
            None => return Ok(None),
        };
    }
    drop(renderer);
    let sgd = SgdData::new(data, config.data.classes)?;
    let mut out = StudyUnits {
        cells: BTreeMap::new(),
        grids: BTreeMap::new(),
    };
    for &depth in &config.depths {
        for arm in config.arms() {
            let spec = |seed: u64, rate: f64| NetSpec {
                depth,
                seed,
                arm,
                rate,
            };
            let prefix = format!("depth-{depth}-{}", arm.name());
            // The rate: the momentum arm's is its recipe's; the SGD arms'
            // is chosen on the grid.
            let rate = match &config.momentum_arm {
                Some(recipe) if arm == StudyArm::RandomGlorot4Momentum => recipe.learning_rate,
                _ => {
                    let grid_seeds = &config.seeds[..config.grid_seeds];
                    let specs: Vec<NetSpec> = config
                        .rates
                        .iter()
                        .flat_map(|&rate| grid_seeds.iter().map(move |&seed| (seed, rate)))
                        .map(|(seed, rate)| spec(seed, rate))
                        .collect();
                    let units = match committed(run, &specs)? {
                        Some(units) => units,
                        None => {
                            let cell = format!("{prefix}-grid");
                            match run_cell(
                                run,
                                config,
                                &cell,
                                &specs,
                                &stacks,
                                data,
                                &sgd,
                                interrupter,
                                say,
                            )? {
                                Some(units) => units,
                                None => return Ok(None),
                            }
                        }
                    };
                    let errors: Vec<Vec<f64>> = units
                        .chunks(grid_seeds.len())
                        .map(|c| c.iter().map(|u| u.result.valid_error_percent).collect())
                        .collect();
                    let chosen = config.rates[choose_rate(&errors)];
                    let table = config
                        .rates
                        .iter()
                        .zip(&errors)
                        .map(|(&r, e)| (r, e.iter().sum::<f64>() / e.len() as f64))
                        .collect::<Vec<_>>();
                    say(&format!(
                        "{prefix}: rate {chosen} chosen on validation ({})",
                        table
                            .iter()
                            .map(|(r, e)| format!("{r}: {e:.2}%"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    out.grids.insert((depth, arm), table);
                    chosen
                }
            };
            let specs: Vec<NetSpec> = config.seeds.iter().map(|&seed| spec(seed, rate)).collect();
            let missing: Vec<NetSpec> = specs
                .iter()
                .filter(|s| {
                    load_unit(run, &s.unit_name())
                        .map(|u| u.is_none())
                        .unwrap_or(true)
                })
                .copied()
                .collect();
            if !missing.is_empty() {
                let cell = format!("{prefix}-seeds");
                if run_cell(
                    run,
                    config,
                    &cell,
                    &missing,
                    &stacks,
                    data,
                    &sgd,
                    interrupter,
                    say,
                )?
                .is_none()
                {
                    return Ok(None);
                }
            }
            let units = committed(run, &specs)?.ok_or("a unit just trained is missing")?;
            out.cells.insert((depth, arm), (rate, units));
        }
    }
    Ok(Some(out))
}

/// Runs (or resumes) the whole study of `config` on `set` in `run`, then
/// the report (tables, pictures); returns the report's closing lines.
pub fn run_study(
    run: &RunDir,
    config: &StudyConfig,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome<Vec<String>>, Box<dyn std::error::Error>> {
    let data = StudyData::new(set, config, device)?;
    let interrupter = Interrupter::new();
    let Some(units) = train_study(run, config, &data, &interrupter, say)? else {
        return Ok(Outcome::Interrupted);
    };
    let lines = crate::runs::study_report::report(run, config, &units, device)?;
    Ok(Outcome::Finished(lines))
}
