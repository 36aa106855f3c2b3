//! The up-down schedule of HOT 2006 as a driver: up-down epochs on the
//! training images with the validation error measured after each and the
//! best epoch remembered, then (optionally) a final phase on all training
//! images from the chosen model. The caller keeps the files: it is called
//! after every epoch with the model and the state to commit, and told when
//! an epoch becomes the best one.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::GenerativeDbn;
use super::updown::{UpDownConfig, UpDownMetrics};
use crate::error::DbnError;

/// Where an up-down schedule stands: what a checkpoint must hold to resume
/// it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpDownState {
    pub epochs_done: usize,
    /// The epoch with the lowest validation error so far (epoch 0: the
    /// greedy model); absent in runs from before it was kept.
    #[serde(default)]
    pub best: Option<BestEpoch>,
    /// Epochs of the final phase on all training images done.
    #[serde(default)]
    pub final_done: usize,
}

impl UpDownState {
    /// The state before any up-down epoch: the greedy model, with its
    /// validation error, is the best so far.
    pub fn start(greedy_valid_error_percent: f64) -> Self {
        Self {
            epochs_done: 0,
            best: Some(BestEpoch {
                epoch: 0,
                valid_error_percent: greedy_valid_error_percent,
            }),
            final_done: 0,
        }
    }
}

/// An epoch and its validation error (percent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    pub epoch: usize,
    pub valid_error_percent: f64,
}

/// Images with one-hot labels, on the device.
///
/// # Shapes
/// - images: `[rows, pixels]`, labels: `[rows, n_labels]`
#[derive(Debug, Clone)]
pub struct OneHotSet {
    pub images: Tensor<2>,
    pub labels: Tensor<2>,
}

/// What the driver reports after each epoch.
pub struct UpDownEpoch<'a> {
    pub metrics: &'a UpDownMetrics,
    /// Validation error in percent (up-down epochs; `None` in the final phase).
    pub valid_error: Option<f64>,
    /// This epoch's model became the best one (commit it as such).
    pub is_best: bool,
    pub model: &'a GenerativeDbn,
    pub state: &'a UpDownState,
}

/// Why the driver stopped: the model's own error, or the callback's.
#[derive(Debug)]
pub enum ScheduleError<E> {
    /// Divergence or bad data; `epochs_done` is the last good epoch.
    Training {
        source: DbnError,
        epochs_done: usize,
    },
    Callback(E),
}

/// Up-down epochs on `train` up to `config.epochs`, from `state` (a fresh
/// [`UpDownState::start`] or a checkpoint's), measuring the error on
/// `valid` (images and class indices) after each; an epoch at least as good
/// as the best so far becomes the best (ties go to the later epoch: more
/// training at equal validation error). A final phase done before is
/// discarded: it starts again from the new choice.
pub fn up_down_with_validation<E>(
    model: &mut GenerativeDbn,
    state: &mut UpDownState,
    config: &UpDownConfig,
    train: &OneHotSet,
    valid: (&Tensor<2>, &Tensor<1, Int>),
    mut on_epoch: impl FnMut(UpDownEpoch<'_>) -> Result<(), E>,
) -> Result<(), ScheduleError<E>> {
    while state.epochs_done < config.epochs {
        let metrics = model
            .up_down_epoch(
                &train.images,
                &train.labels,
                config,
                state.epochs_done,
                |_, _| {},
            )
            .map_err(|source| ScheduleError::Training {
                source,
                epochs_done: state.epochs_done,
            })?;
        state.epochs_done += 1;
        state.final_done = 0;
        let valid_error = 100.0 * model.error_rate(valid.0, valid.1, 1000);
        let is_best = state
            .best
            .is_none_or(|best| valid_error <= best.valid_error_percent);
        if is_best {
            state.best = Some(BestEpoch {
                epoch: state.epochs_done,
                valid_error_percent: valid_error,
            });
        }
        on_epoch(UpDownEpoch {
            metrics: &metrics,
            valid_error: Some(valid_error),
            is_best,
            model,
            state,
        })
        .map_err(ScheduleError::Callback)?;
    }
    Ok(())
}

/// HOT 2006's last step after choosing their net by validation: more
/// up-down epochs on all training images (`all`, validation ones included)
/// from the chosen `model`, up to `epochs` of them counted in
/// `state.final_done`. Their epoch numbers follow the up-down ones, so the
/// Gibbs steps are the schedule's last and the random stream is new.
pub fn final_phase<E>(
    model: &mut GenerativeDbn,
    state: &mut UpDownState,
    config: &UpDownConfig,
    all: &OneHotSet,
    epochs: usize,
    mut on_epoch: impl FnMut(UpDownEpoch<'_>) -> Result<(), E>,
) -> Result<(), ScheduleError<E>> {
    while state.final_done < epochs {
        let metrics = model
            .up_down_epoch(
                &all.images,
                &all.labels,
                config,
                config.epochs + state.final_done,
                |_, _| {},
            )
            .map_err(|source| ScheduleError::Training {
                source,
                epochs_done: state.final_done,
            })?;
        state.final_done += 1;
        on_epoch(UpDownEpoch {
            metrics: &metrics,
            valid_error: None,
            is_best: false,
            model,
            state,
        })
        .map_err(ScheduleError::Callback)?;
    }
    Ok(())
}
