//! Command-line plumbing shared by the binaries: parsing that remembers
//! which flags the user gave, so that `--resume` can refuse the ones it
//! would otherwise ignore.

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::run_dir::RunError;

/// Flags that every resumable binary accepts with `--resume`: where the run
/// is and where it runs.
pub const RESUME_ALWAYS_ALLOWED: [&str; 5] = ["resume", "out", "device", "mnist_dir", "no_fetch"];

/// Parses the process's arguments into `A`, keeping the matches (exits
/// with clap's usage message on a parse error, as `Parser::parse` does).
pub fn parse<A: CommandFactory + FromArgMatches>() -> (A, ArgMatches) {
    let matches = A::command().get_matches();
    match A::from_arg_matches(&matches) {
        Ok(args) => (args, matches),
        Err(e) => e.exit(),
    }
}

/// With `--resume`, every flag given on the command line must be one of
/// [`RESUME_ALWAYS_ALLOWED`] or `allowed` (ids are the field names, e.g.
/// `updown_epochs`): any other would be silently ignored, so it is an error
/// naming the flag.
pub fn reject_on_resume<A: CommandFactory>(
    matches: &ArgMatches,
    allowed: &[&str],
) -> Result<(), RunError> {
    let command = A::command();
    for id in matches.ids() {
        let id = id.as_str();
        // Flattened argument structs appear as groups: only arguments count.
        if command.get_arguments().all(|a| a.get_id() != id)
            || matches.value_source(id) != Some(ValueSource::CommandLine)
            || RESUME_ALWAYS_ALLOWED.contains(&id)
            || allowed.contains(&id)
        {
            continue;
        }
        let flag = command
            .get_arguments()
            .find(|a| a.get_id() == id)
            .and_then(|a| a.get_long())
            .unwrap_or(id)
            .to_string();
        let allowed = if allowed.is_empty() {
            String::new()
        } else {
            format!(
                " (with --resume only {} may change it)",
                allowed
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

/// Starts a fresh run in `out` with the configuration `fresh` builds (it
/// validates its own), or with `resume` continues the run there: flags
/// other than `allowed` are refused, its `config.json` is read and checked
/// by `validate`, and its identity must be the one the run started with.
/// Every resumable binary opens its run through this one function.
#[allow(clippy::too_many_arguments)]
pub fn open_run<A, C, E>(
    matches: &ArgMatches,
    binary: &str,
    out: &std::path::Path,
    resume: bool,
    overwrite: bool,
    allowed: &[&str],
    fresh: impl FnOnce() -> Result<C, Box<dyn std::error::Error>>,
    validate: impl Fn(&C) -> Result<(), E>,
) -> Result<(crate::run_dir::RunDir, C), Box<dyn std::error::Error>>
where
    A: CommandFactory,
    C: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<Box<dyn std::error::Error>>,
{
    use crate::run_dir::RunDir;
    if resume {
        reject_on_resume::<A>(matches, allowed)?;
        let (mut run, config): (RunDir, C) = RunDir::resume(out, binary)?;
        validate(&config).map_err(Into::into)?;
        run.confirm(binary, &config)?;
        Ok((run, config))
    } else {
        let config = fresh()?;
        let run = RunDir::start(out, binary, &config, &config, overwrite)?;
        Ok((run, config))
    }
}

/// [`open_run`] for a run that trains on labelled images: the fresh
/// configuration is built from the spec of `--data` (MNIST's without
/// reading it, so flags are checked before any download), a resumed run's
/// data is the one its configuration names (`spec_of`); the images are
/// then read and checked against that spec. Returns the run, its
/// configuration, the images and a line saying where they came from.
#[allow(clippy::too_many_arguments)]
pub fn open_data_run<A, C, E>(
    matches: &ArgMatches,
    binary: &str,
    out: &std::path::Path,
    resume: bool,
    overwrite: bool,
    allowed: &[&str],
    data: &crate::data::DataArgs,
    fresh: impl FnOnce(&crate::data::DataSpec) -> Result<C, Box<dyn std::error::Error>>,
    validate: impl Fn(&C) -> Result<(), E>,
    spec_of: impl Fn(&C) -> &crate::data::DataSpec,
) -> Result<(crate::run_dir::RunDir, C, datasets::ImageSet, String), Box<dyn std::error::Error>>
where
    A: CommandFactory,
    C: serde::Serialize + serde::de::DeserializeOwned,
    E: Into<Box<dyn std::error::Error>>,
{
    let mut prepared = None;
    let (run, config) = open_run::<A, C, E>(
        matches,
        binary,
        out,
        resume,
        overwrite,
        allowed,
        || {
            let fresh_data = data.prepare()?;
            let config = fresh(&fresh_data.spec)?;
            prepared = Some(fresh_data);
            Ok(config)
        },
        validate,
    )?;
    let (set, line) = data
        .prepared_or_resumed(prepared, spec_of(&config))
        .load()?;
    Ok((run, config, set, line))
}
