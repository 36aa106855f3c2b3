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
    let io = |source| RbmError::Io {
        path: path.to_path_buf(),
        source,
    };
    let config_json = serde_json::to_string(config).expect("RbmConfig serialises");
    let partial = path.with_extension("safetensors.part");
    let mut store = SafetensorsStore::from_file(&partial)
        .overwrite(true)
        .metadata(CONFIG_METADATA_KEY, config_json);
    rbm.save_into(&mut store).map_err(|e| RbmError::BadWeightsFile {
        path: partial.clone(),
        message: e.to_string(),
    })?;
    std::fs::rename(&partial, path).map_err(io)?;
    Ok(())
}

/// Reads the configuration stored in a safetensors file written by [`save_rbm`].
pub fn load_rbm_config(path: &Path) -> Result<RbmConfig, RbmError> {
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
        .get(8..8 + header_len)
        .ok_or_else(|| bad(format!("header of {header_len} bytes runs past the end of the file")))?;
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let config = header
        .get("__metadata__")
        .and_then(|m| m.get(CONFIG_METADATA_KEY))
        .and_then(|c| c.as_str())
        .ok_or_else(|| bad(format!("no `{CONFIG_METADATA_KEY}` entry in the header's __metadata__")))?;
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
    let mut store = SafetensorsStore::from_file(path).validate(true);
    let result = rbm.load_from(&mut store).map_err(|e| RbmError::BadWeightsFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(RbmError::BadWeightsFile {
            path: path.to_path_buf(),
            message: format!("{result}"),
        });
    }
    Ok((rbm, config))
}
