use std::path::PathBuf;

use rbm::{ConfigError, RbmError};

/// A DBN hyperparameter that breaks a rule. One variant per rule, checked
/// up front by the `validate` methods before any work is done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DbnConfigError {
    #[error("a stack needs at least one layer")]
    NoLayers,
    #[error(
        "hidden layer {layer} is not logistic (binary units): SgdNet's backward pass is for logistic layers only"
    )]
    NotLogistic { layer: usize },
    #[error("layer {layer}: n_visible is {found}, but the layer below has {expected} hidden units")]
    LayerSizeMismatch {
        layer: usize,
        expected: usize,
        found: usize,
    },
    #[error(
        "layer {layer}: visible units are {found}, but the layer below has {below} hidden units \
         (its activations are this layer's data)"
    )]
    UnitKindMismatch {
        layer: usize,
        below: String,
        found: String,
    },
    #[error("layer {layer}: {source}")]
    InvalidLayer {
        layer: usize,
        #[source]
        source: ConfigError,
    },
    #[error("a classifier needs at least an input size and one hidden layer, found {0} size(s)")]
    TooFewLayerSizes(usize),
    #[error("layer size {index} is 0; every layer needs at least one unit")]
    ZeroLayerSize { index: usize },
    #[error("hidden_units lists {found} unit kinds for {expected} hidden layers")]
    UnitKindCount { expected: usize, found: usize },
    #[error("layer size {index} is {found}, above the limit of {max} units")]
    LayerTooLarge {
        index: usize,
        found: usize,
        max: usize,
    },
    #[error(
        "layers {index} and {next} need {inputs} x {outputs} weights, above the limit of {max}"
    )]
    TooManyWeights {
        index: usize,
        next: usize,
        inputs: usize,
        outputs: usize,
        max: usize,
    },
    #[error("a classifier needs at least 2 classes, found {0}")]
    TooFewClasses(usize),
    #[error("fine-tuning learning_rate must be in (0, 1], found {0}")]
    InvalidLearningRate(f64),
    #[error("fine-tuning lr_decay must be in (0, 1], found {0}")]
    InvalidLrDecay(f64),
    #[error("fine-tuning momentum must be in [0, 1), found {0}")]
    MomentumOutOfRange(f64),
    #[error("fine-tuning weight_decay must be non-negative and finite, found {0}")]
    InvalidWeightDecay(f64),
    #[error("SgdNet fine-tuning learning_rate must be positive and finite, found {0}")]
    NetLearningRate(f64),
    #[error("head_epochs ({head_epochs}) must be at most the fine-tuning epochs ({epochs})")]
    HeadEpochsAboveEpochs { head_epochs: usize, epochs: usize },
    #[error("a fine-tuning patience needs validation rows to count epochs without improvement")]
    PatienceWithoutValidation,
    #[error(
        "a final pass trains the epoch chosen on validation rows on all rows: it needs validation rows"
    )]
    FinalPassWithoutValidation,
    #[error("conjugate gradients need at least one line search per batch")]
    ZeroLineSearches,
    #[error(
        "conjugate-gradient fine-tuning has no weight decay or dropout (as backpropclassify.m); found weight decay {weight_decay}, dropout {dropout:?}"
    )]
    ConjugateGradientRegulariser {
        weight_decay: f64,
        dropout: crate::finetune::config::DropoutRates,
    },
    #[error("fine-tuning batch_size must be at least 1")]
    ZeroBatchSize,
    #[error("fine-tuning max_epochs must be at least 1")]
    ZeroEpochs,
    #[error("fine-tuning patience must be at least 1 epoch (or none to disable early stopping)")]
    ZeroPatience,
    #[error("{layer} dropout probability must be in [0, 1), found {probability}")]
    InvalidDropout {
        layer: &'static str,
        probability: f64,
    },
    #[error("the Gibbs schedule needs k >= 1 and strictly increasing start epochs")]
    InvalidGibbsSchedule,
    #[error("up-down momentum must be in [0, 1), found {0}")]
    UpDownMomentumOutOfRange(f64),
    #[error(
        "choosing an up-down epoch on validation needs up-down epochs (GenerativeRecipe::with_updown)"
    )]
    ValidationWithoutUpDown,
    #[error(
        "HOT's final phase trains until the training error of the up-down epoch chosen on validation is reached: it needs GenerativeRecipe::fit_with_validation, not fit"
    )]
    FinalPhaseWithoutValidation,
}

/// Errors from the DBN crate's operations.
#[derive(Debug, thiserror::Error)]
pub enum DbnError {
    #[error(transparent)]
    Config(#[from] DbnConfigError),

    /// An error while training or checking one layer (1-based).
    #[error("layer {layer}: {source}")]
    Layer {
        layer: usize,
        #[source]
        source: RbmError,
    },

    #[error(transparent)]
    Rbm(#[from] RbmError),

    #[error("{what}: expected {expected} columns, found {found}")]
    DataWidth {
        what: &'static str,
        expected: usize,
        found: usize,
    },

    #[error("{what}: {images} images but {labels} labels")]
    LabelCount {
        what: &'static str,
        images: usize,
        labels: usize,
    },

    #[error("{what}: label {label} at row {row} is not below the number of classes {classes}")]
    LabelOutOfRange {
        what: &'static str,
        row: usize,
        label: u8,
        classes: usize,
    },

    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },

    #[error("generative DBN: {0}")]
    BadTop(String),

    #[error("{what}: class {label} at row {row} is not below the number of classes {classes}")]
    ClassOutOfRange {
        what: &'static str,
        row: usize,
        label: usize,
        classes: usize,
    },

    #[error("{what}: the data set is empty")]
    EmptyData { what: &'static str },

    #[error("{phase} diverged at epoch {epoch}: {quantity} became {value} ({rule})")]
    Diverged {
        phase: &'static str,
        epoch: usize,
        quantity: &'static str,
        value: f64,
        rule: String,
    },

    #[error(
        "{what}: class-balanced batches of {batch_size} need a batch size that is a multiple of the {classes} classes, each class with at least {per_class} images (class {class} has {found})"
    )]
    UnbalanceableBatches {
        what: &'static str,
        batch_size: usize,
        classes: usize,
        per_class: usize,
        class: usize,
        found: usize,
    },

    #[error("up-down velocity: {0}")]
    VelocityMismatch(String),

    #[error("{path}: the checkpoint does not match the configuration: {message}")]
    CheckpointMismatch { path: PathBuf, message: String },
}
