//! The pretraining study run whole: the seeds' stacks, then for every
//! depth and arm the rate grid on the first seeds, the rate chosen on
//! validation, the remaining seeds at that rate; then the report.

use std::collections::BTreeMap;

use burn::prelude::*;
use burn::train::Interrupter;

use super::Outcome;
use crate::run_dir::RunDir;
use crate::run_dir::shard::{Shard, ensure, shard_done_line};
use crate::runs::study::{
    NetSpec, SgdData, StudyArm, StudyConfig, StudyData, Unit, finished_seed_stack, load_unit,
    pretrained_stack, run_cell,
};
use dbn::RbmStack;

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

/// A unit of work of the study, in its fixed order ([`study_items`]): what
/// `--shard K/N` divides, and what a process claims before training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StudyItem {
    /// A seed's greedily pretrained stack.
    Stack(u64),
    /// The rate grid of an SGD arm at a depth, on the first grid seeds.
    Grid(usize, StudyArm),
    /// Every seed of an arm at a depth, at its chosen rate.
    Seeds(usize, StudyArm),
}

impl StudyItem {
    /// The unit's name (its claim's).
    pub fn name(&self) -> String {
        match self {
            StudyItem::Stack(seed) => format!("stack-seed-{seed}"),
            StudyItem::Grid(depth, arm) => format!("depth-{depth}-{}-grid", arm.name()),
            StudyItem::Seeds(depth, arm) => format!("depth-{depth}-{}-seeds", arm.name()),
        }
    }
}

/// The study's units in order: every seed's stack, then per depth and arm
/// its grid (SGD arms) and its seeds. Each unit depends only on earlier
/// ones (stacks, its grid), so N processes that each take every N-th unit
/// and wait for what another holds always finish.
pub fn study_items(config: &StudyConfig) -> Vec<StudyItem> {
    let mut items: Vec<StudyItem> = config.seeds.iter().map(|&s| StudyItem::Stack(s)).collect();
    for &depth in &config.depths {
        for arm in config.arms() {
            if !has_own_rate(config, arm) {
                items.push(StudyItem::Grid(depth, arm));
            }
            items.push(StudyItem::Seeds(depth, arm));
        }
    }
    items
}

/// Whether `arm` trains at its recipe's rate (no grid).
fn has_own_rate(config: &StudyConfig, arm: StudyArm) -> bool {
    config.momentum_arm.is_some() && arm == StudyArm::RandomGlorot4Momentum
}

/// The nets of a depth and arm at `rate`, one per seed of `seeds`.
fn specs_of(depth: usize, arm: StudyArm, rate: f64, seeds: &[u64]) -> Vec<NetSpec> {
    seeds
        .iter()
        .map(|&seed| NetSpec {
            depth,
            seed,
            arm,
            rate,
        })
        .collect()
}

/// The grid's nets: every rate on the grid seeds, rate by rate.
fn grid_specs(config: &StudyConfig, depth: usize, arm: StudyArm) -> Vec<NetSpec> {
    let grid_seeds = &config.seeds[..config.grid_seeds];
    config
        .rates
        .iter()
        .flat_map(|&rate| specs_of(depth, arm, rate, grid_seeds))
        .collect()
}

/// The rate chosen on the committed grid `units` and the table of mean
/// validation errors per rate.
fn chosen_rate(config: &StudyConfig, units: &[Unit]) -> (f64, Vec<(f64, f64)>) {
    let errors: Vec<Vec<f64>> = units
        .chunks(config.grid_seeds)
        .map(|c| c.iter().map(|u| u.result.valid_error_percent).collect())
        .collect();
    let chosen = config.rates[choose_rate(&errors)];
    let table = config
        .rates
        .iter()
        .zip(&errors)
        .map(|(&r, e)| (r, e.iter().sum::<f64>() / e.len() as f64))
        .collect();
    (chosen, table)
}

type Failure = Box<dyn std::error::Error>;

/// One process's view of a study in training: what it needs to train any
/// unit, and the stacks it has loaded.
struct StudyWork<'a> {
    run: &'a RunDir,
    config: &'a StudyConfig,
    data: &'a StudyData,
    sgd: SgdData,
    interrupter: &'a Interrupter,
    stacks: BTreeMap<u64, RbmStack>,
    renderer: Box<dyn burn::train::renderer::MetricsRenderer>,
}

