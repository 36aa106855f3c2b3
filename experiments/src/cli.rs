//! Command-line plumbing shared by the subcommands: the run-directory flags
//! (one struct, flattened into every subcommand that writes a run), and
//! opening a run in a way that remembers which flags the user gave, so
//! that `--resume` can refuse the ones it would otherwise ignore.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use crate::data::{DataArgs, DataSpec};
use crate::device::DeviceArgs;
use crate::run_dir::shard::Shard;
use crate::run_dir::{RunDir, RunError};

/// Flags that every resumable subcommand accepts with `--resume`: where
/// the run is and where it runs.
pub const RESUME_ALWAYS_ALLOWED: [&str; 8] = [
    "resume",
    "out",
    "device",
    "keep_subnormals",
    "mnist_dir",
    "no_fetch",
    "shard",
    "report",
];

/// Clap value parsers for numbers with a rule: a value that breaks it is a
/// usage error naming its flag, before anything runs.
/// Parses `words` (the subcommand's name, then its flags) as the flags
/// `A` of one subcommand, as the command line would: for the tests of a
/// subcommand's configuration.
#[cfg(test)]
pub fn parse_subcommand<A: clap::Args + clap::FromArgMatches>(
    words: &[&str],
) -> Result<A, clap::Error> {
    let command = A::augment_args(clap::Command::new("subcommand"));
    A::from_arg_matches(&command.try_get_matches_from(words)?)
}

