//! The front door: the common path (greedy pretraining -> the stack as a
//! classifier with a softmax head -> fine-tuning with Burn's `Learner` ->
//! the chosen model) as one value with sensible defaults. The detailed
//! functions ([`crate::pretrain`], [`crate::learner::finetune`]) stay for
//! those who need resuming, checkpoints they manage or their own dashboard.
//!
//! ```
//! use burn::prelude::*;
//! use dbn::{ClassifierRecipe, FinetuneConfig, LabelledImages};
//! use rbm::TrainConfig;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 80 rows of 6 pixels, 2 classes: which half is on.
//! let labels: Vec<u8> = (0..80).map(|i| (i % 2) as u8).collect();
//! let pixels: Vec<f32> = labels.iter().flat_map(|&l| {
//!     let on = l as f32;
//!     [on, on, on, 1.0 - on, 1.0 - on, 1.0 - on]
//! }).collect();
//! let images = LabelledImages::new(pixels, labels, 6, 2, "toy images")?;
//! let trained = ClassifierRecipe::new(&[6, 4], 2)
//!     .with_pretraining(TrainConfig::new().with_epochs(10).with_batch_size(10))
//!     .with_finetuning(FinetuneConfig { max_epochs: 5, batch_size: 10, ..Default::default() })
//!     .fit(&images, &images, &Device::flex())?;
//! assert!(trained.error_rate(&images) < 0.5);
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::{MetricsRenderer, default_renderer};
use rbm::TrainConfig;

use crate::error::{DbnConfigError, DbnError};
use crate::finetune::batch::LabelledImages;
use crate::finetune::classifier::DbnClassifier;
use crate::finetune::config::FinetuneConfig;
use crate::finetune::learner::{FINETUNE_PHASE, Selection, finetune};
use crate::generative::model::GenerativeDbn;
use crate::generative::schedule::{
    OneHotSet, ScheduleError, UpDownState, final_phase, up_down_with_validation,
};
use crate::monitor::{Silent, recorder};
use crate::stack::config::StackConfig;
use crate::stack::model::RbmStack;
use crate::stack::pretrain::PretrainOutcome;
use crate::stack::pretrain::pretrain;

/// Everything the common path needs: layer sizes (inputs first), classes,
/// the CD recipe of every layer, the fine-tuning recipe, and where Burn's
/// `Learner` keeps its checkpoints.
#[derive(Debug, Clone)]
pub struct ClassifierRecipe {
    /// Inputs, then hidden layer sizes, e.g. `[784, 500, 500, 2000]`.
    pub layer_sizes: Vec<usize>,
    pub classes: usize,
    /// Greedy pretraining of each layer (default: CD-1 with
    /// [`TrainConfig::new`]'s values).
    pub pretraining: TrainConfig,
    /// Backprop fine-tuning (default: [`FinetuneConfig::default`]).
    pub finetuning: FinetuneConfig,
    /// Burn's `Learner` needs a directory for its checkpoints; by default a
    /// fresh one under the system's temporary directory, removed after
    /// [`ClassifierRecipe::fit`].
    pub checkpoint_dir: Option<PathBuf>,
    /// Show Burn's training dashboard (its TUI on a terminal); by default
    /// nothing is shown.
    pub dashboard: bool,
    /// Seed of the softmax head's initialisation.
    pub head_seed: u64,
}

/// What [`ClassifierRecipe::fit`] produced.
#[derive(Debug)]
pub struct TrainedClassifier {
    /// The greedily pretrained stack (before fine-tuning).
    pub stack: RbmStack,
    /// The fine-tuned classifier of the best validation epoch.
    pub classifier: DbnClassifier,
    /// That epoch (1-based) and its validation error rate.
    pub best_epoch: usize,
    pub valid_error: f64,
}

impl TrainedClassifier {
    /// The classifier's error rate (0-1) on `images`.
    pub fn error_rate(&self, images: &LabelledImages) -> f64 {
        let device = self.classifier.head.weight.device();
        let (x, y) = images.tensors(&device);
        self.classifier.error_rate(&x, &y, 1000)
    }
}

impl ClassifierRecipe {
    /// A recipe for `layer_sizes` (inputs first) and `classes`, with the
    /// default CD and fine-tuning settings.
    pub fn new(layer_sizes: &[usize], classes: usize) -> Self {
        Self {
            layer_sizes: layer_sizes.to_vec(),
            classes,
            pretraining: TrainConfig::new(),
            finetuning: FinetuneConfig::default(),
            checkpoint_dir: None,
            dashboard: false,
            head_seed: 1,
        }
    }

