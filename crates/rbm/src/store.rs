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

use crate::error::RbmError;
use crate::model::Rbm;
use crate::model::RbmConfig;

/// Metadata key under which the configuration is stored.
pub const CONFIG_METADATA_KEY: &str = "rbm_config";

/// Writes `rbm` and its configuration to `path` (a `.safetensors` file),
/// replacing any file there. It is written under a temporary name first and
/// renamed, so an interruption never leaves a half-written model.
pub fn save_rbm(rbm: &Rbm, config: &RbmConfig, path: &Path) -> Result<(), RbmError> {
    let config_json = serde_json::to_string(config).expect("RbmConfig serialises");
    save_tensors(rbm, &[(CONFIG_METADATA_KEY, config_json)], path)
}

/// The largest weights file the loaders read (4 GiB + a header): every
/// loader reads the whole file once to check it before anything else.
pub const MAX_WEIGHTS_FILE_BYTES: u64 = (1 << 32) + (1 << 27);

/// What a safetensors file's header says, checked against the file itself
/// (by the `safetensors` crate, with checked arithmetic: offsets inside the
/// file, contiguous, each tensor's bytes equal to its shape times its
/// dtype's size), with every tensor f32 and every value finite.
#[derive(Debug, Clone)]
pub struct WeightsFile {
    /// Tensor names and shapes.
    pub tensors: std::collections::BTreeMap<String, Vec<usize>>,
    /// The header's `__metadata__`.
    pub metadata: std::collections::HashMap<String, String>,
}

impl WeightsFile {
    /// The number of f32 values in all tensors together.
    pub fn total_values(&self) -> usize {
        self.tensors
            .values()
            .map(|shape| shape.iter().product::<usize>())
            .sum()
    }
}

/// Reads and checks a safetensors file without allocating anything that
/// its header claims: the file's length bounds every size (see
/// [`WeightsFile`]). Tensors of another dtype than f32 and values that are
/// NaN or infinite are errors naming the tensor.
pub fn inspect_weights(path: &Path) -> Result<WeightsFile, RbmError> {
    let io = |source| RbmError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |message: String| RbmError::BadWeightsFile {
        path: path.to_path_buf(),
        message,
    };
    let length = std::fs::metadata(path).map_err(io)?.len();
    if length > MAX_WEIGHTS_FILE_BYTES {
        return Err(bad(format!(
            "{length} bytes, above the limit of {MAX_WEIGHTS_FILE_BYTES} for a weights file"
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    parse_weights(path, &bytes)
}

/// The checks of [`inspect_weights`] on a file's bytes; `path` only names
/// them in errors.
pub fn parse_weights(path: &Path, bytes: &[u8]) -> Result<WeightsFile, RbmError> {
    use safetensors::{Dtype, SafeTensors};
    let bad = |message: String| RbmError::BadWeightsFile {
        path: path.to_path_buf(),
        message,
    };
    let parsed = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let mut tensors = std::collections::BTreeMap::new();
    for (name, view) in parsed.iter() {
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor `{name}` has dtype {:?}, expected F32",
                view.dtype()
            )));
        }
        let non_finite = view
            .data()
            .chunks_exact(4)
            .filter(|b| !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite())
            .count();
        if non_finite > 0 {
            return Err(bad(format!(
                "tensor `{name}` holds {non_finite} NaN or infinite value(s)"
            )));
        }
        tensors.insert(name.to_string(), view.shape().to_vec());
    }
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    Ok(WeightsFile { tensors, metadata })
}

/// Checks, before a loader allocates a model of `needed` f32 values (from
/// the configuration in a file's metadata), that the file holds that many:
/// a header cannot make a loader allocate more than the file's size.
pub fn check_capacity(
    path: &Path,
    file: &WeightsFile,
    needed: Option<usize>,
) -> Result<(), RbmError> {
    let held = file.total_values();
    match needed {
        Some(needed) if needed <= held => Ok(()),
        _ => Err(RbmError::BadWeightsFile {
            path: path.to_path_buf(),
            message: format!(
                "the configuration in its metadata needs {} values, the file holds {held}",
                needed.map_or("more than 2^64".to_string(), |n| n.to_string())
            ),
        }),
    }
}

