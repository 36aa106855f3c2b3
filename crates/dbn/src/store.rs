//! Saving and loading stacks and classifiers as safetensors files, each
//! with its configuration as JSON in the header's `__metadata__`, so that
//! one file is enough to rebuild the model (and other tools can read the
//! tensors by name).

use std::path::Path;

use burn::prelude::*;
use rbm::{RbmConfig, load_tensors, read_metadata, save_tensors};

use crate::{ClassifierConfig, DbnClassifier, DbnError, GenerativeDbn, RbmStack};

/// Metadata key of a stack's per-layer [`RbmConfig`]s (a JSON array).
pub const STACK_METADATA_KEY: &str = "stack_layers";
/// Metadata key of a generative DBN's layer configurations: a JSON object
/// `{"lower": [RbmConfig...], "top": RbmConfig}`.
pub const GENERATIVE_METADATA_KEY: &str = "generative_dbn";
/// Metadata key of a classifier's [`ClassifierConfig`].
pub const CLASSIFIER_METADATA_KEY: &str = "classifier_config";

/// Writes the stack (tensors `layers.{i}.weight`, `layers.{i}.visible_bias`,
/// `layers.{i}.hidden_bias`) and each layer's architecture; atomically.
pub fn save_stack(stack: &RbmStack, path: &Path) -> Result<(), DbnError> {
    let configs: Vec<RbmConfig> = stack.layers.iter().map(|l| l.config(0.01)).collect();
    let json = serde_json::to_string(&configs).expect("RbmConfig serialises");
    Ok(save_tensors(stack, &[(STACK_METADATA_KEY, json)], path)?)
}

/// Loads a stack written by [`save_stack`] onto `device`.
pub fn load_stack(path: &Path, device: &Device) -> Result<RbmStack, DbnError> {
    let configs: Vec<RbmConfig> = metadata_json(path, STACK_METADATA_KEY)?;
    if configs.is_empty() {
        return Err(bad(path, "the stack has no layers"));
    }
    for config in &configs {
        config.validate().map_err(|e| bad(path, &e.to_string()))?;
    }
    let mut stack = RbmStack::new(configs.iter().map(|c| c.init(device, 0)).collect());
    load_tensors(&mut stack, path)?;
    Ok(stack)
}

/// Writes the classifier (tensors `hidden.{i}.weight`, `hidden.{i}.bias`,
/// `head.weight`, `head.bias`) and its configuration; atomically.
pub fn save_classifier(classifier: &DbnClassifier, path: &Path) -> Result<(), DbnError> {
    let json = serde_json::to_string(&classifier.config()).expect("config serialises");
    Ok(save_tensors(
        classifier,
        &[(CLASSIFIER_METADATA_KEY, json)],
        path,
    )?)
}

/// Loads a classifier written by [`save_classifier`] onto `device`.
pub fn load_classifier(path: &Path, device: &Device) -> Result<DbnClassifier, DbnError> {
    let config: ClassifierConfig = metadata_json(path, CLASSIFIER_METADATA_KEY)?;
    config.validate().map_err(|e| bad(path, &e.to_string()))?;
    let mut classifier = config.init(device, 0);
    load_tensors(&mut classifier, path)?;
    Ok(classifier)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct GenerativeLayers {
    lower: Vec<RbmConfig>,
    top: RbmConfig,
}

/// Writes a generative DBN (tensors `up.{i}.*`, `down.{i}.*`, `top.*`) and
/// its layers' architectures; atomically.
pub fn save_generative(model: &GenerativeDbn, path: &Path) -> Result<(), DbnError> {
    let layers = GenerativeLayers {
        lower: model.up.iter().map(|l| l.config(0.01)).collect(),
        top: model.top.config(0.01),
    };
    let json = serde_json::to_string(&layers).expect("configs serialise");
    Ok(save_tensors(
        model,
        &[(GENERATIVE_METADATA_KEY, json)],
        path,
    )?)
}

/// Loads a generative DBN written by [`save_generative`] onto `device`.
pub fn load_generative(path: &Path, device: &Device) -> Result<GenerativeDbn, DbnError> {
    let layers: GenerativeLayers = metadata_json(path, GENERATIVE_METADATA_KEY)?;
    for config in layers.lower.iter().chain([&layers.top]) {
        config.validate().map_err(|e| bad(path, &e.to_string()))?;
    }
    let lower: Vec<_> = layers.lower.iter().map(|c| c.init(device, 0)).collect();
    let mut model = GenerativeDbn {
        up: lower.clone(),
        down: lower,
        top: layers.top.init(device, 0),
    };
    load_tensors(&mut model, path)?;
    Ok(model)
}

fn bad(path: &Path, message: &str) -> DbnError {
    DbnError::BadFile {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn metadata_json<T: serde::de::DeserializeOwned>(path: &Path, key: &str) -> Result<T, DbnError> {
    let metadata = read_metadata(path)?;
    let json = metadata.get(key).ok_or_else(|| {
        bad(
            path,
            &format!("no `{key}` entry in the header's __metadata__"),
        )
    })?;
    serde_json::from_str(json).map_err(|e| bad(path, &format!("`{key}` is not valid: {e}")))
}
