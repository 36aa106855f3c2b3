//! Greedy pretraining as the binaries run it: on the dashboard, with a
//! checkpoint after every epoch, resumable.

use std::ops::ControlFlow;

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::MetricsRenderer;
use dbn::{
    PretrainCheckpoint, PretrainEvent, PretrainOutcome, RbmStack, StackConfig, load_stack,
    pretrain, save_stack,
};
use rbm::{load_rbm, load_trainer_state, save_rbm, save_trainer_state};
use serde::{Deserialize, Serialize};

use crate::output::dashboard::PretrainReporter;
use crate::run_dir::{Commit, RunDir, RunError};

/// The name of pretraining's commits ([`RunDir::commit`]).
const COMMIT: &str = "pretrain";
/// The finished stack in the run directory.
pub const PRETRAINED_FILE: &str = "pretrained.safetensors";

/// A pretrained stack taken from a file: where from, and its SHA-256, so
/// that the run's identity covers its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PretrainedSource {
    pub path: std::path::PathBuf,
    pub sha256: String,
}

impl PretrainedSource {
    /// The file's absolute path and current hash, once it reads as a
    /// weights file ([`rbm::inspect_weights`]: valid safetensors, f32,
    /// finite), so that a bad file is refused before a run starts, not
    /// after its directory was made.
    pub fn from_path(path: &std::path::Path) -> Result<Self, RunError> {
        rbm::inspect_weights(path)?;
        let (path, sha256) = crate::run_dir::identify_file(path)?;
        Ok(Self { path, sha256 })
    }

    /// Errors unless the file still has the hash recorded when the run
    /// started; `what` says what it is (`"stack"`, `"classifier"`).
    pub fn check_unchanged(&self, what: &str) -> Result<(), RunError> {
        if crate::run_dir::file_hash(&self.path)? != self.sha256 {
            return Err(RunError::BadFile {
                path: self.path.clone(),
                message: format!("not the {what} this run started from (its SHA-256 changed)"),
            });
        }
        Ok(())
    }
}

/// Trains the stack of `config` greedily, reporting to `renderer` and
/// writing `pretrained.safetensors` in `run` at the end. Every epoch is a
/// committed checkpoint under `run/pretrain/` (the finished layers, the
/// layer in training and its trainer state); if the run holds one (a
/// resumed run), training continues from it, and a finished stack is
/// simply loaded. Returns `None` if the user interrupted it. Divergence of
/// a layer is an error; the last committed epoch stays the checkpoint.
pub fn pretrain_with_checkpoints(
    run: &RunDir,
    config: &StackConfig,
    data: &Tensor<2>,
    held_out: Option<&Tensor<2>>,
    renderer: &mut dyn MetricsRenderer,
    interrupter: &Interrupter,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    pretrain_recording_in(run, run, config, data, held_out, renderer, interrupter)
}

/// The stack of `config` that [`pretrain_with_checkpoints`] finished in
/// `run`, if it did (nothing is trained).
pub fn finished_stack(
    run: &RunDir,
    config: &StackConfig,
    device: &Device,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    let commit = run.last_commit(COMMIT)?;
    match commit.as_ref().and_then(|c| run.committed(c, "stack")) {
        Some(path) => {
            let stack = load_stack(&path, device)?;
            check_sizes(&path, &stack, config)?;
            Ok(Some(stack))
        }
        None => Ok(None),
    }
}

