//! A run's identity: `run.json`, the SHA-256 of its configuration, the
//! differences a changed configuration shows, and file hashes.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::MAX_JSON_BYTES;
use super::error::{RunError, io_error};

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

pub(super) fn hex(bytes: &[u8]) -> String {
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
