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

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::{MetricsRenderer, default_renderer};
use rbm::TrainConfig;

use crate::finetune::batch::LabelledImages;
use crate::finetune::classifier::DbnClassifier;
use crate::finetune::config::FinetuneConfig;
use crate::finetune::learner::{FINETUNE_PHASE, Selection, finetune};
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

    /// Trains the model on `images` and their labels: the lower layers
    /// greedily without labels, the top RBM on [features, one-hot labels],
    /// then the up-down epochs and the top RBM's persistent CD. Every
    /// setting is validated before any work.
    pub fn fit(
        &self,
        images: &LabelledImages,
        device: &Device,
    ) -> Result<crate::GenerativeDbn, Box<dyn std::error::Error>> {
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
            // A label beyond the classes is one_hot_rows' error, below.
            updown.check_class_counts(&crate::class_counts(images.labels(), self.classes))?;
        }
        if let Some(training) = &self.top_pcd {
            training.validate()?;
        }
        let (pixels, _) = images.tensors(device); // [rows, pixels]
        let classes: Vec<usize> = images.labels().iter().map(|&l| l as usize).collect();
        let one_hot = crate::one_hot_rows(&classes, self.classes, device)?; // [rows, classes]
        let finished = |outcome| match outcome {
            PretrainOutcome::Finished(stack) => Ok(stack),
            PretrainOutcome::Stopped => Err("pretraining stopped before its last layer"),
        };
        let never_stop = |_: crate::PretrainEvent<'_>| ControlFlow::Continue(());
        let lower = finished(pretrain(&lower_config, &pixels, None, None, never_stop)?)?;
        let joint =
            crate::generative::greedy::top_rbm_data(&lower, pixels.clone(), one_hot.clone());
        let top = finished(pretrain(&top_config, &joint, None, None, never_stop)?)?;
        let mut model = crate::GenerativeDbn::from_greedy(&lower, top.layers[0].clone())?;
        if let Some(updown) = &self.updown {
            let mut velocity = model.zero_velocity();
            for epoch in 0..updown.epochs {
                model.up_down_epoch(&mut velocity, &pixels, &one_hot, updown, epoch, |_, _| {})?;
            }
        }
        if let Some(training) = &self.top_pcd {
            let mut trainer = rbm::CdTrainer::new(model.top.clone(), training.clone())?;
            while trainer.epochs_done() < training.epochs {
                crate::generative::greedy::top_pcd_epoch(&model, &mut trainer, &pixels, &one_hot)?;
            }
            model.top = trainer.into_rbm();
        }
        Ok(model)
    }
}