impl StudyWork<'_> {
    /// The stack of `seed`, trained here or by whoever holds it.
    fn stack(&mut self, seed: u64, say: &mut dyn FnMut(&str)) -> Result<bool, Failure> {
        if self.stacks.contains_key(&seed) {
            return Ok(true);
        }
        let (run, config, data) = (self.run, self.config, self.data);
        let max_depth = *config.depths.iter().max().expect("validated");
        let sizes = config.sizes(max_depth);
        let device = data.probe.device();
        let renderer = &mut self.renderer;
        let interrupter = self.interrupter;
        let name = StudyItem::Stack(seed).name();
        let stack = ensure(
            run,
            &name,
            || finished_seed_stack(run, &sizes, &config.pretrain, seed, &device),
            || pretrained_stack(run, config, seed, data, renderer.as_mut(), interrupter),
            || interrupter.should_stop(),
            |owner| say(&owner.waiting_line(&name)),
        )?;
        Ok(match stack {
            Some(stack) => {
                self.stacks.insert(seed, stack);
                true
            }
            None => false,
        })
    }

    /// Trains the nets of `specs` as cell `cell` (the pretrained arm's
    /// stacks first); `None` if interrupted.
    fn cell(
        &mut self,
        cell: &str,
        specs: &[NetSpec],
        say: &mut dyn FnMut(&str),
    ) -> Result<Option<Vec<Unit>>, Failure> {
        for spec in specs {
            if spec.arm == StudyArm::Pretrained && !self.stack(spec.seed, say)? {
                return Ok(None);
            }
        }
        run_cell(
            self.run,
            self.config,
            cell,
            specs,
            &self.stacks,
            self.data,
            &self.sgd,
            self.interrupter,
            say,
        )
    }

    /// The rate of `arm` at `depth`: its recipe's, or chosen on its grid
    /// (trained here or by whoever holds it); `None` if interrupted.
    fn rate(
        &mut self,
        depth: usize,
        arm: StudyArm,
        say: &mut dyn FnMut(&str),
    ) -> Result<Option<f64>, Failure> {
        if let (Some(recipe), true) = (&self.config.momentum_arm, has_own_rate(self.config, arm)) {
            return Ok(Some(recipe.learning_rate));
        }
        let item = StudyItem::Grid(depth, arm);
        let specs = grid_specs(self.config, depth, arm);
        let run = self.run;
        let name = item.name();
        let interrupter = self.interrupter;
        // Waiting and training never overlap: one `say` serves both.
        let say = std::cell::RefCell::new(say);
        let units = ensure(
            run,
            &name,
            || committed(run, &specs),
            || self.cell(&name, &specs, *say.borrow_mut()),
            || interrupter.should_stop(),
            |owner| (say.borrow_mut())(&owner.waiting_line(&name)),
        )?;
        Ok(units.map(|units| chosen_rate(self.config, &units).0))
    }

    /// Every seed of `arm` at `depth`, at the chosen rate; `None` if interrupted.
    fn seeds(
        &mut self,
        depth: usize,
        arm: StudyArm,
        say: &mut dyn FnMut(&str),
    ) -> Result<Option<Vec<Unit>>, Failure> {
        let Some(rate) = self.rate(depth, arm, say)? else {
            return Ok(None);
        };
        let specs = specs_of(depth, arm, rate, &self.config.seeds);
        let run = self.run;
        let name = StudyItem::Seeds(depth, arm).name();
        let interrupter = self.interrupter;
        let say = std::cell::RefCell::new(say);
        ensure(
            run,
            &name,
            || committed(run, &specs),
            || {
                let missing: Vec<NetSpec> = specs
                    .iter()
                    .filter(|s| {
                        load_unit(run, &s.unit_name())
                            .map(|u| u.is_none())
                            .unwrap_or(true)
                    })
                    .copied()
                    .collect();
                if self.cell(&name, &missing, *say.borrow_mut())?.is_none() {
                    return Ok(None);
                }
                committed(run, &specs)
            },
            || interrupter.should_stop(),
            |owner| (say.borrow_mut())(&owner.waiting_line(&name)),
        )
    }

    /// Trains (or waits for) `item`; `false` if interrupted.
    fn item(&mut self, item: StudyItem, say: &mut dyn FnMut(&str)) -> Result<bool, Failure> {
        Ok(match item {
            StudyItem::Stack(seed) => self.stack(seed, say)?,
            StudyItem::Grid(depth, arm) => self.rate(depth, arm, say)?.is_some(),
            StudyItem::Seeds(depth, arm) => self.seeds(depth, arm, say)?.is_some(),
        })
    }
}