pub mod numbers {
    fn number(text: &str) -> Result<f64, String> {
        text.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{text}` is not a number"))
    }

    /// `value` where it keeps `rule`, else the rule and what was found.
    fn kept(value: f64, keeps: bool, rule: &str) -> Result<f64, String> {
        if keeps {
            Ok(value)
        } else {
            Err(format!("{rule}, found {value}"))
        }
    }

    /// A learning rate: positive and finite.
    pub fn rate(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            value > 0.0 && value.is_finite(),
            "a rate must be positive and finite",
        )
    }

    /// A momentum: in [0, 1).
    pub fn momentum(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            (0.0..1.0).contains(&value),
            "a momentum must be in [0, 1)",
        )
    }

    /// A penalty such as weight decay: non-negative and finite.
    pub fn penalty(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            value >= 0.0 && value.is_finite(),
            "a penalty must be non-negative and finite",
        )
    }

    /// A probability strictly between 0 and 1, such as a sparsity target.
    pub fn probability(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            value > 0.0 && value < 1.0,
            "a probability must be in (0, 1)",
        )
    }

    /// The decay of a running average: in [0, 1).
    pub fn decay(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            (0.0..1.0).contains(&value),
            "a decay must be in [0, 1)",
        )
    }

    /// A learning rate of batch-mean gradients that the library caps at 1
    /// (fine-tuning): in (0, 1].
    pub fn rate_at_most_one(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            value > 0.0 && value <= 1.0,
            "a rate must be in (0, 1]",
        )
    }

    /// The factor a rate is multiplied by at every step or epoch: in (0, 1].
    pub fn rate_decay(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            value > 0.0 && value <= 1.0,
            "a rate decay must be in (0, 1]",
        )
    }

    /// The probability of dropping a unit: in [0, 1).
    pub fn dropout(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            (0.0..1.0).contains(&value),
            "a dropout probability must be in [0, 1)",
        )
    }

    /// A scale such as a standard deviation: positive and finite.
    pub fn scale(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        kept(
            value,
            value > 0.0 && value.is_finite(),
            "a scale must be positive and finite",
        )
    }

    /// A count of things of which at least one is needed (epochs, units,
    /// images, Gibbs steps): a whole number from 1.
    pub fn count(text: &str) -> Result<usize, String> {
        match text.trim().parse::<usize>() {
            Ok(0) => Err("at least 1 is needed, found 0".to_string()),
            Ok(value) => Ok(value),
            Err(_) => Err(format!("`{text}` is not a whole number")),
        }
    }

    /// A rate that falls to `last` must start at least there: checked
    /// between two flags, naming both.
    pub fn final_rate_at_most(
        final_flag: &str,
        last: Option<f64>,
        rate_flag: &str,
        rate: f64,
    ) -> Result<(), String> {
        match last {
            Some(last) if last > rate => Err(format!(
                "{final_flag} {last} is above {rate_flag} {rate}: the rate falls to it"
            )),
            _ => Ok(()),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn each_rule_refuses_what_breaks_it() {
            assert_eq!(rate("0.03"), Ok(0.03));
            for bad in ["0", "-1", "nan", "inf", "x"] {
                assert!(rate(bad).is_err(), "{bad}");
            }
            assert_eq!(momentum("0"), Ok(0.0));
            for bad in ["1", "1.5", "-0.1", "nan"] {
                assert!(momentum(bad).is_err(), "{bad}");
            }
            assert_eq!(penalty("0"), Ok(0.0));
            for bad in ["-1e-5", "inf", "nan"] {
                assert!(penalty(bad).is_err(), "{bad}");
            }
            assert_eq!(probability("0.1"), Ok(0.1));
            for bad in ["0", "1", "-0.1", "nan"] {
                assert!(probability(bad).is_err(), "{bad}");
            }
            assert_eq!(
                momentum("1"),
                Err("a momentum must be in [0, 1), found 1".to_string()),
                "the rule, then what was found"
            );
            assert_eq!(decay("0"), Ok(0.0));
            for bad in ["1", "-0.5", "inf", "nan"] {
                assert!(decay(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn a_capped_rate_is_positive_and_at_most_one() {
            assert_eq!(rate_at_most_one("1"), Ok(1.0));
            assert_eq!(rate_at_most_one("0.1"), Ok(0.1));
            for bad in ["0", "-0.1", "1.5", "inf", "nan", "x"] {
                assert!(rate_at_most_one(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn a_rate_decay_is_in_the_half_open_unit_interval_from_above() {
            assert_eq!(rate_decay("1"), Ok(1.0));
            assert_eq!(rate_decay("0.99"), Ok(0.99));
            for bad in ["0", "-0.5", "1.01", "inf", "nan"] {
                assert!(rate_decay(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn a_dropout_probability_may_be_zero_but_not_one() {
            assert_eq!(dropout("0"), Ok(0.0));
            assert_eq!(dropout("0.5"), Ok(0.5));
            for bad in ["1", "-0.1", "1.5", "nan"] {
                assert!(dropout(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn a_scale_is_positive_and_finite() {
            assert_eq!(scale("0.01"), Ok(0.01));
            for bad in ["0", "-1", "inf", "nan", "x"] {
                assert!(scale(bad).is_err(), "{bad}");
            }
        }

        #[test]
        fn a_final_rate_above_the_first_names_both_flags() {
            assert_eq!(final_rate_at_most("--b", None, "--a", 0.1), Ok(()));
            assert_eq!(final_rate_at_most("--b", Some(0.1), "--a", 0.1), Ok(()));
            let error = final_rate_at_most("--b", Some(0.2), "--a", 0.1).unwrap_err();
            assert!(
                error.contains("--b 0.2") && error.contains("--a 0.1"),
                "{error}"
            );
        }

        #[test]
        fn a_count_starts_at_one() {
            assert_eq!(count("1"), Ok(1));
            assert_eq!(count(" 300 "), Ok(300));
            assert_eq!(count("0"), Err("at least 1 is needed, found 0".to_string()));
            for bad in ["-1", "1.5", "x", ""] {
                assert!(count(bad).is_err(), "{bad}");
            }
        }
    }
}

/// `--loglik` and its AIS: log Z and mean log-likelihoods after training.
/// Flattened into the subcommands that train one RBM.
#[derive(Debug, Clone, clap::Args)]
pub struct LoglikArgs {
    /// After training, estimate log Z by AIS and the mean log-likelihood
    /// of the training rows and of the test (or held-out) rows, into
    /// result.json; a model with a layer of at most 20 binary units also
    /// gets the exact log Z.
    #[arg(long)]
    pub loglik: bool,
    /// Parallel AIS runs of --loglik.
    #[arg(long, default_value_t = 100, requires = "loglik", value_parser = crate::cli::numbers::count)]
    pub ais_runs: usize,
    /// Intermediate temperatures of --loglik, linearly spaced; default: the
    /// 14,500-step schedule of Salakhutdinov & Murray (2008).
    #[arg(long, requires = "loglik", value_parser = crate::cli::numbers::count)]
    pub ais_steps: Option<usize>,
    /// Seed of the AIS runs of --loglik (`loglik`'s default).
    #[arg(long, default_value_t = 1, requires = "loglik")]
    pub ais_seed: u64,
    /// The layer AIS anneals over: `visible` (Salakhutdinov & Murray's, from
    /// the data's base rates) or `hidden` (the transposed RBM, from the
    /// base rates of E[h | v]); both estimate the same log Z.
    #[arg(long, value_enum, default_value_t = AisSideArg::Visible, requires = "loglik")]
    pub ais_side: AisSideArg,
}

/// `--ais-side`: which layer AIS anneals over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AisSideArg {
    Visible,
    Hidden,
}

impl From<AisSideArg> for rbm::AisSide {
    fn from(side: AisSideArg) -> Self {
        match side {
            AisSideArg::Visible => rbm::AisSide::Visible,
            AisSideArg::Hidden => rbm::AisSide::Hidden,
        }
    }
}

impl LoglikArgs {
    /// The AIS settings of `--loglik`, `None` without it.
    pub fn settings(&self) -> Option<crate::runs::loglik::AisSettings> {
        self.loglik.then_some(crate::runs::loglik::AisSettings {
            runs: self.ais_runs,
            steps: self.ais_steps,
            seed: self.ais_seed,
            side: self.ais_side.into(),
        })
    }
}

/// `--out`, `--resume`, `--overwrite`: where a run is written. Flattened
/// into every subcommand that writes a run directory.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Output directory [default: runs/SUBCOMMAND]; a fresh run refuses a
    /// non-empty one.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its last committed checkpoint, with
    /// the configuration in its config.json (flags that would change it
    /// are refused).
    #[arg(long)]
    pub resume: bool,
    /// Delete the run in --out first (only a directory that holds a run).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
}

impl RunArgs {
    /// The run directory: `--out`, else `runs/<kind>`.
    pub fn dir(&self, kind: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(kind))
    }
}

/// `--shard`, `--report`: a sweep run by several processes, on one machine
/// or many, into one shared run directory. Flattened into every sweep of
/// units (study, few-labels, ...).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ShardArgs {
    /// Train only this process's share of the units, the K-th of N (e.g.
    /// 2/8), into --out, which all N share: the first to arrive starts the
    /// run, the others join it (the same flags are required). Each unit is
    /// claimed before it is trained, so none trains twice; a dead
    /// process's claim is taken over. No report: run --report after.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Build the report (tables, pictures, result.json) from the units
    /// committed in --out so far, training nothing; names what is missing.
    #[arg(long, conflicts_with = "shard")]
    pub report: bool,
}

/// The flags every subcommand that trains on labelled images shares:
/// `--device`, `--data`, `--mnist-dir`, `--no-fetch`.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

/// The contrastive-divergence flags of a subcommand that trains one RBM
/// (`train-rbm`, `top-rbm-sweep`): all but the epochs and the hidden
/// units, whose defaults differ between them.
#[derive(Debug, Clone, clap::Args)]
pub struct CdArgs {
    /// Learning rate.
    #[arg(long, default_value_t = 0.1, value_parser = numbers::rate)]
    pub cd_lr: f64,
    /// Learning rate of the last epoch (linear decay from --cd-lr);
    /// default: constant.
    #[arg(long, value_parser = numbers::rate)]
    pub cd_final_lr: Option<f64>,
    /// Gibbs steps per update (CD-k / PCD-k).
    #[arg(long, default_value_t = 1, value_parser = numbers::count)]
    pub cd_k: usize,
    /// Persistent contrastive divergence.
    #[arg(long)]
    pub pcd: bool,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100, value_parser = numbers::count)]
    pub cd_batch: usize,
    /// L2 weight cost.
    #[arg(long, default_value_t = 2e-4, value_parser = numbers::penalty)]
    pub cd_weight_decay: f64,
    /// Momentum for the first 5 epochs, then --cd-final-momentum.
    #[arg(long, default_value_t = 0.5, value_parser = numbers::momentum)]
    pub cd_momentum: f64,
    /// Momentum from the sixth epoch on.
    #[arg(long, default_value_t = 0.9, value_parser = numbers::momentum)]
    pub cd_final_momentum: f64,
}

impl CdArgs {
    /// The trainer's configuration for `epochs` passes and `seed`; a final
    /// rate above the first is a usage error naming both flags.
    pub fn train_config(&self, epochs: usize, seed: u64) -> Result<rbm::TrainConfig, String> {
        numbers::final_rate_at_most("--cd-final-lr", self.cd_final_lr, "--cd-lr", self.cd_lr)?;
        Ok(rbm::TrainConfig::new()
            .with_epochs(epochs)
            .with_k(self.cd_k)
            .with_persistent(self.pcd)
            .with_learning_rate(self.cd_lr)
            .with_final_learning_rate(self.cd_final_lr)
            .with_batch_size(self.cd_batch)
            .with_weight_decay(self.cd_weight_decay)
            .with_initial_momentum(self.cd_momentum)
            .with_final_momentum(self.cd_final_momentum)
            .with_seed(seed))
    }
}

/// A subcommand as the user invoked it: its run kind (the subcommand's
/// name, recorded in `run.json`), its flag definitions and the matches, so
/// that a resumed run can name a flag it would ignore.
pub struct Invocation<'a> {
    kind: &'static str,
    command: Command,
    matches: &'a ArgMatches,
    resumable: &'a [&'a str],
    shard: Option<&'a ShardArgs>,
}

impl<'a> Invocation<'a> {
    /// The subcommand `kind` whose flags are `A`, parsed into `matches`.
    pub fn new<A: clap::Args>(kind: &'static str, matches: &'a ArgMatches) -> Self {
        Self {
            kind,
            command: A::augment_args(Command::new(kind)),
            matches,
            resumable: &[],
            shard: None,
        }
    }

    /// A sweep's invocation: with `--shard` a fresh run is started or
    /// joined ([`RunDir::start_or_join`]); `--report` opens the run as a
    /// resume does.
    pub fn sharded(mut self, shard: &'a ShardArgs) -> Self {
        self.shard = Some(shard);
        self
    }

    /// Flags (field names, e.g. `updown_epochs`) that `--resume` accepts
    /// besides [`RESUME_ALWAYS_ALLOWED`].
    pub fn resumable_with(mut self, flags: &'a [&'a str]) -> Self {
        self.resumable = flags;
        self
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// With `--resume`, every flag given on the command line must be one of
    /// [`RESUME_ALWAYS_ALLOWED`] or the resumable ones: any other would be
    /// silently ignored, so it is an error naming the flag.
    pub fn reject_on_resume(&self) -> Result<(), RunError> {
        let arguments = || self.command.get_arguments();
        for id in self.matches.ids() {
            let id = id.as_str();
            // Flattened argument structs appear as groups: only arguments count.
            if arguments().all(|a| a.get_id() != id)
                || self.matches.value_source(id) != Some(ValueSource::CommandLine)
                || RESUME_ALWAYS_ALLOWED.contains(&id)
                || self.resumable.contains(&id)
            {
                continue;
            }
            let flag = arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_long())
                .unwrap_or(id)
                .to_string();
            let allowed = if self.resumable.is_empty() {
                String::new()
            } else {
                format!(
                    " (with --resume only {} may change it)",
                    self.resumable
                        .iter()
                        .map(|a| format!("--{}", a.replace('_', "-")))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(RunError::FlagIgnoredByResume { flag, allowed });
        }
        Ok(())
    }

    /// Starts a fresh run in `run`'s directory with the configuration
    /// `fresh` builds (it validates its own), or with `--resume` continues
    /// the run there: flags other than the resumable ones are refused, its
    /// `config.json` is read, amended by `amend` (what the resumable flags
    /// change) and checked, and its identity must be the one the run
    /// started with. Every resumable subcommand opens its run through this
    /// one function.
    pub fn open_amended<C: RunConfig>(
        &self,
        run: &RunArgs,
        fresh: impl FnOnce() -> Result<C, Box<dyn std::error::Error>>,
        amend: impl FnOnce(&mut C),
    ) -> Result<(RunDir, C), Box<dyn std::error::Error>> {
        let out = run.dir(self.kind);
        let report = self.shard.is_some_and(|s| s.report);
        let joining = self.shard.is_some_and(|s| s.shard.is_some());
        if run.overwrite && (report || joining) {
            return Err("--overwrite cannot be used with --shard or --report: \
                 it would delete the units of the other processes"
                .into());
        }
        if joining && !run.resume {
            let config = fresh()?;
            reads_back(&config)?;
            let dir = RunDir::start_or_join(&out, self.kind, &config, &config.identity())?;
            return Ok((dir, config));
        }
        if run.resume || report {
            self.reject_on_resume()?;
            let (dir, mut config): (RunDir, C) = RunDir::resume(&out, self.kind)?;
            // Held before anything is written, unless the run is a sweep's
            // whose shards work on it side by side (they claim units), or
            // its report, which reads what they wrote.
            let mut dir = if report || joining { dir } else { dir.hold()? };
            amend(&mut config);
            config.check()?;
            dir.confirm(self.kind, &config.identity())?;
            dir.write_json(crate::run_dir::CONFIG_FILE, &config)?;
            Ok((dir, config))
        } else {
            let config = fresh()?;
            reads_back(&config)?;
            let dir = RunDir::start(&out, self.kind, &config, &config.identity(), run.overwrite)?
                .hold()?;
            Ok((dir, config))
        }
    }

    /// [`Invocation::open_amended`] for a run whose resume changes nothing.
    pub fn open<C: RunConfig>(
        &self,
        run: &RunArgs,
        fresh: impl FnOnce() -> Result<C, Box<dyn std::error::Error>>,
    ) -> Result<(RunDir, C), Box<dyn std::error::Error>> {
        self.open_amended(run, fresh, |_| {})
    }

    /// [`Invocation::open_amended`] for a run that trains on labelled
    /// images: the fresh configuration is built from the spec of `--data`
    /// (MNIST's without reading it, so flags are checked before any
    /// download), a resumed run's data is the one its configuration names;
    /// the images are then read and checked against that spec. Returns the
    /// run, its configuration, the images and a line saying where they came
    /// from.
    pub fn open_with_data_amended<C: DataRunConfig>(
        &self,
        run: &RunArgs,
        data: &DataArgs,
        fresh: impl FnOnce(&DataSpec) -> Result<C, Box<dyn std::error::Error>>,
        amend: impl FnOnce(&mut C),
    ) -> Result<(RunDir, C, datasets::ImageSet, String), Box<dyn std::error::Error>> {
        let mut prepared = None;
        let existed = run.dir(self.kind).exists();
        let (dir, config) = self.open_amended(
            run,
            || {
                let fresh_data = data.prepare()?;
                let config = fresh(&fresh_data.spec)?;
                prepared = Some(fresh_data);
                Ok(config)
            },
            amend,
        )?;
        // Started by this call, not resumed or joined (a shard's directory
        // may hold the other processes' units).
        let joining = self.shard.is_some_and(|s| s.shard.is_some());
        let started_here = prepared.is_some() && !joining;
        let loaded = data
            .prepared_or_resumed(prepared, config.data_spec())
            .load()
            .and_then(|(set, line)| config.check_data(&set).map(|()| (set, line)));
        match loaded {
            Ok((set, line)) => Ok((dir, config, set, line)),
            Err(error) if started_here => match dir.abandon(!existed) {
                Ok(()) => Err(error),
                Err(cleanup) => {
                    Err(format!("{error} (and the run directory stays: {cleanup})").into())
                }
            },
            Err(error) => Err(error),
        }
    }

    /// [`Invocation::open_with_data_amended`] for a run whose resume
    /// changes nothing.
    pub fn open_with_data<C: DataRunConfig>(
        &self,
        run: &RunArgs,
        data: &DataArgs,
        fresh: impl FnOnce(&DataSpec) -> Result<C, Box<dyn std::error::Error>>,
    ) -> Result<(RunDir, C, datasets::ImageSet, String), Box<dyn std::error::Error>> {
        self.open_with_data_amended(run, data, fresh, |_| {})
    }
}

/// Refuses, before a run starts, a configuration that `config.json` would
/// not give back with the same identity, which could never be resumed:
/// serde_json reads a float of many digits to within one unit of its last
/// place, not always to its bits, so a configuration holds settings (a
/// rate, a schedule's name and size), not long computed values.
fn reads_back<C: RunConfig>(config: &C) -> Result<(), Box<dyn std::error::Error>> {
    let back: C = serde_json::from_str(&serde_json::to_string(config)?)?;
    let (written, read) = (
        serde_json::to_value(config.identity())?,
        serde_json::to_value(back.identity())?,
    );
    if written == read {
        return Ok(());
    }
    let mut differences = crate::run_dir::json_differences(&written, &read);
    differences.truncate(1);
    let mut first = differences.pop().unwrap_or_default();
    if first.len() > 200 {
        first = format!("{}...", first.chars().take(200).collect::<String>());
    }
    Err(format!(
        "this configuration would not read back from config.json bit for bit ({first}), \
         so its run could not be resumed; no run was started"
    )
    .into())
}

/// A run's configuration as [`Invocation::open`] handles it: stored in
/// `config.json`, checked again when read back, and hashed into `run.json`.
pub trait RunConfig: serde::Serialize + serde::de::DeserializeOwned + Clone {
    /// The rules a configuration read back from `config.json` must meet.
    fn check(&self) -> Result<(), Box<dyn std::error::Error>>;

    /// What makes the run this run (its SHA-256 is the run's identity): all
    /// of it, unless `--resume` may change some fields, which a run then
    /// blanks here.
    fn identity(&self) -> std::borrow::Cow<'_, Self> {
        std::borrow::Cow::Borrowed(self)
    }
}

/// A [`RunConfig`] of a run that trains on labelled images.
pub trait DataRunConfig: RunConfig {
    /// The data set the run trains on.
    fn data_spec(&self) -> &DataSpec;

    /// The rules only the images themselves can break (how many of each
    /// class there are), checked once they are read and before the run
    /// trains; a fresh run that breaks one leaves no run directory.
    fn check_data(&self, _set: &datasets::ImageSet) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

/// Implements [`RunConfig`] (and with `data`, [`DataRunConfig`]) for a
/// configuration whose inherent `validate` holds its rules and whose
/// identity is all of it.
#[macro_export]
macro_rules! run_config {
    ($config:ty) => {
        impl $crate::cli::RunConfig for $config {
            fn check(&self) -> Result<(), Box<dyn std::error::Error>> {
                self.validate().map_err(Into::into)
            }
        }
    };
    ($config:ty, data) => {
        $crate::run_config!($config);
        impl $crate::cli::DataRunConfig for $config {
            fn data_spec(&self) -> &$crate::data::DataSpec {
                &self.data
            }
        }
    };
}

impl<T> crate::runs::Outcome<T> {
    /// Prints the line that tells an interrupted run how to continue (the
    /// subcommands print; the runs only report through callbacks).
    pub fn announce_interruption(&self) {
        if matches!(self, crate::runs::Outcome::Interrupted) {
            println!("interrupted; continue with --resume");
        }
    }
}

#[cfg(test)]
mod reads_back_tests {
    use super::*;

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Rate {
        rate: f64,
    }

    impl RunConfig for Rate {
        fn check(&self) -> Result<(), Box<dyn std::error::Error>> {
            Ok(())
        }
    }

    #[test]
    fn a_configuration_that_json_gives_back_changed_is_refused_before_the_run() {
        assert!(reads_back(&Rate { rate: 0.03 }).is_ok());
        // 17 digits that serde_json (without its `float_roundtrip`
        // feature) reads one unit off in the last place: a row of a
        // `bound` run showed it.
        let value = -19.633684052992706_f64;
        let back: f64 = serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
        assert_ne!(
            back.to_bits(),
            value.to_bits(),
            "serde_json reads this float exactly now: choose another for this test"
        );
        let error = reads_back(&Rate { rate: value }).unwrap_err().to_string();
        assert!(
            error.contains("rate (") && error.contains("no run was started"),
            "{error}"
        );
    }
}