/// Puts the `__metadata__` entries of the safetensors file at `path` in
/// the order of their keys. safetensors writes them in a `HashMap`'s
/// order, which changes from process to process, so one model would give
/// files of different bytes and hashes (which runs record as identities).
/// The sorted entries take exactly the bytes the others took, in place.
///
/// # Errors
/// The file cannot be read or written, or its header does not begin with
/// its metadata as safetensors writes it.
fn sort_header_metadata(path: &Path) -> Result<(), RbmError> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let io = |source| RbmError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |message: &str| RbmError::BadWeightsFile {
        path: path.to_path_buf(),
        message: format!("header not as safetensors writes it: {message}"),
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut length = [0u8; 8];
    file.read_exact(&mut length).map_err(io)?;
    let length = usize::try_from(u64::from_le_bytes(length)).map_err(|_| bad("its length"))?;
    let mut header = vec![0u8; length];
    file.read_exact(&mut header).map_err(io)?;
    const START: &[u8] = b"{\"__metadata__\":";
    if !header.starts_with(START) {
        return Err(bad("no metadata first"));
    }
    // The metadata object alone: the first JSON value after the key.
    let mut values = serde_json::Deserializer::from_slice(&header[START.len()..])
        .into_iter::<std::collections::BTreeMap<String, String>>();
    let sorted = match values.next() {
        Some(Ok(entries)) => entries,
        _ => return Err(bad("metadata that are not an object of strings")),
    };
    let written = values.byte_offset();
    let text = serde_json::to_vec(&sorted).expect("strings serialise");
    if text.len() != written {
        return Err(bad("metadata of another length once sorted"));
    }
    file.seek(SeekFrom::Start((8 + START.len()) as u64))
        .map_err(io)?;
    file.write_all(&text).map_err(io)
}

/// The message for a weights file without the metadata entry `key` that
/// its reader needs, naming the entries it has: a file of another kind
/// (a stack where an RBM was asked for) shows which kind it is.
pub fn missing_metadata_entry(
    key: &str,
    metadata: &std::collections::HashMap<String, String>,
) -> String {
    let mut found: Vec<String> = metadata.keys().map(|k| format!("`{k}`")).collect();
    found.sort();
    let found = if found.is_empty() {
        "none".to_string()
    } else {
        found.join(", ")
    };
    format!("no `{key}` entry in the header's __metadata__ (its entries: {found})")
}

/// The `__metadata__` map of a safetensors file's header, after the
/// checks of [`inspect_weights`].
pub fn read_metadata(path: &Path) -> Result<std::collections::HashMap<String, String>, RbmError> {
    Ok(inspect_weights(path)?.metadata)
}

/// Reads the configuration stored in a safetensors file written by [`save_rbm`].
pub fn load_rbm_config(path: &Path) -> Result<RbmConfig, RbmError> {
    Ok(checked_rbm_config(path)?.0)
}

/// The configuration of an RBM file, validated and checked against the
/// file's contents, and the file's inspection.
fn checked_rbm_config(path: &Path) -> Result<(RbmConfig, WeightsFile), RbmError> {
    let file = inspect_weights(path)?;
    let config =
        file.metadata
            .get(CONFIG_METADATA_KEY)
            .ok_or_else(|| RbmError::BadWeightsFile {
                path: path.to_path_buf(),
                message: missing_metadata_entry(CONFIG_METADATA_KEY, &file.metadata),
            })?;
    let config: RbmConfig = serde_json::from_str(config).map_err(|e| RbmError::BadConfigFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    config.validate().map_err(|e| RbmError::BadConfigFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    check_capacity(path, &file, config.parameter_count())?;
    Ok((config, file))
}

/// Loads an RBM saved by [`save_rbm`] onto `device`, checking that every
/// tensor is present with the shape its configuration implies, f32 and
/// finite, and that the configuration is valid and fits the file before
/// anything is allocated.
pub fn load_rbm(path: &Path, device: &Device) -> Result<(Rbm, RbmConfig), RbmError> {
    let (config, file) = checked_rbm_config(path)?;
    let mut rbm = config.init(device, 0);
    load_inspected(&mut rbm, path, &file)?;
    Ok((rbm, config))
}

/// Fills `module`'s tensors from a safetensors file, requiring every one
/// to be present with the module's shape.
///
/// The file is inspected first ([`inspect_weights`]): a tensor of another
/// dtype or a non-finite value is an error, never a panic or a NaN model.
pub fn load_tensors<M: ModuleSnapshot>(module: &mut M, path: &Path) -> Result<(), RbmError> {
    let inspected = inspect_weights(path)?;
    load_inspected(module, path, &inspected)
}

/// [`load_tensors`] for a file its caller has already inspected (the
/// [`WeightsFile`] is the proof), so the file is read and checked once.
pub fn load_inspected<M: ModuleSnapshot>(
    module: &mut M,
    path: &Path,
    _inspected: &WeightsFile,
) -> Result<(), RbmError> {
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
    // Created here first, so that a missing or read-only directory is a
    // typed I/O error naming the file (the store's own is text).
    std::fs::File::create(&partial).map_err(|source| RbmError::Io {
        path: partial.clone(),
        source,
    })?;
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
    sort_header_metadata(&partial)?;
    std::fs::rename(&partial, path).map_err(|source| RbmError::Io {
        path: path.to_path_buf(),
        source,
    })
}
