//! A run's output directory: configuration, metrics, checkpoints, pictures.
//!
//! # What a run directory promises
//! - It belongs to one run. [`RunDir::start`] refuses a directory that
//!   holds anything (unless told to clear a previous run's), and writes
//!   `run.json`: the binary and the SHA-256 of the run's validated
//!   configuration (its identity). [`RunDir::resume`] refuses a directory
//!   of another binary, one without a run, and a `config.json` whose hash
//!   is not the one the run started with.
//! - Checkpoints are committed: their files are written first, under names
//!   of their own, then a commit file (`<name>.commit.json`) records the
//!   run's identity, the step, and each file's SHA-256, written atomically
//!   last. [`RunDir::last_commit`] refuses a commit of another
//!   configuration and a torn one (a file missing or not what was
//!   committed), naming the file. Files of the previous commit are removed
//!   only after the new commit is written, so an interruption at any point
//!   loses at most the step in progress.
//! - One process at a time: [`RunDir::hold`] takes an exclusive lock on
//!   `run.lock` for as long as the process works on the run; a second
//!   process (a `--resume` in another terminal) is refused instead of
//!   interleaving its checkpoints with the first's. The sweeps' shards,
//!   several processes on one run by design, claim units instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod clock;
mod commit;
mod error;
mod identity;
pub mod json_float;
pub mod shard;

pub use clock::{CLOCK_FILE, RunClock, WallTime};
pub use commit::{Commit, CommittedFile};
pub use error::RunError;
use error::io_error;
pub use identity::{
    RunIdentity, config_hash, file_hash, identify_file, json_differences, read_json,
};

/// The identity file of a run directory.
pub const RUN_FILE: &str = "run.json";
/// The configuration file of a run directory.
pub const CONFIG_FILE: &str = "config.json";
/// The file a process locks while it works on the run ([`RunDir::hold`]).
pub const LOCK_FILE: &str = "run.lock";
/// The largest JSON file a run reads (config, state, commits): 16 MiB.
pub const MAX_JSON_BYTES: u64 = 1 << 24;

/// Run kinds that the separate binaries wrote before the `deepbelief`
/// command, with the subcommand that continues their runs.
const RENAMED_KINDS: [(&str, &str); 4] = [
    ("mnist-classify", "classify"),
    ("mnist-generative", "generative"),
    ("gaussian-rbm", "gaussian"),
    ("pretraining-study", "study"),
];

/// Locks `run.lock` in the run directory `dir` (creating it) for this
/// process until the file is closed.
///
/// # Errors
/// [`RunError::Busy`] when another process holds it.
fn lock_run(dir: &Path) -> Result<std::fs::File, RunError> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(RunError::Busy {
            dir: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(RunError::Io { path, source }),
    }
}

/// Whether a run of kind `found` (as its `run.json` says) is one of `expected`.
fn same_kind(found: &str, expected: &str) -> bool {
    found == expected || RENAMED_KINDS.contains(&(found, expected))
}

/// An output directory that belongs to one run (see the module docs).
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
    /// The hash of the run's configuration that commits carry.
    identity: String,
    /// The configuration the run started with, when `run.json` holds it.
    original: Option<serde_json::Value>,
    /// `run.lock`, locked by this process while any clone lives ([`RunDir::hold`]).
    held: Option<std::sync::Arc<std::fs::File>>,
}

impl RunDir {
    /// Starts a run in `path` for `binary` with `config`: creates the
    /// directory, refusing one that holds anything unless `overwrite` and it
    /// holds a run (whose contents are then deleted), and writes `run.json`
    /// and `config.json`.
    pub fn start(
        path: &Path,
        binary: &str,
        config: &impl Serialize,
        identity: &impl Serialize,
        overwrite: bool,
    ) -> Result<Self, RunError> {
        if let Some(example) = first_entry(path)? {
            if !overwrite {
                return Err(RunError::NotEmpty {
                    dir: path.to_path_buf(),
                    example,
                });
            }
            if !path.join(RUN_FILE).exists() && !path.join(CONFIG_FILE).exists() {
                return Err(RunError::NotARun {
                    dir: path.to_path_buf(),
                });
            }
            // Not from under a process that works on it.
            let _held = lock_run(path)?;
            std::fs::remove_dir_all(path).map_err(io_error(path))?;
        }
        std::fs::create_dir_all(path).map_err(io_error(path))?;
        Self::write_identity(path, binary, config, identity)
    }

