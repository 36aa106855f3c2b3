//! What can go wrong with a run directory; each error names the path.

use std::path::{Path, PathBuf};

use super::{CONFIG_FILE, LOCK_FILE, RUN_FILE};

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
    #[error(
        "{dir}: another process is working on this run (it holds {LOCK_FILE}); \
         wait for it to end, or stop it, then --resume"
    )]
    Busy { dir: PathBuf },
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
    /// A weights file given to the run (a stack, a classifier) that does
    /// not read as one; the error names the file and the tensor.
    #[error(transparent)]
    BadWeights(#[from] rbm::RbmError),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}
