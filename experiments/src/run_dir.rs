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

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The identity file of a run directory.
pub const RUN_FILE: &str = "run.json";
/// The configuration file of a run directory.
pub const CONFIG_FILE: &str = "config.json";
/// The largest JSON file a run reads (config, state, commits): 16 MiB.
pub const MAX_JSON_BYTES: u64 = 1 << 24;

/// Everything that can go wrong with a run directory; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "{dir} is not empty (it holds {example}); continue that run with --resume, \
         or pass --overwrite to delete it first"
    )]
    NotEmpty { dir: PathBuf, example: String },
    #[error(
        "{dir} holds files but no run ({RUN_FILE} is missing): refusing to delete them \
         with --overwrite; choose another --out"
    )]
    NotARun { dir: PathBuf },
    #[error("{dir}: nothing to resume ({missing} is missing); start the run without --resume")]
    NothingToResume { dir: PathBuf, missing: String },
    #[error("{dir} holds a run of `{found}`, not of `{expected}`")]
    OtherBinary {
        dir: PathBuf,
        expected: String,
        found: String,
    },
    #[error(
        "{path} is not the configuration the run started with (SHA-256 {found}, \
         the run's {expected} in {RUN_FILE}{differences}); the checkpoints belong to the original"
    )]
    ConfigChanged {
        path: PathBuf,
        expected: String,
        found: String,
        /// `; differs in a.b (old -> new), ...`, when the start's configuration is known.
        differences: String,
    },
    #[error(
        "{path}: a checkpoint of another configuration (SHA-256 {found}, this run's {expected})"
    )]
    ForeignCheckpoint {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{commit}: torn checkpoint: {file} {problem}")]
    TornCheckpoint {
        commit: PathBuf,
        file: PathBuf,
        problem: String,
    },
    #[error(
        "--{flag} cannot be used with --resume: the run continues with the configuration \
         in its {CONFIG_FILE}{allowed}"
    )]
    FlagIgnoredByResume { flag: String, allowed: String },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Run kinds that the separate binaries wrote before the `deepbelief`
/// command, with the subcommand that continues their runs.
const RENAMED_KINDS: [(&str, &str); 4] = [
    ("mnist-classify", "classify"),
    ("mnist-generative", "generative"),
    ("gaussian-rbm", "gaussian"),
    ("pretraining-study", "study"),
];

/// Whether a run of kind `found` (as its `run.json` says) is one of `expected`.
fn same_kind(found: &str, expected: &str) -> bool {
    found == expected || RENAMED_KINDS.contains(&(found, expected))
}

/// The contents of `run.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// The kind of run: the subcommand that started it (or, for runs from
    /// before the `deepbelief` command, the binary).
    pub binary: String,
    /// SHA-256 of the run's configuration as canonical JSON (see [`config_hash`]).
    pub config_sha256: String,
    /// The configuration that was hashed, to name what a changed one changed.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
}