    pub fn with_pretraining(mut self, pretraining: TrainConfig) -> Self {
        self.pretraining = pretraining;
        self
    }

    pub fn with_finetuning(mut self, finetuning: FinetuneConfig) -> Self {
        self.finetuning = finetuning;
        self
    }

    pub fn with_checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    pub fn with_dashboard(mut self, dashboard: bool) -> Self {
        self.dashboard = dashboard;
        self
    }

    /// Pretrains the stack on `train`'s images (without labels), puts the
    /// softmax head on it and fine-tunes it, choosing the epoch with the
    /// lowest error on `valid`. Every setting is validated before any work.
    pub fn fit(
        &self,
        train: &LabelledImages,
        valid: &LabelledImages,
        device: &Device,
    ) -> Result<TrainedClassifier, Box<dyn std::error::Error>> {
        let stack_config = StackConfig::uniform(&self.layer_sizes, &self.pretraining);
        stack_config.validate()?;
        crate::finetune::classifier::ClassifierConfig::new(self.layer_sizes.clone(), self.classes)
            .validate()?;
        self.finetuning.validate()?;

        let (images, _) = train.tensors(device); // [rows, inputs]
        let PretrainOutcome::Finished(stack) =
            pretrain(&stack_config, &images, None, None, |_| {
                ControlFlow::Continue(())
            })?
        else {
            return Err("pretraining stopped before its last layer".into());
        };
        let classifier = DbnClassifier::from_stack(&stack, self.classes, self.head_seed)?;

        let interrupter = Interrupter::new();
        let inner: Box<dyn MetricsRenderer> = if self.dashboard {
            default_renderer(interrupter.clone(), None)
        } else {
            Box::new(Silent)
        };
        let (renderer, records) = recorder(inner, &interrupter, None);
        let temporary = self.checkpoint_dir.is_none();
        let dir = self.checkpoint_dir.clone().unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            std::env::temp_dir().join(format!(
                "deepbelief-finetune-{}-{nanos}",
                std::process::id()
            ))
        });
        let outcome = finetune(
            classifier,
            &self.finetuning,
            train.clone(),
            valid.clone(),
            &dir,
            None,
            renderer,
            &records,
            &interrupter,
            FINETUNE_PHASE,
            Selection::BestValidation,
        );
        if temporary {
            // Only the directory made here; failing to remove it loses nothing.
            let _ = std::fs::remove_dir_all(&dir);
        }
        let outcome = outcome?;
        if outcome.interrupted {
            return Err("fine-tuning was interrupted".into());
        }
        Ok(TrainedClassifier {
            stack,
            classifier: outcome.best,
            best_epoch: outcome.best_epoch,
            valid_error: outcome.best_valid_error,
        })
    }
}

/// The generative path in one value: greedy layers without labels, a top
/// RBM over [features, one softmax label group], then (optionally) up-down
/// epochs; the model samples images of a chosen label
/// ([`GenerativeDbn::sample`]) and classifies by free energy.
/// [`GenerativeRecipe::fit_with_validation`] is HOT 2006's whole schedule:
/// the up-down epoch chosen on validation images, then their final phase
/// on the training and validation images together.
///
/// ```
/// use burn::prelude::*;
/// use dbn::{GenerativeRecipe, LabelledImages, SamplePlan};
/// use rbm::{Sampler, TrainConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // 60 rows of 6 pixels, 2 classes: which half is on.
/// let labels: Vec<u8> = (0..60).map(|i| (i % 2) as u8).collect();
/// let pixels = labels.iter().flat_map(|&l| [l, l, l, 1 - l, 1 - l, 1 - l].map(f32::from)).collect();
/// let images = LabelledImages::new(pixels, labels, 6, 2, "toy images")?;
/// let cd = TrainConfig::new().with_epochs(30).with_batch_size(10);
/// let model = GenerativeRecipe::new(&[6, 4], 8, 2)
///     .with_lower_training(cd.clone())
///     .with_top_training(cd)
///     .fit(&images, &Device::flex())?;
/// let samples = model.sample(&[Some(1)], SamplePlan::new(100), &mut Sampler::new(1), 0, |_, _| {})?;
/// assert_eq!(samples.dims(), [1, 6]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct GenerativeRecipe {
    /// Pixels, then the lower hidden layer sizes, e.g. `[784, 500, 500]`.
    pub lower_sizes: Vec<usize>,
    /// Hidden units of the top RBM (its visible units: the last lower
    /// layer's features and the label group).
    pub top_hidden: usize,
    pub classes: usize,
    /// CD for each lower layer and for the top RBM (default:
    /// [`TrainConfig::new`]'s values).
    pub lower_training: TrainConfig,
    pub top_training: TrainConfig,
    /// Up-down epochs after the greedy layers (default: none).
    pub updown: Option<crate::UpDownConfig>,
    /// Persistent CD of the top RBM last, before sampling (default: none;
    /// [`crate::generative::greedy::top_pcd`] is this crate's recipe).
    pub top_pcd: Option<TrainConfig>,
    /// At most this many epochs of HOT's final phase after
    /// [`GenerativeRecipe::fit_with_validation`]'s choice (default 0: none).
    pub final_phase_epochs: usize,
}