/// Trains (or resumes) `shard`'s units of the study, in order, waiting for
/// units of other shards that they need; `false` if interrupted.
pub fn train_study(
    run: &RunDir,
    config: &StudyConfig,
    data: &StudyData,
    shard: Shard,
    interrupter: &Interrupter,
    say: &mut dyn FnMut(&str),
) -> Result<bool, Failure> {
    let (renderer, _records) = crate::output::dashboard::dashboard(interrupter, None);
    let mut work = StudyWork {
        run,
        config,
        data,
        sgd: SgdData::new(data, config.data.classes)?,
        interrupter,
        stacks: BTreeMap::new(),
        renderer,
    };
    for (position, item) in study_items(config).into_iter().enumerate() {
        if shard.owns(position) && !work.item(item, say)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The committed units of every depth and arm whose units are all
/// committed, and the names of the units still missing (nothing trained).
pub fn committed_study(
    run: &RunDir,
    config: &StudyConfig,
) -> Result<(StudyUnits, Vec<String>), Failure> {
    let mut out = StudyUnits {
        cells: BTreeMap::new(),
        grids: BTreeMap::new(),
    };
    let mut missing = Vec::new();
    for &depth in &config.depths {
        for arm in config.arms() {
            let rate = match &config.momentum_arm {
                Some(recipe) if has_own_rate(config, arm) => recipe.learning_rate,
                _ => match committed(run, &grid_specs(config, depth, arm))? {
                    Some(units) => {
                        let (chosen, table) = chosen_rate(config, &units);
                        out.grids.insert((depth, arm), table);
                        chosen
                    }
                    None => {
                        missing.push(StudyItem::Grid(depth, arm).name());
                        missing.push(StudyItem::Seeds(depth, arm).name());
                        continue;
                    }
                },
            };
            match committed(run, &specs_of(depth, arm, rate, &config.seeds))? {
                Some(units) => {
                    out.cells.insert((depth, arm), (rate, units));
                }
                None => missing.push(StudyItem::Seeds(depth, arm).name()),
            }
        }
    }
    Ok((out, missing))
}

/// The report of what is committed: the depths whose every arm is
/// complete (the others named as missing); an error if none is.
pub fn report_committed(
    run: &RunDir,
    config: &StudyConfig,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<Vec<String>, Failure> {
    let (units, missing) = committed_study(run, config)?;
    let complete: Vec<usize> = config
        .depths
        .iter()
        .copied()
        .filter(|&d| {
            config
                .arms()
                .iter()
                .all(|&a| units.cells.contains_key(&(d, a)))
        })
        .collect();
    if complete.is_empty() {
        return Err(format!(
            "{}: no depth has all its units committed yet (missing: {})",
            run.path.display(),
            missing.join(", ")
        )
        .into());
    }
    for (&(depth, arm), table) in &units.grids {
        if complete.contains(&depth) {
            let (chosen, _) = (units.cells[&(depth, arm)].0, ());
            say(&format!(
                "depth-{depth}-{}: rate {chosen} chosen on validation ({})",
                arm.name(),
                table
                    .iter()
                    .map(|(r, e)| format!("{r}: {e:.2}%"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !missing.is_empty() {
        say(&format!(
            "not yet committed (left out of this report): {}",
            missing.join(", ")
        ));
    }
    let mut partial = config.clone();
    partial.depths = complete;
    crate::runs::study_report::report(run, &partial, &units, device)
}

/// Runs (or resumes) `shard`'s share of the study of `config` on `set` in
/// `run`; the whole study ([`Shard::WHOLE`]) ends with the report (tables,
/// pictures) and returns its closing lines, a shard with none (the report
/// is `--report`'s, once every shard is done).
pub fn run_study(
    run: &RunDir,
    config: &StudyConfig,
    set: &datasets::ImageSet,
    shard: Shard,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome<Vec<String>>, Failure> {
    let data = StudyData::new(set, config, device)?;
    let interrupter = Interrupter::new();
    if !train_study(run, config, &data, shard, &interrupter, say)? {
        return Ok(Outcome::Interrupted);
    }
    if shard != Shard::WHOLE {
        return Ok(Outcome::Finished(vec![shard_done_line(shard, &run.path)]));
    }
    report_committed(run, config, device, say).map(Outcome::Finished)
}
