//! Checkpoints of a training run: the model (see [`crate::save_rbm`]) plus
//! the trainer's state, so an interrupted run loses at most one epoch.
//!
//! `trainer.safetensors` holds f32 tensors `velocity_weight`
//! `[n_visible, n_hidden]`, `velocity_visible_bias` `[n_visible]`,
//! `velocity_hidden_bias` `[n_hidden]`, and when present `chains`
//! `[chains, n_hidden]` and `hidden_activity` `[n_hidden]`; its metadata
//! holds `epochs_done` and the number of chain rows.

use std::path::Path;

use crate::error::RbmError;
use crate::gradient::ParameterTensors;
use crate::store::{check_capacity, inspect_weights, load_inspected, save_tensors};
use crate::train::trainer::TrainerState;
use burn::module::Param;
use burn::prelude::*;

#[derive(Module, Debug)]
struct TrainerRecord {
    velocity_weight: Param<Tensor<2>>,
    velocity_visible_bias: Param<Tensor<1>>,
    velocity_hidden_bias: Param<Tensor<1>>,
    chains: Option<Param<Tensor<2>>>,
    hidden_activity: Option<Param<Tensor<1>>>,
}

/// Writes `state` to `path` atomically (temporary file, then rename).
///
/// # Errors
/// [`RbmError::Unsupported`] before the first update (nothing to save yet).
pub fn save_trainer_state(state: &TrainerState, path: &Path) -> Result<(), RbmError> {
    let Some(velocity) = state.velocity.clone() else {
        return Err(RbmError::Unsupported {
            what: "checkpointing a trainer before its first update",
        });
    };
    let record = TrainerRecord {
        velocity_weight: Param::from_tensor(velocity.weight),
        velocity_visible_bias: Param::from_tensor(velocity.visible_bias),
        velocity_hidden_bias: Param::from_tensor(velocity.hidden_bias),
        chains: state.chains.clone().map(Param::from_tensor),
        hidden_activity: state.hidden_activity.clone().map(Param::from_tensor),
    };
    let chain_rows = state.chains.as_ref().map_or(0, |c| c.dims()[0]);
    let metadata = [
        ("epochs_done", state.epochs_done.to_string()),
        ("chain_rows", chain_rows.to_string()),
        (
            "has_hidden_activity",
            state.hidden_activity.is_some().to_string(),
        ),
    ];
    save_tensors(&record, &metadata, path)
}

/// Reads a state written by [`save_trainer_state`] for an RBM of
/// `n_visible x n_hidden` units, onto `device`.
pub fn load_trainer_state(
    path: &Path,
    n_visible: usize,
    n_hidden: usize,
    device: &Device,
) -> Result<TrainerState, RbmError> {
    let file = inspect_weights(path)?;
    let metadata = &file.metadata;
    let number = |key: &str| -> Result<usize, RbmError> {
        metadata
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| RbmError::BadWeightsFile {
                path: path.to_path_buf(),
                message: format!("metadata `{key}` missing or not a number"),
            })
    };
    let epochs_done = number("epochs_done")?;
    let chain_rows = number("chain_rows")?;
    let has_activity = metadata
        .get("has_hidden_activity")
        .is_some_and(|v| v == "true");
    // The sizes come from the file's metadata: check that the file holds
    // them before allocating.
    let needed = n_visible
        .checked_mul(n_hidden)
        .and_then(|w| w.checked_add(n_visible)?.checked_add(n_hidden))
        .and_then(|n| n.checked_add(chain_rows.checked_mul(n_hidden)?))
        .and_then(|n| n.checked_add(if has_activity { n_hidden } else { 0 }));
    check_capacity(path, &file, needed)?;
    let mut record = TrainerRecord {
        velocity_weight: Param::from_tensor(Tensor::zeros([n_visible, n_hidden], device)),
        velocity_visible_bias: Param::from_tensor(Tensor::zeros([n_visible], device)),
        velocity_hidden_bias: Param::from_tensor(Tensor::zeros([n_hidden], device)),
        chains: (chain_rows > 0)
            .then(|| Param::from_tensor(Tensor::zeros([chain_rows, n_hidden], device))),
        hidden_activity: has_activity
            .then(|| Param::from_tensor(Tensor::zeros([n_hidden], device))),
    };
    load_inspected(&mut record, path, &file)?;
    Ok(TrainerState {
        epochs_done,
        velocity: Some(ParameterTensors {
            weight: record.velocity_weight.val(),
            visible_bias: record.velocity_visible_bias.val(),
            hidden_bias: record.velocity_hidden_bias.val(),
        }),
        chains: record.chains.map(|c| c.val()),
        hidden_activity: record.hidden_activity.map(|a| a.val()),
    })
}