impl GenerativeRecipe {
    pub fn new(lower_sizes: &[usize], top_hidden: usize, classes: usize) -> Self {
        Self {
            lower_sizes: lower_sizes.to_vec(),
            top_hidden,
            classes,
            lower_training: TrainConfig::new(),
            top_training: TrainConfig::new(),
            updown: None,
            top_pcd: None,
            final_phase_epochs: 0,
        }
    }

    pub fn with_lower_training(mut self, training: TrainConfig) -> Self {
        self.lower_training = training;
        self
    }

    pub fn with_top_training(mut self, training: TrainConfig) -> Self {
        self.top_training = training;
        self
    }

    pub fn with_updown(mut self, updown: crate::UpDownConfig) -> Self {
        self.updown = Some(updown);
        self
    }

    /// Persistent CD of the top RBM after up-down, each epoch on a fresh
    /// stochastic up-pass ([`crate::generative::greedy::top_pcd_epoch`]).
    pub fn with_top_pcd(mut self, training: TrainConfig) -> Self {
        self.top_pcd = Some(training);
        self
    }

    /// HOT 2006's final phase, for [`GenerativeRecipe::fit_with_validation`]:
    /// up-down on the training and validation images together, from the
    /// chosen epoch's model, until their training error is as low as the
    /// chosen epoch's on the training images, at most `max_epochs` epochs
    /// (HOT needed 59; 0: no final phase).
    pub fn with_final_phase(mut self, max_epochs: usize) -> Self {
        self.final_phase_epochs = max_epochs;
        self
    }

    /// Trains the model on `images` and their labels: the lower layers
    /// greedily without labels, the top RBM on [features, one-hot labels],
    /// then the up-down epochs and the top RBM's persistent CD. Every
    /// setting is validated before any work; a final phase is refused
    /// ([`DbnConfigError::FinalPhaseWithoutValidation`]): its goal comes
    /// from a choice on validation.
    pub fn fit(
        &self,
        images: &LabelledImages,
        device: &Device,
    ) -> Result<GenerativeDbn, Box<dyn std::error::Error>> {
        if self.final_phase_epochs > 0 {
            return Err(DbnConfigError::FinalPhaseWithoutValidation.into());
        }
        let configs = self.checked_configs(images)?;
        let train = one_hot_set(images, self.classes, "training images", device)?;
        let mut model = self.greedy(&configs, &train)?;
        if let Some(updown) = &self.updown {
            let mut velocity = model.zero_velocity();
            for epoch in 0..updown.epochs {
                model.up_down_epoch(
                    &mut velocity,
                    &train.images,
                    &train.labels,
                    updown,
                    epoch,
                    |_, _| {},
                )?;
            }
        }
        self.top_pcd_phase(&mut model, &train)?;
        Ok(model)
    }

