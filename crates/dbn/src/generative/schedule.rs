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
    /// The training error on all training images after the last final
    /// epoch (percent; absent before one, and in older runs).
    #[serde(default)]
    pub final_train_error_percent: Option<f64>,
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
                train_error_percent: None,
            }),
            final_done: 0,
            final_train_error_percent: None,
        }
    }

    /// The final phase's goal: HOT's rule, the chosen epoch's training
    /// error (percent), if it was measured.
    pub fn final_target(&self) -> Option<f64> {
        self.best.and_then(|b| b.train_error_percent)
    }

    /// Measures the chosen epoch's error on `train` (percent), the final
    /// phase's goal, with `best_model`, the chosen epoch's model, unless
    /// it is already known.
    pub fn measure_best_train_error(&mut self, best_model: &GenerativeDbn, train: &OneHotSet) {
        if let Some(best) = &mut self.best
            && best.train_error_percent.is_none()
        {
            best.train_error_percent = Some(train.error_percent(best_model));
        }
    }

    /// The final phase has reached its goal.
    pub fn final_reached(&self) -> bool {
        matches!(
            (self.final_train_error_percent, self.final_target()),
            (Some(error), Some(target)) if error <= target
        )
    }
}

/// An epoch and its validation error (percent).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    pub epoch: usize,
    pub valid_error_percent: f64,
    /// Its error on the training images (percent): the final phase's goal
    /// (absent in older runs).
    #[serde(default)]
    pub train_error_percent: Option<f64>,
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

impl OneHotSet {
    /// The free-energy classification error of `model` on the set, percent.
    pub fn error_percent(&self, model: &GenerativeDbn) -> f64 {
        let classes = self.labels.clone().argmax(1).squeeze_dim::<1>(1);
        100.0 * model.error_rate(&self.images, &classes, 1000)
    }
}

/// What the driver reports after each epoch.
pub struct UpDownEpoch<'a> {
    pub metrics: &'a UpDownMetrics,
    /// Validation error in percent (up-down epochs; `None` in the final phase).
    pub valid_error: Option<f64>,
    /// This epoch's model became the best one (commit it as such).
    pub is_best: bool,
    pub model: &'a GenerativeDbn,
    /// The velocity of every parameter (to commit beside the model).
    pub velocity: &'a GenerativeDbn,
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
/// training at equal validation error). Its error on `train`, the final
/// phase's goal, is left to [`UpDownState::measure_best_train_error`]
/// once the choice is final (measured at every new best, it took 4.4 of
/// the `quick` preset's 16.2 minutes of up-down on 2 cores). A final
/// phase done before is discarded: it starts again from the new choice.
pub fn up_down_with_validation<E>(
    model: &mut GenerativeDbn,
    velocity: &mut GenerativeDbn,
    state: &mut UpDownState,
    config: &UpDownConfig,
    train: &OneHotSet,
    valid: (&Tensor<2>, &Tensor<1, Int>),
    mut on_epoch: impl FnMut(UpDownEpoch<'_>) -> Result<(), E>,
) -> Result<(), ScheduleError<E>> {
    while state.epochs_done < config.epochs {
        let metrics = model
            .up_down_epoch(
                velocity,
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
        state.final_train_error_percent = None;
        let valid_error = 100.0 * model.error_rate(valid.0, valid.1, 1000);
        let is_best = state
            .best
            .is_none_or(|best| valid_error <= best.valid_error_percent);
        if is_best {
            state.best = Some(BestEpoch {
                epoch: state.epochs_done,
                valid_error_percent: valid_error,
                train_error_percent: None,
            });
        }
        on_epoch(UpDownEpoch {
            metrics: &metrics,
            valid_error: Some(valid_error),
            is_best,
            model,
            velocity,
            state,
        })
        .map_err(ScheduleError::Callback)?;
    }
    Ok(())
}

/// HOT 2006's last step after choosing their net by validation: more
/// up-down epochs on all training images (`all`, validation ones included)
/// from the chosen `model` "until its error rate on the full training set
/// was as low as its final error rate had been on the initial training
/// set" ([`UpDownState::final_target`]; without a measured goal, all
/// `max_epochs` run), at most `max_epochs` of them, counted in
/// `state.final_done`, with the training error on `all` measured after
/// each. Their epoch numbers follow the up-down ones, so the Gibbs steps
/// are the schedule's last and the random stream is new; `velocity`
/// starts as the caller gives it (zeros for a new final phase).
pub fn final_phase<E>(
    model: &mut GenerativeDbn,
    velocity: &mut GenerativeDbn,
    state: &mut UpDownState,
    config: &UpDownConfig,
    all: &OneHotSet,
    max_epochs: usize,
    mut on_epoch: impl FnMut(UpDownEpoch<'_>) -> Result<(), E>,
) -> Result<(), ScheduleError<E>> {
    while state.final_done < max_epochs && !state.final_reached() {
        let metrics = model
            .up_down_epoch(
                velocity,
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
        state.final_train_error_percent = Some(all.error_percent(model));
        on_epoch(UpDownEpoch {
            metrics: &metrics,
            valid_error: None,
            is_best: false,
            model,
            velocity,
            state,
        })
        .map_err(ScheduleError::Callback)?;
    }
    Ok(())
}