/// [`pretrain_with_checkpoints`] for a stack whose epoch records go to the
/// `metrics.jsonl` of `records` (a parent run: the generative DBN's top
/// RBM is committed under `top/`, its records kept with the run's).
pub fn pretrain_recording_in(
    run: &RunDir,
    records: &RunDir,
    config: &StackConfig,
    data: &Tensor<2>,
    held_out: Option<&Tensor<2>>,
    renderer: &mut dyn MetricsRenderer,
    interrupter: &Interrupter,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    let device = data.device();
    if let Some(stack) = finished_stack(run, config, &device)? {
        return Ok(Some(stack));
    }
    let commit = run.last_commit(COMMIT)?;
    run.subdir("pretrain")?;
    if let Some(commit) = &commit {
        // Records of epochs after the commit (a run stopped between an
        // epoch's record and its commit) are dropped: those epochs are done
        // again. A record is this stack's by its label's layer count and
        // the layer's sizes.
        let layer = commit.step_number("layer").unwrap_or(1);
        let epochs_done = commit.step_number("epochs_done").unwrap_or(0);
        let layers = config.layers.len();
        records.drop_records_after(|phase| {
            let l = pretrain_layer_of(phase, layers)?;
            let rbm = &config.layers.get(l.checked_sub(1)?)?.rbm;
            if !phase.ends_with(&format!("({}x{})", rbm.n_visible, rbm.n_hidden)) {
                return None;
            }
            Some(match l.cmp(&layer) {
                std::cmp::Ordering::Less => usize::MAX,
                std::cmp::Ordering::Equal => epochs_done,
                std::cmp::Ordering::Greater => 0,
            })
        })?;
    }
    let checkpoint = match &commit {
        Some(commit) => load_checkpoint(run, commit, config, &device)?,
        None => None,
    };
    let batch_size = config.layers[0].train.batch_size;
    let mut reporter = PretrainReporter::new(batch_size, interrupter.clone());
    let mut failure: Option<Box<dyn std::error::Error>> = None;
    let outcome = pretrain(config, data, held_out, checkpoint, |event| {
        let flow = reporter.report(renderer, &event);
        if let Err(e) = save_checkpoint(run, config, &event) {
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
            adopt_stack(run, &stack)?;
            Ok(Some(stack))
        }
        PretrainOutcome::Stopped => Ok(None),
    }
}

/// Takes the run's stack from the file it was given (`--pretrained`,
/// `--pretrained-lower`): checked against the hash recorded at the start,
/// cut to the configuration's layers, checked against its sizes, then
/// adopted ([`adopt_stack`]). Does nothing once adopted (a resume finds
/// the copy). Returns whether it adopted the file now.
pub fn adopt_pretrained(
    run: &RunDir,
    source: &PretrainedSource,
    config: &StackConfig,
    device: &Device,
) -> Result<bool, Box<dyn std::error::Error>> {
    if run.file(PRETRAINED_FILE).exists() {
        return Ok(false);
    }
    source.check_unchanged("stack")?;
    let path = &source.path;
    let mut stack = load_stack(path, device)?;
    stack.layers.truncate(config.layers.len());
    check_sizes(path, &stack, config)?;
    adopt_stack(run, &stack)?;
    Ok(true)
}

/// Makes `stack` the run's finished pretrained stack (for a stack that
/// was trained, or given with `--pretrained`): written, then committed.
pub fn adopt_stack(run: &RunDir, stack: &RbmStack) -> Result<(), Box<dyn std::error::Error>> {
    save_stack(stack, &run.file(PRETRAINED_FILE))?;
    run.commit(
        COMMIT,
        serde_json::json!({ "finished": true }),
        &[("stack", PRETRAINED_FILE)],
    )?;
    Ok(())
}

fn check_sizes(
    path: &std::path::Path,
    stack: &RbmStack,
    config: &StackConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    if stack.sizes() != config.sizes() {
        return Err(format!(
            "{}: the stack's sizes are {:?}, the run's configuration says {:?}",
            path.display(),
            stack.sizes(),
            config.sizes()
        )
        .into());
    }
    Ok(())
}

/// Writes and commits what a resumed run needs after an epoch or a
/// finished layer. File names carry the layer and epoch, so the previous
/// commit's files stay intact until the new commit is written.
fn save_checkpoint(
    run: &RunDir,
    config: &StackConfig,
    event: &PretrainEvent<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    match event {
        PretrainEvent::Epoch {
            layer,
            trainer,
            finished,
            ..
        } => {
            let epochs = trainer.epochs_done();
            let model = format!("pretrain/layer-{layer}-epoch-{epochs}.safetensors");
            let state = format!("pretrain/layer-{layer}-epoch-{epochs}-trainer.safetensors");
            save_rbm(
                trainer.rbm(),
                &config.layers[layer - 1].rbm,
                &run.file(&model),
            )?;
            save_trainer_state(&trainer.state(), &run.file(&state))?;
            let below = finished_file(*layer - 1);
            let mut files = vec![("model", model.as_str()), ("trainer", state.as_str())];
            if !finished.is_empty() {
                files.push(("finished", below.as_str()));
            }
            run.commit(
                COMMIT,
                serde_json::json!({ "layer": layer, "epochs_done": epochs }),
                &files,
            )?;
        }
        PretrainEvent::LayerFinished { layer, finished } => {
            let file = finished_file(*layer);
            save_stack(&RbmStack::new(finished.to_vec()), &run.file(&file))?;
            run.commit(
                COMMIT,
                serde_json::json!({ "layer": layer + 1, "epochs_done": 0 }),
                &[("finished", file.as_str())],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// The file of the first `layers` finished layers.
fn finished_file(layers: usize) -> String {
    format!("pretrain/finished-{layers}.safetensors")
}

fn load_checkpoint(
    run: &RunDir,
    commit: &Commit,
    config: &StackConfig,
    device: &Device,
) -> Result<Option<PretrainCheckpoint>, Box<dyn std::error::Error>> {
    let finished = match run.committed(commit, "finished") {
        Some(path) => load_stack(&path, device)?.layers,
        None => Vec::new(),
    };
    let current = match (
        run.committed(commit, "model"),
        run.committed(commit, "trainer"),
    ) {
        (Some(model), Some(state)) => {
            let (rbm, rbm_config) = load_rbm(&model, device)?;
            let layer = finished.len();
            if config.layers.get(layer).map(|l| &l.rbm) != Some(&rbm_config) {
                return Err(format!(
                    "{}: layer {} of the checkpoint is not the configuration's",
                    model.display(),
                    layer + 1
                )
                .into());
            }
            let state =
                load_trainer_state(&state, rbm_config.n_visible, rbm_config.n_hidden, device)?;
            Some((rbm, state))
        }
        _ => None,
    };
    if finished.is_empty() && current.is_none() {
        return Ok(None);
    }
    Ok(Some(PretrainCheckpoint { finished, current }))
}

/// The layer (1-based) of a pretraining record's phase label
/// `pretrain layer L/N (VxH)` of a stack of `layers` layers.
fn pretrain_layer_of(label: &str, layers: usize) -> Option<usize> {
    let (layer, rest) = label.strip_prefix("pretrain layer ")?.split_once('/')?;
    rest.starts_with(&format!("{layers} ("))
        .then(|| layer.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_weights_is_a_bad_weights_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.safetensors");
        std::fs::write(&path, b"not weights").unwrap();
        match PretrainedSource::from_path(&path) {
            Err(error @ RunError::BadWeights(_)) => {
                assert!(error.to_string().contains("notes.safetensors"), "{error}")
            }
            other => panic!("expected RunError::BadWeights, got {other:?}"),
        }
    }

    #[test]
    fn a_source_whose_file_changed_is_refused_naming_what_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.safetensors");
        let config = rbm::RbmConfig::new(4, 3);
        let model = config.init(&Device::flex(), 1);
        save_rbm(&model, &config, &path).unwrap();
        let source = PretrainedSource::from_path(&path).unwrap();
        source.check_unchanged("stack").unwrap();
        save_rbm(&config.init(&Device::flex(), 2), &config, &path).unwrap();
        let error = source.check_unchanged("stack").unwrap_err();
        assert!(matches!(error, RunError::BadFile { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("not the stack this run started from"),
            "{error}"
        );
    }
}
