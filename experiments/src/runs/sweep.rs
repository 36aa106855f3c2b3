//! One driver for every sweep: [`run_pending`] runs the units of a sweep in
//! order, skipping those already committed, each committed by its measure
//! before the next starts, so an interrupted sweep resumes where it stopped
//! (the Gaussian-unit sweeps use it directly). [`run_sweep`] is the
//! seeds x settings x arms study on top of it (the pretraining study, the
//! few-label sweep, any new one): pretrained arm then random arm, each
//! seed's pretrained stack made (or resumed) once, when its first
//! pretrained unit needs it.

use burn::train::renderer::MetricsRenderer;

use super::Outcome;
use crate::run_dir::RunDir;
use crate::run_dir::shard::{Owner, Shard, ensure};

/// The two arms of a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// Fine-tuned from the greedily pretrained stack.
    Pretrained,
    /// The same architecture from a random initialisation.
    Random,
}

impl Arm {
    pub const BOTH: [Arm; 2] = [Arm::Pretrained, Arm::Random];

    pub fn name(self) -> &'static str {
        match self {
            Arm::Pretrained => "pretrained",
            Arm::Random => "random",
        }
    }
}

/// A unit's network before fine-tuning, and its arm: the pretrained
/// `stack` with a softmax head, or (without one) the same architecture
/// `sizes` from a random initialisation; the head (or the whole net) is
/// seeded by `seed`.
pub fn unit_network(
    stack: Option<&dbn::RbmStack>,
    sizes: &[usize],
    classes: usize,
    seed: u64,
    device: &burn::prelude::Device,
) -> Result<(Arm, dbn::DbnClassifier), dbn::DbnError> {
    Ok(match stack {
        Some(stack) => (
            Arm::Pretrained,
            dbn::DbnClassifier::from_stack(stack, classes, seed)?,
        ),
        None => (
            Arm::Random,
            dbn::ClassifierConfig::new(sizes.to_vec(), classes).init(device, seed),
        ),
    })
}

/// What training a unit returns: its result (`None` if interrupted) and
/// the dashboard, handed back for the next unit.
pub type UnitOutcome<T> = Result<(Option<T>, Box<dyn MetricsRenderer>), Box<dyn std::error::Error>>;

/// A study the driver can run: how its units are named, found committed,
/// and trained.
pub trait ArmSweep {
    /// What varies besides the seed and the arm (a depth, a label count).
    type Setting: Copy;
    /// A seed's pretrained stack.
    type Stack;

    /// The unit's name, as committed.
    fn unit_name(&self, setting: Self::Setting, seed: u64, arm: Arm) -> String;

    /// Whether the unit of that name is committed already.
    fn is_committed(&self, name: &str) -> Result<bool, Box<dyn std::error::Error>>;

    /// The pretrained stack of `seed` if it is finished (nothing trained).
    fn finished_stack(&self, seed: u64) -> Result<Option<Self::Stack>, Box<dyn std::error::Error>>;

    /// Whether the user asked to stop (checked while waiting for a unit
    /// another process holds).
    fn should_stop(&self) -> bool {
        false
    }

    /// The pretrained stack of `seed` (resumable); `None` if interrupted.
    fn pretrained_stack(
        &mut self,
        seed: u64,
        renderer: &mut dyn MetricsRenderer,
    ) -> Result<Option<Self::Stack>, Box<dyn std::error::Error>>;

    /// Trains and commits one unit, from `stack` for the pretrained arm;
    /// returns the line that reports it (`None` if interrupted).
    fn train_unit(
        &mut self,
        setting: Self::Setting,
        seed: u64,
        stack: Option<&Self::Stack>,
        renderer: Box<dyn MetricsRenderer>,
    ) -> UnitOutcome<String>;
}