    /// HOT 2006's schedule: the greedy layers and the up-down epochs on
    /// `train`, the error on `valid` measured for the greedy model and
    /// after every epoch, the model of the lowest kept (ties to the later
    /// epoch, [`up_down_with_validation`]); then, with
    /// [`GenerativeRecipe::with_final_phase`], HOT's final phase on `train`
    /// and `valid` together ([`final_phase`]), and last the top RBM's
    /// persistent CD on `train` if configured. Every setting and both sets
    /// are checked before any work; without up-down epochs there is
    /// nothing to choose ([`DbnConfigError::ValidationWithoutUpDown`]).
    ///
    /// ```
    /// use burn::prelude::*;
    /// use dbn::generative::greedy::{UpDownRates, hot_updown};
    /// use dbn::{GenerativeRecipe, LabelledImages};
    /// use rbm::TrainConfig;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Which half of 6 pixels is on: 40 training and 20 validation rows.
    /// let halves = |rows: usize, what| {
    ///     let labels: Vec<u8> = (0..rows).map(|i| (i % 2) as u8).collect();
    ///     let pixels = labels.iter().flat_map(|&l| [l, l, l, 1 - l, 1 - l, 1 - l].map(f32::from)).collect();
    ///     LabelledImages::new(pixels, labels, 6, 2, what)
    /// };
    /// let (train, valid) = (halves(40, "training images")?, halves(20, "validation images")?);
    /// let cd = TrainConfig::new().with_epochs(20).with_batch_size(10);
    /// let rates = UpDownRates { learning_rate: 0.03, momentum: 0.9, weight_decay: 2e-4 };
    /// let trained = GenerativeRecipe::new(&[6, 4], 8, 2)
    ///     .with_lower_training(cd.clone())
    ///     .with_top_training(cd)
    ///     .with_updown(hot_updown(6, 2, rates, 1)) // HOT's batches: 10 of each class
    ///     .with_final_phase(10)
    ///     .fit_with_validation(&train, &valid, &Device::flex())?;
    /// assert_eq!(trained.valid_errors.len(), 6 + 1); // the greedy model, then each epoch
    /// assert!(trained.final_train_errors.len() <= 10);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fit_with_validation(
        &self,
        train: &LabelledImages,
        valid: &LabelledImages,
        device: &Device,
    ) -> Result<TrainedGenerative, Box<dyn std::error::Error>> {
        let Some(updown) = &self.updown else {
            return Err(DbnConfigError::ValidationWithoutUpDown.into());
        };
        let configs = self.checked_configs(train)?;
        if valid.is_empty() {
            return Err(DbnError::EmptyData {
                what: "validation images",
            }
            .into());
        }
        if valid.width() != train.width() {
            return Err(DbnError::DataWidth {
                what: "validation images",
                expected: train.width(),
                found: valid.width(),
            }
            .into());
        }
        let valid_set = one_hot_set(valid, self.classes, "validation images", device)?;
        let train_set = one_hot_set(train, self.classes, "training images", device)?;
        let valid_images = valid_set.images.clone(); // [rows, pixels]
        let valid_labels = valid_set.labels.clone().argmax(1).squeeze_dim::<1>(1); // [rows]

        let mut model = self.greedy(&configs, &train_set)?;
        let greedy_error = 100.0 * model.error_rate(&valid_images, &valid_labels, 1000);
        let mut state = UpDownState::start(greedy_error);
        let mut velocity = model.zero_velocity();
        let mut valid_errors = vec![greedy_error];
        let mut best = model.clone();
        up_down_with_validation(
            &mut model,
            &mut velocity,
            &mut state,
            updown,
            &train_set,
            (&valid_images, &valid_labels),
            |epoch| -> Result<(), Infallible> {
                valid_errors.push(epoch.valid_error.unwrap_or(f64::NAN));
                if epoch.is_best {
                    best = epoch.model.clone();
                }
                Ok(())
            },
        )
        .map_err(training_error)?;
        state.measure_best_train_error(&best, &train_set);
        let chosen = state.best.expect("set at the start");
        let mut model = best;

        let mut final_train_errors = Vec::new();
        if self.final_phase_epochs > 0 {
            let all = OneHotSet {
                images: Tensor::cat(vec![train_set.images.clone(), valid_set.images], 0),
                labels: Tensor::cat(vec![train_set.labels.clone(), valid_set.labels], 0),
            };
            // A fresh velocity, as the run's final phase starts from the
            // chosen epoch's parameters alone.
            let mut velocity = model.zero_velocity();
            final_phase(
                &mut model,
                &mut velocity,
                &mut state,
                updown,
                &all,
                self.final_phase_epochs,
                |epoch| -> Result<(), Infallible> {
                    let error = epoch.state.final_train_error_percent;
                    final_train_errors.push(error.unwrap_or(f64::NAN));
                    Ok(())
                },
            )
            .map_err(training_error)?;
        }
        self.top_pcd_phase(&mut model, &train_set)?;
        Ok(TrainedGenerative {
            model,
            valid_errors,
            best_epoch: chosen.epoch,
            best_train_error: chosen.train_error_percent.unwrap_or(f64::NAN),
            final_train_errors,
            final_goal_met: state.final_reached(),
        })
    }

    /// The lower stack's and the top RBM's configurations, every setting
    /// checked (up-down's batches against `train`'s classes) before any
    /// work.
    fn checked_configs(
        &self,
        train: &LabelledImages,
    ) -> Result<(StackConfig, StackConfig), Box<dyn std::error::Error>> {
        let lower_config = StackConfig::uniform(&self.lower_sizes, &self.lower_training);
        lower_config.validate()?;
        let features = *self.lower_sizes.last().expect("validated: layers");
        let top_config = crate::generative::greedy::top_stack(
            features,
            self.classes,
            self.top_hidden,
            &self.top_training,
        );
        top_config.validate()?;
        if let Some(updown) = &self.updown {
            updown.validate()?;
            // A label beyond the classes is one_hot_rows' error, later.
            updown.check_class_counts(&crate::class_counts(train.labels(), self.classes))?;
        }
        if let Some(training) = &self.top_pcd {
            training.validate()?;
        }
        Ok((lower_config, top_config))
    }

    /// The greedy model: the lower layers on `train`'s images without
    /// labels, the top RBM on [their features, one-hot labels].
    fn greedy(
        &self,
        (lower_config, top_config): &(StackConfig, StackConfig),
        train: &OneHotSet,
    ) -> Result<GenerativeDbn, Box<dyn std::error::Error>> {
        let finished = |outcome| match outcome {
            PretrainOutcome::Finished(stack) => Ok(stack),
            PretrainOutcome::Stopped => Err("pretraining stopped before its last layer"),
        };
        let never_stop = |_: crate::PretrainEvent<'_>| ControlFlow::Continue(());
        let lower = finished(pretrain(
            lower_config,
            &train.images,
            None,
            None,
            never_stop,
        )?)?;
        let joint = crate::generative::greedy::top_rbm_data(
            &lower,
            train.images.clone(),
            train.labels.clone(),
        );
        let top = finished(pretrain(top_config, &joint, None, None, never_stop)?)?;
        Ok(GenerativeDbn::from_greedy(&lower, top.layers[0].clone())?)
    }

    /// The top RBM's persistent CD on `train`, if configured.
    fn top_pcd_phase(
        &self,
        model: &mut GenerativeDbn,
        train: &OneHotSet,
    ) -> Result<(), Box<dyn std::error::Error>> {
        if let Some(training) = &self.top_pcd {
            let mut trainer = rbm::CdTrainer::new(model.top.clone(), training.clone())?;
            while trainer.epochs_done() < training.epochs {
                crate::generative::greedy::top_pcd_epoch(
                    model,
                    &mut trainer,
                    &train.images,
                    &train.labels,
                )?;
            }
            model.top = trainer.into_rbm();
        }
        Ok(())
    }
}

