//! One driver for every seeds x settings x arms study (the pretraining
//! study, the few-label sweep, and any new one): units are trained seed by
//! seed, setting by setting, pretrained arm then random arm, each committed
//! by the study before the next starts, so an interrupted sweep resumes by
//! skipping the units already committed. Each seed's pretrained stack is
//! made (or resumed) once, when its first pretrained unit needs it.

use burn::train::renderer::MetricsRenderer;

use super::Outcome;

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

/// Trains every unit of `seeds` x `settings` x both arms that is not yet
/// committed, reporting each through `say`.
pub fn run_sweep<S: ArmSweep>(
    sweep: &mut S,
    seeds: &[u64],
    settings: &[S::Setting],
    mut renderer: Box<dyn MetricsRenderer>,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome<()>, Box<dyn std::error::Error>> {
    for &seed in seeds {
        let mut stack = None;
        for &setting in settings {
            for arm in Arm::BOTH {
                let name = sweep.unit_name(setting, seed, arm);
                if sweep.is_committed(&name)? {
                    continue;
                }
                if arm == Arm::Pretrained && stack.is_none() {
                    stack = sweep.pretrained_stack(seed, renderer.as_mut())?;
                    if stack.is_none() {
                        return Ok(Outcome::Interrupted);
                    }
                }
                let from = match arm {
                    Arm::Pretrained => stack.as_ref(),
                    Arm::Random => None,
                };
                let (line, back) = sweep.train_unit(setting, seed, from, renderer)?;
                renderer = back;
                let Some(line) = line else {
                    return Ok(Outcome::Interrupted);
                };
                say(&format!("{name}: {line}"));
            }
        }
    }
    Ok(Outcome::Finished(()))
}