    /// Writes `config.json` and then `run.json` (the run's identity) in
    /// `path`, which exists.
    fn write_identity(
        path: &Path,
        binary: &str,
        config: &impl Serialize,
        identity: &impl Serialize,
    ) -> Result<Self, RunError> {
        let run = Self {
            path: path.to_path_buf(),
            identity: config_hash(identity),
            original: serde_json::to_value(identity).ok(),
            held: None,
        };
        run.write_json(CONFIG_FILE, config)?;
        run.write_json(
            RUN_FILE,
            &RunIdentity {
                binary: binary.to_string(),
                config_sha256: run.identity.clone(),
                config: run.original.clone(),
            },
        )?;
        Ok(run)
    }

    /// Starts the run in `path`, or joins it if another process of the same
    /// sweep (`--shard`) started it: the first process to create
    /// `run.json.lock` writes `config.json` and `run.json`; the others wait
    /// for `run.json` (up to a minute), then must have the same identity
    /// (another configuration is [`RunError::ConfigChanged`]). A directory
    /// that holds files but no run is refused.
    pub fn start_or_join(
        path: &Path,
        binary: &str,
        config: &impl Serialize,
        identity: &impl Serialize,
    ) -> Result<Self, RunError> {
        let lock = path.join("run.json.lock");
        if !path.join(RUN_FILE).exists() {
            if let Some(example) = first_entry(path)?
                && example != "run.json.lock"
                && !lock.exists()
            {
                return Err(RunError::NotEmpty {
                    dir: path.to_path_buf(),
                    example,
                });
            }
            std::fs::create_dir_all(path).map_err(io_error(path))?;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(_) => return Self::write_identity(path, binary, config, identity),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                    while !path.join(RUN_FILE).exists() {
                        if std::time::Instant::now() > deadline {
                            return Err(RunError::BadFile {
                                path: lock,
                                message: "another process began this run a minute ago and \
                                          wrote no run.json: remove the lock if it died"
                                    .into(),
                            });
                        }
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                }
                Err(source) => return Err(RunError::Io { path: lock, source }),
            }
        }
        let (mut run, _): (Self, serde_json::Value) = Self::resume(path, binary)?;
        run.confirm(binary, identity)?;
        Ok(run)
    }

    /// Opens the run in `path` to resume it: it must be a run of `binary`.
    /// Returns the directory and its `config.json` parsed as `C`; the caller
    /// validates it and calls [`RunDir::confirm`] with its identity.
    /// A directory from before `run.json` existed (with `config.json`) is
    /// adopted: its identity becomes its current configuration's.
    pub fn resume<C: serde::de::DeserializeOwned>(
        path: &Path,
        binary: &str,
    ) -> Result<(Self, C), RunError> {
        let config_path = path.join(CONFIG_FILE);
        if !config_path.exists() {
            return Err(RunError::NothingToResume {
                dir: path.to_path_buf(),
                missing: CONFIG_FILE.into(),
            });
        }
        // The kind first: another subcommand's configuration would not parse.
        let run_path = path.join(RUN_FILE);
        let (identity, original) = if run_path.exists() {
            let identity: RunIdentity = read_json(&run_path)?;
            if !same_kind(&identity.binary, binary) {
                return Err(RunError::OtherBinary {
                    dir: path.to_path_buf(),
                    expected: binary.into(),
                    found: identity.binary,
                });
            }
            (identity.config_sha256, identity.config)
        } else {
            (String::new(), None) // adopted by `confirm`
        };
        let config: C = read_json(&config_path)?;
        Ok((
            Self {
                path: path.to_path_buf(),
                identity,
                original,
                held: None,
            },
            config,
        ))
    }

    /// Checks that `identity` (the resumed configuration's identity, after
    /// validation) is the one the run started with.
    pub fn confirm(&mut self, binary: &str, identity: &impl Serialize) -> Result<(), RunError> {
        let found = config_hash(identity);
        if self.identity.is_empty() {
            self.identity = found.clone();
            return self.write_json(
                RUN_FILE,
                &RunIdentity {
                    binary: binary.into(),
                    config_sha256: found,
                    config: serde_json::to_value(identity).ok(),
                },
            );
        }
        if found != self.identity {
            let differences = match (&self.original, serde_json::to_value(identity)) {
                (Some(old), Ok(new)) => {
                    let all = json_differences(old, &new);
                    if all.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; differs in {}",
                            all.into_iter().take(5).collect::<Vec<_>>().join(", ")
                        )
                    }
                }
                _ => String::new(),
            };
            return Err(RunError::ConfigChanged {
                path: self.file(CONFIG_FILE),
                expected: self.identity.clone(),
                found,
                differences,
            });
        }
        Ok(())
    }

    /// Holds the run for this process: an exclusive lock on `run.lock` in
    /// its directory (created if need be), released when the last clone of
    /// this `RunDir` is dropped or the process ends, however it ends.
    ///
    /// # Errors
    /// [`RunError::Busy`] when another process holds the run.
    pub fn hold(mut self) -> Result<Self, RunError> {
        self.held = Some(std::sync::Arc::new(lock_run(&self.path)?));
        Ok(self)
    }

    /// Removes a run started by [`RunDir::start`] that failed before it
    /// trained (its data broke a rule): the identity files `start` wrote,
    /// then, when `start` created the directory, the directory if nothing
    /// else is in it; the same command with corrected flags then finds no
    /// run there.
    pub fn abandon(self, created_directory: bool) -> Result<(), RunError> {
        for name in [RUN_FILE, CONFIG_FILE] {
            let file = self.path.join(name);
            std::fs::remove_file(&file).map_err(io_error(&file))?;
        }
        let lock = self.path.join(LOCK_FILE);
        if lock.exists() {
            std::fs::remove_file(&lock).map_err(io_error(&lock))?;
        }
        if created_directory && first_entry(&self.path)?.is_none() {
            std::fs::remove_dir(&self.path).map_err(io_error(&self.path))?;
        }
        Ok(())
    }

    /// A directory without a run identity (created on demand), for code
    /// that manages its directory itself (tests, one-off tools): nothing is
    /// checked, and commits carry an empty identity.
    pub fn create(path: &Path) -> Result<Self, RunError> {
        std::fs::create_dir_all(path).map_err(io_error(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            identity: String::new(),
            original: None,
            held: None,
        })
    }

    /// A subdirectory that shares this run's identity (created on demand).
    pub fn subdir(&self, name: &str) -> Result<Self, RunError> {
        let path = self.path.join(name);
        std::fs::create_dir_all(&path).map_err(io_error(&path))?;
        Ok(Self {
            path,
            identity: self.identity.clone(),
            original: self.original.clone(),
            held: self.held.clone(),
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically (temp file, rename).
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<(), RunError> {
        let target = self.file(name);
        // Per process: shards of a sweep may write the same file at once.
        let partial = self.file(&format!("{name}.part-{}", std::process::id()));
        let text = serde_json::to_string_pretty(value).expect("run files serialise");
        std::fs::write(&partial, text + "\n").map_err(io_error(&partial))?;
        std::fs::rename(&partial, &target).map_err(io_error(&target))
    }

    /// Appends `value` as one JSON line to `name`.
    pub fn append_jsonl(&self, name: &str, value: &impl Serialize) -> Result<(), RunError> {
        let path = self.file(name);
        let line = serde_json::to_string(value).expect("records serialise");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        writeln!(file, "{line}").map_err(io_error(&path))
    }

    /// Drops the `metrics.jsonl` records of epochs after their phase's last
    /// checkpoint, `done(phase)` (`None`: a phase this does not touch): a
    /// run stopped between an epoch's record and its commit wrote them, and
    /// the resumed run does those epochs again.
    pub fn drop_records_after(&self, done: impl Fn(&str) -> Option<usize>) -> Result<(), RunError> {
        self.retain_jsonl("metrics.jsonl", |record| {
            match record["phase"].as_str().and_then(&done) {
                Some(done) => record["epoch"].as_u64().unwrap_or(0) as usize <= done,
                None => true,
            }
        })
    }

    /// Keeps only the lines of the JSON-lines file `name` that `keep`
    /// accepts (for a resume: records of steps that were committed), atomically.
    pub fn retain_jsonl(
        &self,
        name: &str,
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<(), RunError> {
        let path = self.file(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let kept: String = text
            .lines()
            .filter(|line| serde_json::from_str(line).is_ok_and(|v| keep(&v)))
            .map(|line| format!("{line}\n"))
            .collect();
        let partial = self.file(&format!("{name}.part-{}", std::process::id()));
        std::fs::write(&partial, kept).map_err(io_error(&partial))?;
        std::fs::rename(&partial, &path).map_err(io_error(&path))
    }
}

/// The first entry of `dir` (by name), if it exists and holds any.
fn first_entry(dir: &Path) -> Result<Option<String>, RunError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            Ok(names.into_iter().next())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(RunError::BadFile {
            path: dir.to_path_buf(),
            message: "is a file, not a directory".into(),
        }),
        Err(source) => Err(RunError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Config {
        epochs: usize,
    }

    #[test]
    fn runs_of_the_earlier_binaries_resume_with_the_subcommand_that_replaced_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let config = Config { epochs: 3 };
        RunDir::start(&path, "mnist-classify", &config, &config, false).unwrap();
        let (mut run, resumed): (RunDir, Config) = RunDir::resume(&path, "classify").unwrap();
        assert_eq!(resumed, config);
        run.confirm("classify", &resumed).unwrap();
        // Another subcommand is refused by name, before its configuration
        // is parsed (this one would not parse as a `Vec`).
        let error = RunDir::resume::<Vec<u8>>(&path, "generative").unwrap_err();
        match &error {
            RunError::OtherBinary {
                expected, found, ..
            } => assert_eq!(
                (expected.as_str(), found.as_str()),
                ("generative", "mnist-classify")
            ),
            other => panic!("expected OtherBinary, got {other:?}"),
        }
        assert!(
            error
                .to_string()
                .contains("`mnist-classify`, not of `generative`")
        );
        // A renamed kind is not a wildcard: `classify` runs are not `study` runs.
        let fresh = dir.path().join("fresh");
        RunDir::start(&fresh, "classify", &config, &config, false).unwrap();
        assert!(RunDir::resume::<Config>(&fresh, "study").is_err());
        assert!(RunDir::resume::<Config>(&fresh, "mnist-classify").is_err());
    }

    /// A held run is refused to a second holder (a resume from another
    /// process, here another open file) and to `--overwrite`, until the
    /// last clone of the holder is dropped.
    #[test]
    fn a_held_run_is_refused_to_another_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run");
        let config = Config { epochs: 3 };
        let busy = |result: Result<RunDir, RunError>| match result {
            Err(error @ RunError::Busy { .. }) => error.to_string(),
            other => panic!("expected Busy, got {other:?}"),
        };
        let held = RunDir::start(&path, "classify", &config, &config, false)
            .unwrap()
            .hold()
            .unwrap();
        let (again, _) = RunDir::resume::<Config>(&path, "classify").unwrap();
        let message = busy(again.hold());
        assert!(message.contains("another process"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        busy(RunDir::start(&path, "classify", &config, &config, true));
        assert!(path.join(CONFIG_FILE).exists(), "the held run was deleted");
        let clone = held.clone();
        drop(held);
        let (again, _) = RunDir::resume::<Config>(&path, "classify").unwrap();
        busy(again.hold());
        drop(clone);
        let (again, _) = RunDir::resume::<Config>(&path, "classify").unwrap();
        again.hold().expect("released with its last clone");
    }
}
