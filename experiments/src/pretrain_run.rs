//! Greedy pretraining as the binaries run it: on the dashboard, with a
//! checkpoint after every epoch, resumable.

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::MetricsRenderer;
use dbn::{
    PretrainCheckpoint, PretrainEvent, PretrainOutcome, RbmStack, StackConfig, load_stack,
    pretrain, save_stack,
};
use rbm::{load_rbm, load_trainer_state, save_rbm, save_trainer_state};

use crate::dashboard::PretrainReporter;
use crate::run_dir::RunDir;

/// The files of a pretraining run inside a run directory.
struct PretrainFiles {
    dir: PathBuf,
}

impl PretrainFiles {
    /// The finished layers, bottom first.
    fn finished(&self) -> PathBuf {
        self.dir.join("finished.safetensors")
    }
    /// The layer in training (1-based) and its trainer state.
    fn current(&self, layer: usize) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("layer-{layer}.safetensors")),
            self.dir.join(format!("layer-{layer}-trainer.safetensors")),
        )
    }
}

/// Trains the stack of `config` greedily, reporting to `renderer` and
/// writing `pretrained.safetensors` in `run` at the end. Every epoch is
/// checkpointed under `run/pretrain/`; with `resume`, training continues
/// from there (and a finished `pretrained.safetensors` is simply loaded).
/// Returns `None` if the user interrupted it.
pub fn pretrain_with_checkpoints(
    run: &RunDir,
    config: &StackConfig,
    data: &Tensor<2>,
    held_out: Option<&Tensor<2>>,
    resume: bool,
    renderer: &mut dyn MetricsRenderer,
    interrupter: &Interrupter,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    let device = data.device();
    let final_path = run.file("pretrained.safetensors");
    if resume && final_path.exists() {
        return Ok(Some(load_stack(&final_path, &device)?));
    }
    let files = PretrainFiles {
        dir: run.file("pretrain"),
    };
    std::fs::create_dir_all(&files.dir)?;
    let checkpoint = if resume {
        load_checkpoint(&files, config, &device)?
    } else {
        None
    };
    let batch_size = config.layers[0].train.batch_size;
    let mut reporter = PretrainReporter::new(batch_size, interrupter.clone());
    let mut failure: Option<Box<dyn std::error::Error>> = None;
    let outcome = pretrain(config, data, held_out, checkpoint, |event| {
        let flow = reporter.report(renderer, &event);
        if let Err(e) = save_checkpoint(&files, config, &event) {
            failure = Some(e);
            return ControlFlow::Break(());
        }
        flow
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    match outcome {
        PretrainOutcome::Finished(stack) => {
            save_stack(&stack, &final_path)?;
            Ok(Some(stack))
        }
        PretrainOutcome::Stopped => Ok(None),
    }
}

/// Writes what a resumed run needs after an epoch or a finished layer.
fn save_checkpoint(
    files: &PretrainFiles,
    config: &StackConfig,
    event: &PretrainEvent<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    match event {
        PretrainEvent::Epoch { layer, trainer, .. } => {
            let (model, state) = files.current(*layer);
            save_rbm(trainer.rbm(), &config.layers[layer - 1].rbm, &model)?;
            save_trainer_state(&trainer.state(), &state)?;
        }
        PretrainEvent::LayerFinished { layer, finished } => {
            // The finished stack first, then the layer's partial files: an
            // interruption in between leaves files a resume ignores.
            save_stack(&RbmStack::new(finished.to_vec()), &files.finished())?;
            let (model, state) = files.current(*layer);
            let _ = std::fs::remove_file(model);
            let _ = std::fs::remove_file(state);
        }
        _ => {}
    }
    Ok(())
}

fn load_checkpoint(
    files: &PretrainFiles,
    config: &StackConfig,
    device: &Device,
) -> Result<Option<PretrainCheckpoint>, Box<dyn std::error::Error>> {
    let finished = if files.finished().exists() {
        load_stack(&files.finished(), device)?.layers
    } else {
        Vec::new()
    };
    let layer = finished.len() + 1;
    let (model, state) = files.current(layer);
    let current = if layer <= config.layers.len() && model.exists() && state.exists() {
        let (rbm, rbm_config) = load_rbm(&model, device)?;
        let state = load_trainer_state(&state, rbm_config.n_visible, rbm_config.n_hidden, device)?;
        Some((rbm, state))
    } else {
        None
    };
    if finished.is_empty() && current.is_none() {
        return Ok(None);
    }
    Ok(Some(PretrainCheckpoint { finished, current }))
}
