//! A run's output directory: configuration, metrics, checkpoints, pictures.

use std::io::Write;
use std::path::{Path, PathBuf};

/// An output directory, created on demand.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(path)?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically (temp file, rename).
    pub fn write_json(&self, name: &str, value: &impl serde::Serialize) -> std::io::Result<()> {
        let target = self.file(name);
        let partial = self.file(&format!("{name}.part"));
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
        std::fs::write(&partial, text + "\n")?;
        std::fs::rename(partial, target)
    }

    /// Appends `value` as one JSON line to `name`.
    pub fn append_jsonl(&self, name: &str, value: &impl serde::Serialize) -> std::io::Result<()> {
        let line = serde_json::to_string(value).map_err(std::io::Error::other)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.file(name))?;
        writeln!(file, "{line}")
    }
}
