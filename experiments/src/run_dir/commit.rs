//! Committed checkpoints: files under names of their own, then a commit
//! file naming them with their hashes, written atomically last.

use std::collections::BTreeMap;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::RunDir;
use super::error::RunError;
use super::identity::{file_hash, read_json};

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
    /// The previous commit's files that this one does not list: removed
    /// after the commit is written, and again when it is next read, so
    /// that a run stopped between the two leaves none behind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
}

impl Commit {
    /// The step's field `key` as a number.
    pub fn step_number(&self, key: &str) -> Option<usize> {
        self.step.get(key)?.as_u64().map(|n| n as usize)
    }
}

impl RunDir {
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
        let superseded = previous
            .iter()
            .flat_map(|p| p.files.values())
            .filter(|old| !committed.values().any(|f| f.name == old.name))
            .map(|old| old.name.clone())
            .collect();
        let commit = Commit {
            config_sha256: self.identity.clone(),
            step,
            files: committed,
            superseded,
        };
        self.write_json(&format!("{name}.commit.json"), &commit)?;
        self.remove_superseded(&commit);
        Ok(())
    }

    /// Removes the files a commit superseded (those already gone are fine).
    fn remove_superseded(&self, commit: &Commit) {
        for old in &commit.superseded {
            let _ = std::fs::remove_file(self.file(old));
        }
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
    /// Another process (a shard) may commit `name` again while this one
    /// verifies, and remove the files the older commit named: a commit that
    /// fails its check is read again, and only one that fails while it is
    /// still the last is torn.
    pub fn last_commit(&self, name: &str) -> Result<Option<Commit>, RunError> {
        let mut attempts = 0;
        loop {
            let Some(commit) = self.read_commit(name)? else {
                return Ok(None);
            };
            attempts += 1;
            match self.verified(name, commit.clone()) {
                Err(RunError::TornCheckpoint { .. })
                    if attempts < 5 && self.read_commit(name)?.as_ref() != Some(&commit) => {}
                other => return other.map(Some),
            }
        }
    }

    /// `commit` (the last of `name`) if it is this run's and its files are
    /// whole; then the files it superseded are removed.
    fn verified(&self, name: &str, commit: Commit) -> Result<Commit, RunError> {
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
            let found =
                file_hash(&file_path).map_err(|e| torn(format!("could not be read: {e}")))?;
            if found != file.sha256 {
                return Err(torn(format!(
                    "has SHA-256 {found}, the commit recorded {}",
                    file.sha256
                )));
            }
        }
        // A run stopped right after this commit was written may have left
        // the files it superseded.
        self.remove_superseded(&commit);
        Ok(commit)
    }

    /// The path of a committed file by role.
    pub fn committed(&self, commit: &Commit, role: &str) -> Option<PathBuf> {
        commit.files.get(role).map(|f| self.file(&f.name))
    }

    /// The JSON file of `role` in the last commit `name`, parsed (a unit's
    /// result, a sweep's row); `None` before the first commit.
    pub fn last_committed_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        role: &str,
    ) -> Result<Option<T>, RunError> {
        let Some(commit) = self.last_commit(name)? else {
            return Ok(None);
        };
        let path = self
            .committed(&commit, role)
            .ok_or_else(|| RunError::BadFile {
                path: self.file(&format!("{name}.commit.json")),
                message: format!("a commit without its {role} file"),
            })?;
        Ok(Some(super::read_json(&path)?))
    }
}
