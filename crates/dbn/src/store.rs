//! Saving and loading stacks and classifiers as safetensors files, each
//! with its configuration as JSON in the header's `__metadata__`, so that
//! one file is enough to rebuild the model (and other tools can read the
//! tensors by name).

use std::path::Path;

use burn::prelude::*;
use rbm::{RbmConfig, check_capacity, inspect_weights, load_inspected, save_tensors};

use crate::error::DbnError;
use crate::finetune::classifier::ClassifierConfig;
use crate::finetune::classifier::DbnClassifier;
use crate::generative::model::GenerativeDbn;
use crate::stack::model::RbmStack;

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

/// Loads a stack written by [`save_stack`] onto `device`. The layers'
/// configurations are validated, must chain (each layer's hidden units are
/// the next one's visible units) and must fit the file's tensors before
/// anything is allocated; every tensor must be f32, finite, of its shape.
pub fn load_stack(path: &Path, device: &Device) -> Result<RbmStack, DbnError> {
    let (configs, file): (Vec<RbmConfig>, _) = metadata_json(path, STACK_METADATA_KEY)?;
    if configs.is_empty() {
        return Err(bad(path, "the stack has no layers"));
    }
    check_layers(path, &file, &configs)?;
    let mut stack = RbmStack::new(configs.iter().map(|c| c.init(device, 0)).collect());
    load_inspected(&mut stack, path, &file)?;
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

/// Loads a classifier written by [`save_classifier`] onto `device`, with
/// the checks of [`load_stack`].
pub fn load_classifier(path: &Path, device: &Device) -> Result<DbnClassifier, DbnError> {
    let (config, file): (ClassifierConfig, _) = metadata_json(path, CLASSIFIER_METADATA_KEY)?;
    config.validate().map_err(|e| bad(path, &e.to_string()))?;
    check_capacity(path, &file, config.parameter_count())?;
    let mut classifier = config.init(device, 0);
    load_inspected(&mut classifier, path, &file)?;
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

/// Loads a generative DBN written by [`save_generative`] onto `device`,
/// with the checks of [`load_stack`]; the top RBM's visible units must be
/// the last lower layer's hidden units followed by a softmax label group.
pub fn load_generative(path: &Path, device: &Device) -> Result<GenerativeDbn, DbnError> {
    let (layers, file): (GenerativeLayers, _) = metadata_json(path, GENERATIVE_METADATA_KEY)?;
    if layers.lower.is_empty() {
        return Err(bad(path, "the generative DBN has no lower layers"));
    }
    let mut all = layers.lower.clone();
    all.push(layers.top.clone());
    for config in &all {
        config.validate().map_err(|e| bad(path, &e.to_string()))?;
    }
    let features = layers.lower.last().expect("not empty").n_hidden;
    let rbm::UnitKind::BinaryWithSoftmax { group } = layers.top.visible_units else {
        return Err(bad(
            path,
            "the top RBM's visible units are not binary+softmax",
        ));
    };
    if layers.top.n_visible != features + group {
        return Err(bad(
            path,
            &format!(
                "the top RBM has {} visible units, the {features} features and {group} labels need {}",
                layers.top.n_visible,
                features + group
            ),
        ));
    }
    check_chain(path, &layers.lower)?;
    // Up and down copies of every lower layer, and the top.
    let needed = layers.top.parameter_count().and_then(|top| {
        layers.lower.iter().try_fold(top, |total, c| {
            total.checked_add(c.parameter_count()?.checked_mul(2)?)
        })
    });
    check_capacity(path, &file, needed)?;
    let lower: Vec<_> = layers.lower.iter().map(|c| c.init(device, 0)).collect();
    let mut model = GenerativeDbn {
        up: lower.clone(),
        down: lower,
        top: layers.top.init(device, 0),
    };
    load_inspected(&mut model, path, &file)?;
    Ok(model)
}

fn bad(path: &Path, message: &str) -> DbnError {
    DbnError::BadFile {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The configuration under `key` in a weights file's metadata, with the
/// file's inspection (for [`check_capacity`]).
fn metadata_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    key: &str,
) -> Result<(T, rbm::WeightsFile), DbnError> {
    let file = inspect_weights(path)?;
    let json = file
        .metadata
        .get(key)
        .ok_or_else(|| bad(path, &rbm::missing_metadata_entry(key, &file.metadata)))?;
    let value =
        serde_json::from_str(json).map_err(|e| bad(path, &format!("`{key}` is not valid: {e}")))?;
    Ok((value, file))
}

/// Stack layers: each valid, chained, and fitting the file.
fn check_layers(
    path: &Path,
    file: &rbm::WeightsFile,
    configs: &[RbmConfig],
) -> Result<(), DbnError> {
    for config in configs {
        config.validate().map_err(|e| bad(path, &e.to_string()))?;
    }
    check_chain(path, configs)?;
    let needed = configs
        .iter()
        .try_fold(0usize, |total, c| total.checked_add(c.parameter_count()?));
    check_capacity(path, file, needed)?;
    Ok(())
}

/// Each layer's hidden units are the next layer's visible units.
fn check_chain(path: &Path, configs: &[RbmConfig]) -> Result<(), DbnError> {
    for (index, pair) in configs.windows(2).enumerate() {
        if pair[0].n_hidden != pair[1].n_visible {
            return Err(bad(
                path,
                &format!(
                    "layer {} has {} hidden units but layer {} has {} visible units",
                    index,
                    pair[0].n_hidden,
                    index + 1,
                    pair[1].n_visible
                ),
            ));
        }
    }
    Ok(())
}