/// The paths at which two JSON values differ, with both values, e.g.
/// `train.epochs (1 -> 2)`.
pub fn json_differences(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    fn walk(path: &str, old: &serde_json::Value, new: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value;
        match (old, new) {
            (Value::Object(a), Value::Object(b)) => {
                let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(
                        &child,
                        a.get(key).unwrap_or(&Value::Null),
                        b.get(key).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            _ if old != new => out.push(format!("{path} ({old} -> {new})")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out
}

/// SHA-256 (hex) of a configuration's JSON: the run's identity.
pub fn config_hash(config: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(config).expect("run configurations serialise");
    hex(&Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of a file's contents.
pub fn file_hash(path: &Path) -> Result<String, RunError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_error(path))?;
    Ok(hex(&hasher.finalize()))
}

/// A file that a run's configuration names as an input: its absolute path
/// and its SHA-256 now, so that the run's identity covers its contents.
pub fn identify_file(path: &Path) -> Result<(std::path::PathBuf, String), RunError> {
    let sha256 = file_hash(path)?;
    let absolute = std::fs::canonicalize(path).map_err(io_error(path))?;
    Ok((absolute, sha256))
}

/// Reads a JSON file of at most [`MAX_JSON_BYTES`] as `T`; errors name the path.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RunError> {
    let length = std::fs::metadata(path).map_err(io_error(path))?.len();
    if length > MAX_JSON_BYTES {
        return Err(RunError::BadFile {
            path: path.to_path_buf(),
            message: format!("{length} bytes, above the limit of {MAX_JSON_BYTES} for JSON"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    serde_json::from_str(&text).map_err(|e| RunError::BadFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// One file of a commit: its name relative to the run directory and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedFile {
    pub name: String,
    pub sha256: String,
}

/// A committed checkpoint: the run's identity, the step it reached, and
/// its files by role (e.g. `"model"`, `"trainer"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commit {
    pub config_sha256: String,
    /// Where the run stands, e.g. `{"epochs_done": 3}`.
    pub step: serde_json::Value,
    pub files: BTreeMap<String, CommittedFile>,
}

impl Commit {
    /// The step's field `key` as a number.
    pub fn step_number(&self, key: &str) -> Option<usize> {
        self.step.get(key)?.as_u64().map(|n| n as usize)
    }
}

/// An output directory that belongs to one run (see the module docs).
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
    /// The hash of the run's configuration that commits carry.
    identity: String,
    /// The configuration the run started with, when `run.json` holds it.
    original: Option<serde_json::Value>,
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
            std::fs::remove_dir_all(path).map_err(io_error(path))?;
        }
        std::fs::create_dir_all(path).map_err(io_error(path))?;
        let run = Self {
            path: path.to_path_buf(),
            identity: config_hash(identity),
            original: None,
        };
        run.write_json(CONFIG_FILE, config)?;
        run.write_json(
            RUN_FILE,
            &RunIdentity {
                binary: binary.to_string(),
                config_sha256: run.identity.clone(),
                config: serde_json::to_value(identity).ok(),
            },
        )?;
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

    /// A directory without a run identity (created on demand), for code
    /// that manages its directory itself (tests, one-off tools): nothing is
    /// checked, and commits carry an empty identity.
    pub fn create(path: &Path) -> Result<Self, RunError> {
        std::fs::create_dir_all(path).map_err(io_error(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            identity: String::new(),
            original: None,
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
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically (temp file, rename).
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<(), RunError> {
        let target = self.file(name);
        let partial = self.file(&format!("{name}.part"));
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
        let partial = self.file(&format!("{name}.part"));
        std::fs::write(&partial, kept).map_err(io_error(&partial))?;
        std::fs::rename(&partial, &path).map_err(io_error(&path))
    }

    fn commit_path(&self, name: &str) -> PathBuf {
        self.file(&format!("{name}.commit.json"))
    }

    /// Commits a checkpoint `name` at `step`: `files` (role, file name
    /// relative to this directory) must already be written; their hashes
    /// and the run's identity are recorded atomically, then the files of
    /// the previous commit that this one does not list are removed.
    pub fn commit(
        &self,
        name: &str,
        step: serde_json::Value,
        files: &[(&str, &str)],
    ) -> Result<(), RunError> {
        let previous = self.read_commit(name).ok().flatten();
        let mut committed = BTreeMap::new();
        for (role, file) in files {
            committed.insert(
                role.to_string(),
                CommittedFile {
                    name: file.to_string(),
                    sha256: file_hash(&self.file(file))?,
                },
            );
        }
        let commit = Commit {
            config_sha256: self.identity.clone(),
            step,
            files: committed,
        };
        self.write_json(&format!("{name}.commit.json"), &commit)?;
        if let Some(previous) = previous {
            for old in previous.files.values() {
                if !commit.files.values().any(|f| f.name == old.name) {
                    let _ = std::fs::remove_file(self.file(&old.name));
                }
            }
        }
        Ok(())
    }

    fn read_commit(&self, name: &str) -> Result<Option<Commit>, RunError> {
        let path = self.commit_path(name);
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// The last commit of checkpoint `name`, verified: it must carry this
    /// run's identity, and each file must exist with its committed hash.
    pub fn last_commit(&self, name: &str) -> Result<Option<Commit>, RunError> {
        let Some(commit) = self.read_commit(name)? else {
            return Ok(None);
        };
        let path = self.commit_path(name);
        if commit.config_sha256 != self.identity {
            return Err(RunError::ForeignCheckpoint {
                path,
                expected: self.identity.clone(),
                found: commit.config_sha256,
            });
        }
        for file in commit.files.values() {
            let file_path = self.file(&file.name);
            let torn = |problem: String| RunError::TornCheckpoint {
                commit: path.clone(),
                file: file_path.clone(),
                problem,
            };
            if !file_path.exists() {
                return Err(torn("is missing".into()));
            }
            let found = file_hash(&file_path)?;
            if found != file.sha256 {
                return Err(torn(format!(
                    "has SHA-256 {found}, the commit recorded {}",
                    file.sha256
                )));
            }
        }
        Ok(Some(commit))
    }

    /// The path of a committed file by role.
    pub fn committed(&self, commit: &Commit, role: &str) -> Option<PathBuf> {
        commit.files.get(role).map(|f| self.file(&f.name))
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
}
