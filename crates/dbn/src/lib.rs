//! Deep belief networks built from stacked RBMs.
//!
//! - [`ClassifierRecipe`]: the common path in about ten lines (greedy
//!   pretraining -> softmax head -> fine-tuning -> the chosen model);
//!   [`GenerativeRecipe`]: greedy layers -> top RBM over [features,
//!   labels] -> up-down -> (optionally) persistent CD of the top RBM -> a
//!   model that samples images of a label.
//! - [`StackConfig`] and [`pretrain`]: greedy layer-wise training, each RBM
//!   on the activations of the one below (Hinton, Osindero & Teh 2006).
//! - [`DbnClassifier`]: the stack as a Burn module with a softmax head,
//!   implementing burn-train's `TrainStep` and `InferenceStep` so Burn's
//!   `Learner` fine-tunes it with backprop; [`FinetuneConfig`] holds the
//!   optimiser and schedule.
//! - [`save_stack`] / [`save_classifier`]: safetensors with documented names.
//!
//! # Example: pretrain a small stack, convert it, classify
//! ```
//! use burn::prelude::*;
//! use dbn::{ClassifierConfig, DbnClassifier, PretrainOutcome, StackConfig, pretrain};
//! use rbm::TrainConfig;
//!
//! let device = Device::flex();
//! // 1. Data: 40 rows of 6 binary pixels; the class is whether the first half is on.
//! let rows: Vec<f32> = (0..40).flat_map(|i| {
//!     let on = (i % 2) as f32;
//!     [on, on, on, 1.0 - on, 1.0 - on, 1.0 - on]
//! }).collect();
//! let data = rbm::tensor_from_rows(&rows, 6, &device);
//! // 2. A 6-4-3 stack, 20 epochs of CD-1 per layer, validated up front.
//! let train = TrainConfig::new().with_epochs(20).with_batch_size(10);
//! let config = StackConfig::uniform(&[6, 4, 3], &train);
//! let PretrainOutcome::Finished(stack) = pretrain(&config, &data, None, None, |_| {
//!     std::ops::ControlFlow::Continue(())
//! })? else { unreachable!("the callback never stops") };
//! // 3. The classifier's hidden layers are the RBMs' up-pass.
//! let classifier = DbnClassifier::from_stack(&stack, 2, 7)?;
//! assert_eq!(classifier.config(), ClassifierConfig::new(vec![6, 4, 3], 2));
//! let logits = classifier.forward(data); // [40, 2]
//! assert_eq!(logits.dims(), [40, 2]);
//! # Ok::<(), dbn::DbnError>(())
//! ```

mod error;
pub mod finetune;
pub mod generative;
pub mod monitor;
mod recipe;
pub mod stack;
mod store;
pub mod theory;

pub use error::{DbnConfigError, DbnError};
pub use finetune::batch::{
    ClassificationBatch, ClassificationBatcher, LabelledImage, LabelledImages,
};
pub use finetune::classifier::{ClassifierConfig, DbnClassifier, Initialisation};
pub use finetune::config::{DecayScope, DropoutRates, FinetuneConfig, FinetuneMethod};
pub use finetune::conjugate::{ConjugateEpoch, Minimized, conjugate_gradient_epoch, minimize};
pub use finetune::net_recipe::{FinetunedNet, NetFinetuneConfig, NetMethod};
pub use finetune::sgd_net::{SgdNet, SgdStep, SgdTraining, epoch_order, for_each_net};
pub use generative::model::{
    DownPass, GenerativeDbn, SamplePlan, SampleStart, one_hot_rows, top_visible,
};
pub use generative::updown::{
    BatchComposition, NegativeLabels, TopStatistics, UpDownConfig, UpDownMetrics, UpDownStep,
    class_counts,
};
pub use recipe::{ClassifierRecipe, GenerativeRecipe, TrainedClassifier, TrainedGenerative};
pub use stack::config::{LayerConfig, Propagation, StackConfig};
pub use stack::model::{RbmStack, propagate};
pub use stack::pretrain::{PretrainCheckpoint, PretrainEvent, PretrainOutcome, pretrain};
pub use store::{
    CLASSIFIER_METADATA_KEY, GENERATIVE_METADATA_KEY, STACK_METADATA_KEY, load_classifier,
    load_generative, load_stack, save_classifier, save_generative, save_stack,
};
pub use theory::bound::{SampledBound, sampled_variational_bound, transposed, variational_bound};

#[cfg(test)]
mod tests;
