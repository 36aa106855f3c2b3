//! The pretraining study run whole: every unit of depths x seeds x arms
//! through the sweep driver, then the report.

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::MetricsRenderer;
use dbn::RbmStack;

use super::Outcome;
use crate::output::dashboard::SharedRecords;
use crate::run_dir::RunDir;
use crate::runs::study::{
    StudyConfig, StudyData, load_unit, pretrained_stack, run_unit, unit_name,
};
use crate::runs::sweep::{Arm, ArmSweep, UnitOutcome, run_sweep};

/// The study as the sweep driver runs it: units of `(depth, seed, arm)`.
struct StudySweep<'a> {
    run: &'a RunDir,
    config: &'a StudyConfig,
    data: &'a StudyData,
    records: &'a SharedRecords,
    interrupter: &'a Interrupter,
}

impl ArmSweep for StudySweep<'_> {
    type Setting = usize;
    type Stack = RbmStack;

    fn unit_name(&self, depth: usize, seed: u64, arm: Arm) -> String {
        unit_name(depth, seed, arm)
    }

    fn is_committed(&self, name: &str) -> Result<bool, Box<dyn std::error::Error>> {
        Ok(load_unit(self.run, name)?.is_some())
    }

    fn pretrained_stack(
        &mut self,
        seed: u64,
        renderer: &mut dyn MetricsRenderer,
    ) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
        pretrained_stack(
            self.run,
            self.config,
            seed,
            self.data,
            renderer,
            self.interrupter,
        )
    }

    fn train_unit(
        &mut self,
        depth: usize,
        seed: u64,
        stack: Option<&RbmStack>,
        renderer: Box<dyn MetricsRenderer>,
    ) -> UnitOutcome<String> {
        // The first seed's models are kept for the pictures.
        let keep_model = seed == self.config.seeds[0];
        let (unit, renderer) = run_unit(
            self.run,
            self.config,
            depth,
            seed,
            stack,
            keep_model,
            self.data,
            renderer,
            self.records,
            self.interrupter,
        )?;
        let line = unit.map(|unit| {
            format!(
                "test error {:.2}% ({:.0} s)",
                unit.result.test_error_percent, unit.result.seconds
            )
        });
        Ok((line, renderer))
    }
}

/// Runs (or resumes) the whole study of `config` on `set` in `run`: every
/// unit through the sweep driver, then the report (tables, pictures);
/// returns the report's closing lines.
pub fn run_study(
    run: &RunDir,
    config: &StudyConfig,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome<Vec<String>>, Box<dyn std::error::Error>> {
    let data = StudyData::new(set, config, device)?;
    let interrupter = Interrupter::new();
    let (renderer, records) =
        crate::output::dashboard::dashboard(&interrupter, Some((run.clone(), "metrics.jsonl")));
    let mut sweep = StudySweep {
        run,
        config,
        data: &data,
        records: &records,
        interrupter: &interrupter,
    };
    if run_sweep(&mut sweep, &config.seeds, &config.depths, renderer, say)? == Outcome::Interrupted
    {
        return Ok(Outcome::Interrupted);
    }
    let lines = crate::runs::study_report::report(run, config, &data, device)?;
    Ok(Outcome::Finished(lines))
}