/// Runs `measure` on every unit of `units` (in order) that `is_done` does
/// not find committed already; a measure commits its unit, or returns
/// `None` when it was interrupted, which ends the sweep.
pub fn run_pending<U, E>(
    units: impl IntoIterator<Item = U>,
    mut is_done: impl FnMut(&U) -> Result<bool, E>,
    mut measure: impl FnMut(U) -> Result<Option<()>, E>,
) -> Result<Outcome<()>, E> {
    for unit in units {
        if is_done(&unit)? {
            continue;
        }
        if measure(unit)?.is_none() {
            return Ok(Outcome::Interrupted);
        }
    }
    Ok(Outcome::Finished(()))
}

/// Trains every unit of `seeds` x `settings` x both arms (in that order)
/// that `shard` owns and that is not yet committed, reporting each through
/// `say`. Each unit, and each seed's stack, is trained under a claim in
/// `run` ([`crate::run_dir::shard`]): a unit another process holds is
/// waited for, not trained twice.
pub fn run_sweep<S: ArmSweep>(
    sweep: &mut S,
    run: &RunDir,
    shard: Shard,
    seeds: &[u64],
    settings: &[S::Setting],
    renderer: Box<dyn MetricsRenderer>,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome<()>, Box<dyn std::error::Error>> {
    let units = seeds.iter().flat_map(|&seed| {
        settings
            .iter()
            .flat_map(move |&setting| Arm::BOTH.map(|arm| (seed, setting, arm)))
    });
    // The dashboard moves into each unit's training and back.
    let mut renderer = Some(renderer);
    // The pretrained stack of the seed in progress.
    let mut stack: Option<(u64, S::Stack)> = None;
    let sweep = std::cell::RefCell::new(sweep);
    let say = std::cell::RefCell::new(say);
    let waiting = |name: &str, owner: &Owner| (say.borrow_mut())(&owner.waiting_line(name));
    for (position, (seed, setting, arm)) in units.enumerate() {
        if !shard.owns(position) {
            continue;
        }
        let name = sweep.borrow().unit_name(setting, seed, arm);
        let done = ensure(
            run,
            &name,
            || {
                Ok::<_, Box<dyn std::error::Error>>(
                    sweep.borrow().is_committed(&name)?.then_some(()),
                )
            },
            || {
                if arm == Arm::Pretrained && stack.as_ref().is_none_or(|(s, _)| *s != seed) {
                    let stack_name = format!("stack-seed-{seed}");
                    let dashboard = renderer.as_mut().expect("handed back");
                    let made = ensure(
                        run,
                        &stack_name,
                        || sweep.borrow().finished_stack(seed),
                        || {
                            sweep
                                .borrow_mut()
                                .pretrained_stack(seed, dashboard.as_mut())
                        },
                        || sweep.borrow().should_stop(),
                        |owner| waiting(&stack_name, owner),
                    )?;
                    let Some(made) = made else {
                        return Ok(None);
                    };
                    stack = Some((seed, made));
                }
                let from = match arm {
                    Arm::Pretrained => stack.as_ref().map(|(_, s)| s),
                    Arm::Random => None,
                };
                let (line, back) = sweep.borrow_mut().train_unit(
                    setting,
                    seed,
                    from,
                    renderer.take().expect("handed back"),
                )?;
                renderer = Some(back);
                let Some(line) = line else {
                    return Ok(None);
                };
                (say.borrow_mut())(&format!("{name}: {line}"));
                Ok(Some(()))
            },
            || sweep.borrow().should_stop(),
            |owner| waiting(&name, owner),
        )?;
        if done.is_none() {
            return Ok(Outcome::Interrupted);
        }
    }
    Ok(Outcome::Finished(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sweep that trains nothing: it records what the driver asks.
    struct Recorder {
        committed: Vec<String>,
        calls: Vec<String>,
        /// Interrupt the unit of this name instead of committing it.
        interrupt: Option<String>,
    }

    impl ArmSweep for Recorder {
        type Setting = usize;
        type Stack = u64;

        fn unit_name(&self, depth: usize, seed: u64, arm: Arm) -> String {
            format!("d{depth}-s{seed}-{}", arm.name())
        }

        fn is_committed(&self, name: &str) -> Result<bool, Box<dyn std::error::Error>> {
            Ok(self.committed.iter().any(|c| c == name))
        }

        fn finished_stack(&self, _seed: u64) -> Result<Option<u64>, Box<dyn std::error::Error>> {
            Ok(None)
        }

        fn pretrained_stack(
            &mut self,
            seed: u64,
            _renderer: &mut dyn MetricsRenderer,
        ) -> Result<Option<u64>, Box<dyn std::error::Error>> {
            self.calls.push(format!("stack s{seed}"));
            Ok(Some(seed * 100))
        }

        fn train_unit(
            &mut self,
            depth: usize,
            seed: u64,
            stack: Option<&u64>,
            renderer: Box<dyn MetricsRenderer>,
        ) -> UnitOutcome<String> {
            let arm = if stack.is_some() {
                Arm::Pretrained
            } else {
                Arm::Random
            };
            let name = self.unit_name(depth, seed, arm);
            if self.interrupt.as_deref() == Some(name.as_str()) {
                return Ok((None, renderer));
            }
            self.calls.push(format!("{name} from {stack:?}"));
            self.committed.push(name);
            Ok((Some("done".into()), renderer))
        }
    }

    fn silent() -> Box<dyn MetricsRenderer> {
        Box::new(dbn::monitor::Silent)
    }

    #[test]
    fn the_driver_trains_what_is_not_committed_in_order_with_one_stack_per_seed() {
        let mut sweep = Recorder {
            // Seed 1 finished except its depth-2 random unit.
            committed: vec![
                "d1-s1-pretrained".into(),
                "d1-s1-random".into(),
                "d2-s1-pretrained".into(),
            ],
            calls: Vec::new(),
            interrupt: None,
        };
        let mut lines = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let outcome = run_sweep(
            &mut sweep,
            &run,
            Shard::WHOLE,
            &[1, 2],
            &[1, 2],
            silent(),
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Finished(()));
        assert_eq!(
            sweep.calls,
            [
                // No stack for seed 1: its pretrained units are committed.
                "d2-s1-random from None",
                "stack s2",
                "d1-s2-pretrained from Some(200)",
                "d1-s2-random from None",
                "d2-s2-pretrained from Some(200)",
                "d2-s2-random from None",
            ]
        );
        assert_eq!(lines[0], "d2-s1-random: done");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn an_interrupted_unit_ends_the_sweep_and_a_second_run_finishes_it() {
        let mut sweep = Recorder {
            committed: Vec::new(),
            calls: Vec::new(),
            interrupt: Some("d1-s1-random".into()),
        };
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let outcome = run_sweep(
            &mut sweep,
            &run,
            Shard::WHOLE,
            &[1],
            &[1, 2],
            silent(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Interrupted);
        assert_eq!(sweep.committed, ["d1-s1-pretrained"]);
        sweep.interrupt = None;
        sweep.calls.clear();
        let outcome = run_sweep(
            &mut sweep,
            &run,
            Shard::WHOLE,
            &[1],
            &[1, 2],
            silent(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Finished(()));
        assert_eq!(
            sweep.calls,
            [
                "d1-s1-random from None",
                "stack s1",
                "d2-s1-pretrained from Some(100)",
                "d2-s1-random from None",
            ]
        );
    }

    #[test]
    fn run_pending_skips_done_units_and_stops_at_an_interruption() {
        let mut seen = Vec::new();
        let outcome = run_pending(
            0..6,
            |&u| Ok::<_, ()>(u < 2),
            |u| {
                seen.push(u);
                Ok(if u == 4 { None } else { Some(()) })
            },
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Interrupted);
        assert_eq!(seen, [2, 3, 4]);
    }
}
