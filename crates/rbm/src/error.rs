use std::path::PathBuf;

/// A hyperparameter that breaks a rule. One variant per rule, each checked
/// up front by a `validate` method before any work is done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("n_visible must be at least 1")]
    ZeroVisible,
    #[error("n_hidden must be at least 1")]
    ZeroHidden,
    #[error("{layer} is {found}, above the limit of {max} units per layer")]
    TooManyUnits {
        layer: &'static str,
        found: usize,
        max: usize,
    },
    #[error(
        "{n_visible} x {n_hidden} weights exceed the limit of {max} per RBM \
         (4 bytes each, allocated on the device)"
    )]
    TooManyWeights {
        n_visible: usize,
        n_hidden: usize,
        max: usize,
    },
    #[error("init_std must be positive and finite, found {0}")]
    InvalidInitStd(f64),
    #[error("stepped sigmoid units need at least 1 copy")]
    ZeroCopies,
    #[error("a softmax group needs at least 2 units, found {0}")]
    SoftmaxGroupTooSmall(usize),
    #[error("a layer of {units} units cannot hold a softmax group of {group} and any binary unit")]
    SoftmaxGroupTooLarge { group: usize, units: usize },
    #[error(
        "{visible} visible units cannot be paired with {hidden} hidden units: \
         with both layers unbounded the model has no normaliser"
    )]
    InvalidUnitPairing { visible: String, hidden: String },
    #[error("visible_sigma is only for Gaussian visible units, not {0} units")]
    SigmaWithoutGaussian(String),
    #[error("sigma range must satisfy 0 < min <= max (finite), found [{min}, {max}]")]
    InvalidSigmaRange { min: f64, max: f64 },
    #[error("initial sigma must lie within [{min}, {max}], found {initial}")]
    InvalidSigma { initial: f64, min: f64, max: f64 },
    #[error("sigma_learning_rate must be positive and finite, found {0}")]
    InvalidSigmaLearningRate(f64),
    #[error("k (Gibbs steps per update) must be at least 1")]
    ZeroGibbsSteps,
    #[error("batch_size must be at least 1")]
    ZeroBatchSize,
    #[error("epochs must be at least 1")]
    ZeroEpochs,
    #[error("learning_rate must be positive and finite, found {0}")]
    InvalidLearningRate(f64),
    #[error("final_learning_rate must be in (0, learning_rate], found {0}")]
    InvalidFinalLearningRate(f64),
    #[error("{name} must be in [0, 1), found {value}")]
    MomentumOutOfRange { name: &'static str, value: f64 },
    #[error("weight_decay must be non-negative and finite, found {0}")]
    InvalidWeightDecay(f64),
    #[error("sparsity target must be in (0, 1), found {0}")]
    SparsityTargetOutOfRange(f64),
    #[error("sparsity cost must be non-negative and finite, found {0}")]
    InvalidSparsityCost(f64),
    #[error("sparsity decay must be in [0, 1), found {0}")]
    SparsityDecayOutOfRange(f64),
    #[error("AIS needs at least 1 run, found 0")]
    ZeroAisRuns,
    #[error(
        "AIS inverse temperatures must increase strictly from 0 to 1 \
         ({problem})"
    )]
    InvalidAisSchedule { problem: String },
}

/// Errors from the RBM crate's operations: bad data, bad files, or a
/// configuration that fails validation.
#[derive(Debug, thiserror::Error)]
pub enum RbmError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("{what}: expected {expected} columns (visible units), found {found}")]
    DataWidth {
        what: &'static str,
        expected: usize,
        found: usize,
    },

    #[error("{what}: the data set is empty")]
    EmptyData { what: &'static str },

    #[error(
        "{what}: {count} value(s) outside [{low}, {high}] for {units} visible units, e.g. {example}"
    )]
    DataOutOfRange {
        what: &'static str,
        count: usize,
        example: f32,
        units: String,
        low: f32,
        high: f32,
    },

    #[error("{what}: {count} value(s) are NaN or infinite")]
    NonFiniteData { what: &'static str, count: usize },

    #[error(
        "exact enumeration needs the smaller layer to have at most {max} units, \
         but it has {found}"
    )]
    TooLargeToEnumerate { max: usize, found: usize },

    #[error("not supported: {what}")]
    Unsupported { what: &'static str },

    #[error("training diverged at epoch {epoch}: {quantity} became {value} ({rule})")]
    Diverged {
        epoch: usize,
        quantity: &'static str,
        value: f64,
        /// The rule that was broken, in words.
        rule: String,
    },

    #[error("{quantity} is not a finite number ({value}): the model or the data are broken")]
    NotFinite { quantity: &'static str, value: f64 },

    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: invalid configuration JSON: {message}")]
    BadConfigFile { path: PathBuf, message: String },

    #[error("{path}: {message}")]
    BadWeightsFile { path: PathBuf, message: String },
}