/// What [`GenerativeRecipe::fit_with_validation`] produced: the chosen
/// model (after the final phase and the persistent CD, if configured) and
/// the evidence of the choice.
#[derive(Debug)]
pub struct TrainedGenerative {
    pub model: GenerativeDbn,
    /// The error on the validation images (percent) of the greedy model,
    /// then after each up-down epoch: `valid_errors[e]` is epoch `e`'s.
    pub valid_errors: Vec<f64>,
    /// The chosen epoch (0: the greedy model), the last of the lowest
    /// validation errors.
    pub best_epoch: usize,
    /// The chosen epoch's error on the training images (percent): the
    /// final phase's goal.
    pub best_train_error: f64,
    /// The error (percent) on the training and validation images together
    /// after each epoch of the final phase (empty without one).
    pub final_train_errors: Vec<f64>,
    /// The final phase reached its goal (false where it ran to its bound,
    /// or did not run).
    pub final_goal_met: bool,
}

/// `images` and their one-hot labels on `device`.
///
/// # Shapes
/// - images: `[rows, pixels]`, labels: `[rows, classes]`
///
/// # Errors
/// [`DbnError::ClassOutOfRange`] naming `what` for a label not below
/// `classes`.
fn one_hot_set(
    images: &LabelledImages,
    classes: usize,
    what: &'static str,
    device: &Device,
) -> Result<OneHotSet, DbnError> {
    let indices: Vec<usize> = images.labels().iter().map(|&l| l as usize).collect();
    let labels = crate::one_hot_rows(&indices, classes, device).map_err(|e| match e {
        DbnError::ClassOutOfRange {
            row,
            label,
            classes,
            ..
        } => DbnError::ClassOutOfRange {
            what,
            row,
            label,
            classes,
        },
        other => other,
    })?;
    let (pixels, _) = images.tensors(device);
    Ok(OneHotSet {
        images: pixels,
        labels,
    })
}

/// The model's own error from a schedule whose callback cannot fail.
fn training_error(error: ScheduleError<Infallible>) -> DbnError {
    match error {
        ScheduleError::Training { source, .. } => source,
        ScheduleError::Callback(never) => match never {},
    }
}
