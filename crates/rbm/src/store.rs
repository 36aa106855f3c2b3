//! Saving and loading an RBM as one safetensors file.
//!
//! The file holds three f32 tensors, readable by numpy, PyTorch or any
//! safetensors reader:
//!
//! | name           | shape                   | meaning                    |
//! |----------------|-------------------------|----------------------------|
//! | `weight`       | `[n_visible, n_hidden]` | W, so that input to h is v W + b_h |
//! | `visible_bias` | `[n_visible]`           | b_v                        |
//! | `hidden_bias`  | `[n_hidden]`            | b_h                        |
//!
//! and, in the header's `__metadata__`, `rbm_config`: the [`RbmConfig`] as JSON.

use std::path::Path;

use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};

use crate::{Rbm, RbmConfig, RbmError};

/// Metadata key under which the configuration is stored.
pub const CONFIG_METADATA_KEY: &str = "rbm_config";

/// Writes `rbm` and its configuration to `path` (a `.safetensors` file),
/// replacing any file there. It is written under a temporary name first and
/// renamed, so an interruption never leaves a half-written model.
pub fn save_rbm(rbm: &Rbm, config: &RbmConfig, path: &Path) -> Result<(), RbmError> {
    let config_json = serde_json::to_string(config).expect("RbmConfig serialises");
    save_tensors(rbm, &[(CONFIG_METADATA_KEY, config_json)], path)
}

/// The `__metadata__` map of a safetensors file's header.
pub fn read_metadata(path: &Path) -> Result<std::collections::HashMap<String, String>, RbmError> {
    let bytes = std::fs::read(path).map_err(|source| RbmError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |message: String| RbmError::BadWeightsFile {
        path: path.to_path_buf(),
        message,
    };
    // safetensors: u64 little-endian header length, then the JSON header.
    let header_len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .ok_or_else(|| bad("file shorter than the 8-byte safetensors header length".into()))?;
    let header = bytes
        .get(8..8usize.saturating_add(header_len))
        .ok_or_else(|| {
            bad(format!(
                "header of {header_len} bytes runs past the end of the file"
            ))
        })?;
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    Ok(header
        .get("__metadata__")
        .and_then(|m| m.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

/// Reads the configuration stored in a safetensors file written by [`save_rbm`].
pub fn load_rbm_config(path: &Path) -> Result<RbmConfig, RbmError> {
    let metadata = read_metadata(path)?;
    let config = metadata
        .get(CONFIG_METADATA_KEY)
        .ok_or_else(|| RbmError::BadWeightsFile {
            path: path.to_path_buf(),
            message: format!("no `{CONFIG_METADATA_KEY}` entry in the header's __metadata__"),
        })?;
    let config: RbmConfig = serde_json::from_str(config).map_err(|e| RbmError::BadConfigFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    config.validate()?;
    Ok(config)
}

/// Loads an RBM saved by [`save_rbm`] onto `device`, checking that every
/// tensor is present with the shape its configuration implies.
pub fn load_rbm(path: &Path, device: &Device) -> Result<(Rbm, RbmConfig), RbmError> {
    let config = load_rbm_config(path)?;
    let mut rbm = config.init(device, 0);
    load_tensors(&mut rbm, path)?;
    Ok((rbm, config))
}

/// Fills `module`'s tensors from a safetensors file, requiring every one
/// to be present with the module's shape.
pub fn load_tensors<M: ModuleSnapshot>(module: &mut M, path: &Path) -> Result<(), RbmError> {
    let mut store = SafetensorsStore::from_file(path).validate(true);
    let result = module
        .load_from(&mut store)
        .map_err(|e| RbmError::BadWeightsFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(RbmError::BadWeightsFile {
            path: path.to_path_buf(),
            message: format!("{result}"),
        });
    }
    Ok(())
}

/// Writes `module`'s tensors and `metadata` to `path` as safetensors, under
/// a temporary name first, then renamed: an interruption never leaves a
/// half-written file under the real name.
pub fn save_tensors<M: ModuleSnapshot>(
    module: &M,
    metadata: &[(&str, String)],
    path: &Path,
) -> Result<(), RbmError> {
    let partial = path.with_extension("safetensors.part");
    let mut store = SafetensorsStore::from_file(&partial).overwrite(true);
    for (key, value) in metadata {
        store = store.metadata(*key, value.clone());
    }
    module
        .save_into(&mut store)
        .map_err(|e| RbmError::BadWeightsFile {
            path: partial.clone(),
            message: e.to_string(),
        })?;
    std::fs::rename(&partial, path).map_err(|source| RbmError::Io {
        path: path.to_path_buf(),
        source,
    })
}
