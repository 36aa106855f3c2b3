//! Greedy layer-wise pretraining (Hinton, Osindero & Teh 2006): train an
//! RBM on the data, treat its hidden activations as data, train the next.

use std::convert::Infallible;
use std::ops::ControlFlow;

use burn::prelude::*;
use rbm::{CdTrainer, DriveError, DriveEvent, EpochMetrics, Rbm, TrainerState, check_data};

use crate::error::DbnError;
use crate::stack::config::StackConfig;
use crate::stack::model::RbmStack;
use crate::stack::model::propagate;

/// What the pretraining reports to its callback. Layers are 1-based.
#[derive(Debug)]
pub enum PretrainEvent<'a> {
    /// A layer starts (or resumes) training on `rows` rows.
    LayerStarted {
        layer: usize,
        layers: usize,
        n_visible: usize,
        n_hidden: usize,
        epochs: usize,
        epochs_done: usize,
        rows: usize,
    },
    /// After each mini-batch update.
    Batch {
        layer: usize,
        epoch: usize,
        batch: usize,
        batches: usize,
    },
    /// After each epoch: the metrics, and everything a checkpoint needs
    /// (the finished layers below and the trainer of this one).
    Epoch {
        layer: usize,
        metrics: &'a EpochMetrics,
        finished: &'a [Rbm],
        trainer: &'a CdTrainer,
    },
    /// A layer is fully trained; `finished` now includes it.
    LayerFinished { layer: usize, finished: &'a [Rbm] },
}

/// The state of a greedy pretraining run, for resuming it: the finished
/// layers, and the layer in training with its trainer state, if any.
#[derive(Debug)]
pub struct PretrainCheckpoint {
    pub finished: Vec<Rbm>,
    pub current: Option<(Rbm, TrainerState)>,
}

/// How a pretraining run ended.
#[derive(Debug)]
pub enum PretrainOutcome {
    /// All layers trained.
    Finished(RbmStack),
    /// The callback asked to stop; the last `Epoch` event held the state to
    /// checkpoint.
    Stopped,
}

/// Trains the stack of `config` layer by layer on `data`, from scratch or
/// from `checkpoint`. `held_out` (optional) is propagated the same way and
/// monitored per epoch. The callback may return `ControlFlow::Break` to stop
/// after the current batch or epoch.
///
/// # Shapes
/// - data: `[rows, sizes[0]]`; held_out: `[rows', sizes[0]]`
pub fn pretrain(
    config: &StackConfig,
    data: &Tensor<2>,
    held_out: Option<&Tensor<2>>,
    checkpoint: Option<PretrainCheckpoint>,
    mut on_event: impl FnMut(PretrainEvent<'_>) -> ControlFlow<()>,
) -> Result<PretrainOutcome, DbnError> {
    config.validate()?;
    let first = &config.layers[0].rbm;
    let layer_error = |layer: usize| move |source| DbnError::Layer { layer, source };
    check_data(first.visible_units, data, first.n_visible, "training data")
        .map_err(layer_error(1))?;
    if let Some(held_out) = held_out {
        check_data(
            first.visible_units,
            held_out,
            first.n_visible,
            "held-out data",
        )
        .map_err(layer_error(1))?;
    }
    let device = data.device();
    let (mut finished, mut current) = match checkpoint {
        Some(c) => (c.finished, c.current),
        None => (Vec::new(), None),
    };
    check_checkpoint(config, &finished, current.as_ref())?;

    // The data of the first unfinished layer: the input propagated through
    // the finished layers (deterministic, or sampled with a fixed seed, so
    // a resumed run sees the same data).
    let mut layer_data = data.clone();
    let mut layer_held_out = held_out.cloned();
    for (index, layer) in finished.iter().enumerate() {
        layer_data = propagate(layer, index, layer_data, config.propagation);
        layer_held_out = layer_held_out.map(|h| layer.hidden_given_visible(h));
    }

    for index in finished.len()..config.layers.len() {
        let layer = index + 1;
        let layer_config = &config.layers[index];
        let mut trainer = match current.take() {
            Some((rbm, state)) => CdTrainer::resume(rbm, layer_config.train.clone(), state),
            None => CdTrainer::new(
                layer_config.rbm.init(&device, layer_config.train.seed),
                layer_config.train.clone(),
            ),
        }
        .map_err(layer_error(layer))?;
        if on_event(PretrainEvent::LayerStarted {
            layer,
            layers: config.layers.len(),
            n_visible: layer_config.rbm.n_visible,
            n_hidden: layer_config.rbm.n_hidden,
            epochs: layer_config.train.epochs,
            epochs_done: trainer.epochs_done(),
            rows: layer_data.dims()[0],
        })
        .is_break()
        {
            return Ok(PretrainOutcome::Stopped);
        }
        let flow = trainer
            .drive(&layer_data, layer_held_out.as_ref(), |event| {
                Ok::<_, Infallible>(on_event(match event {
                    DriveEvent::Batch {
                        epoch,
                        batch,
                        batches,
                    } => PretrainEvent::Batch {
                        layer,
                        epoch,
                        batch,
                        batches,
                    },
                    DriveEvent::Epoch { metrics, trainer } => PretrainEvent::Epoch {
                        layer,
                        metrics,
                        finished: &finished,
                        trainer,
                    },
                }))
            })
            .map_err(|e| match e {
                DriveError::Training(source) => DbnError::Layer { layer, source },
                DriveError::Callback(never) => match never {},
            })?;
        if flow.is_break() {
            return Ok(PretrainOutcome::Stopped);
        }
        let rbm = trainer.into_rbm();
        if index + 1 < config.layers.len() {
            layer_data = propagate(&rbm, index, layer_data, config.propagation);
            layer_held_out = layer_held_out.map(|h| rbm.hidden_given_visible(h));
        }
        finished.push(rbm);
        if on_event(PretrainEvent::LayerFinished {
            layer,
            finished: &finished,
        })
        .is_break()
            && index + 1 < config.layers.len()
        {
            return Ok(PretrainOutcome::Stopped);
        }
    }
    Ok(PretrainOutcome::Finished(RbmStack::new(finished)))
}

/// A checkpoint must hold layers of the configured sizes, in order.
fn check_checkpoint(
    config: &StackConfig,
    finished: &[Rbm],
    current: Option<&(Rbm, TrainerState)>,
) -> Result<(), DbnError> {
    let mismatch = |message: String| DbnError::CheckpointMismatch {
        path: "<pretraining checkpoint>".into(),
        message,
    };
    let held = finished.len() + usize::from(current.is_some());
    if held > config.layers.len() {
        return Err(mismatch(format!(
            "it holds {held} layers, the configuration has {}",
            config.layers.len()
        )));
    }
    let layers = finished.iter().chain(current.map(|(rbm, _)| rbm));
    for (index, rbm) in layers.enumerate() {
        let expected = &config.layers[index].rbm;
        if (rbm.n_visible(), rbm.n_hidden()) != (expected.n_visible, expected.n_hidden) {
            return Err(mismatch(format!(
                "layer {} is {}x{}, the configuration says {}x{}",
                index + 1,
                rbm.n_visible(),
                rbm.n_hidden(),
                expected.n_visible,
                expected.n_hidden
            )));
        }
    }
    Ok(())
}
