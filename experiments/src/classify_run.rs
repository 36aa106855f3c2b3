//! The configuration of an `mnist-classify` run and its presets.

use std::path::Path;

use dbn::{DropoutRates, FinetuneConfig, StackConfig};
use rbm::{SigmaConfig, TrainConfig, UnitKind};
use serde::{Deserialize, Serialize};

use crate::data::DataSpec;

/// The CD recipe of Hinton & Salakhutdinov (2006) for each layer: CD-1,
/// learning rate 0.1, momentum 0.5 then 0.9 from epoch 5, weight decay
/// 2e-4, batches of 100; the classifier presets, the pretraining study and
/// the few-label sweep all pretrain with it.
pub fn paper_cd_recipe(epochs: usize) -> TrainConfig {
    TrainConfig::new()
        .with_epochs(epochs)
        .with_k(1)
        .with_learning_rate(0.1)
        .with_initial_momentum(0.5)
        .with_final_momentum(0.9)
        .with_momentum_switch_epoch(5)
        .with_weight_decay(2e-4)
        .with_batch_size(100)
}

/// Named recipes for `mnist-classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifyPreset {
    /// 784-500-500-10, 5 pretraining epochs per layer, fine-tuning to early
    /// stop within 30 epochs: under 10 minutes on 2 cores.
    Quick,
    /// Hinton & Salakhutdinov (2006): 784-500-500-2000-10, 50 epochs of CD-1
    /// per layer (learning rate 0.1, momentum 0.5 then 0.9, weight decay
    /// 2e-4, batches of 100); then 5 epochs of the head alone and
    /// fine-tuning with dropout (inputs 0.1, hidden units 0.25; learning
    /// rate 0.1 decaying by 0.97 per epoch) to early stop within 60 epochs
    /// (patience 20), and 10 epochs on all 60,000 images.
    Paper,
}

impl ClassifyPreset {
    /// Hidden layer sizes.
    pub fn hidden_sizes(self) -> Vec<usize> {
        match self {
            ClassifyPreset::Quick => vec![500, 500],
            ClassifyPreset::Paper => vec![500, 500, 2000],
        }
    }

    /// CD training of every layer.
    pub fn pretrain(self) -> TrainConfig {
        let epochs = match self {
            ClassifyPreset::Quick => 5,
            ClassifyPreset::Paper => 50,
        };
        paper_cd_recipe(epochs)
    }

    pub fn finetune(self) -> FinetuneConfig {
        match self {
            ClassifyPreset::Quick => FinetuneConfig {
                max_epochs: 30,
                patience: Some(5),
                ..FinetuneConfig::default()
            },
            // Measured on the paper stack: plain fine-tuning overfits
            // (99.96% train accuracy, 1.31-1.44% test); dropout does not.
            ClassifyPreset::Paper => FinetuneConfig {
                max_epochs: 60,
                patience: Some(20),
                lr_decay: 0.97,
                head_epochs: 5,
                dropout: DropoutRates {
                    input: 0.1,
                    hidden: 0.25,
                },
                ..FinetuneConfig::default()
            },
        }
    }

    /// Epochs of the final pass on all 60,000 images after early stopping.
    pub fn final_epochs(self) -> usize {
        match self {
            ClassifyPreset::Quick => 0,
            ClassifyPreset::Paper => 10,
        }
    }
}

/// The unit type of the first layer's RBM (`mnist-classify --first-units`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FirstUnits {
    /// Binary hidden units (the lecture's DBN).
    #[default]
    Binary,
    /// Noisy rectified linear hidden units (Nair & Hinton 2010); layer 2's
    /// visible units are NReLU too, as its data are their activations.
    Nrelu,
    /// Stepped sigmoid hidden units with 10 copies; likewise for layer 2.
    Stepped,
    /// Gaussian visible units with a learned sigma per pixel under the
    /// binary hidden units (pixels as real values, not probabilities).
    Gaussian,
}

impl FirstUnits {
    /// Rewrites the first two layers of `stack` for this choice. Real-valued
    /// units learn with a 10x smaller rate than binary ones (the lecture:
    /// "learning needs to be much slower"), Gaussian ones 100x smaller.
    pub fn apply(self, stack: &mut StackConfig) {
        let hidden = match self {
            FirstUnits::Binary => return,
            FirstUnits::Nrelu => UnitKind::NoisyRectified,
            FirstUnits::Stepped => UnitKind::SteppedSigmoid { copies: 10 },
            FirstUnits::Gaussian => {
                let first = &mut stack.layers[0];
                first.rbm.visible_units = UnitKind::Gaussian;
                first.rbm.visible_sigma = Some(SigmaConfig::learned(0.3, 0.05, 1.0));
                first.train.learning_rate *= 0.01;
                return;
            }
        };
        stack.layers[0].rbm.hidden_units = hidden;
        stack.layers[0].train.learning_rate *= 0.1;
        if let Some(second) = stack.layers.get_mut(1) {
            second.rbm.visible_units = hidden;
            second.train.learning_rate *= 0.1;
        }
    }
}

/// Everything that defines an `mnist-classify` run, written as `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifyRunConfig {
    /// The data set (left out of the file for MNIST).
    #[serde(default, skip_serializing_if = "DataSpec::is_mnist")]
    pub data: DataSpec,
    pub preset: ClassifyPreset,
    /// Unit type of the first layer.
    #[serde(default)]
    pub first_units: FirstUnits,
    /// The stack to pretrain; `None` for the no-pretraining baseline.
    pub stack: Option<StackConfig>,
    /// Input size then hidden sizes, e.g. `[784, 500, 500, 2000]`.
    pub layer_sizes: Vec<usize>,
    pub finetune: FinetuneConfig,
    /// Training images used (the first ones of the training split).
    pub train_rows: usize,
    /// Validation images: the last sixth of the training split.
    pub valid_rows: usize,
    /// Epochs of the final pass on all training images (0: none).
    #[serde(default)]
    pub final_epochs: usize,
    /// Seed of the classifier head (and of the whole net without pretraining).
    pub seed: u64,
    pub device: String,
    /// The stack was given (`--pretrained`), not trained: its file and hash.
    #[serde(default)]
    pub pretrained: Option<PretrainedSource>,
}

/// A pretrained stack taken from a file: where from, and its SHA-256, so
/// that the run's identity covers its contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PretrainedSource {
    pub path: std::path::PathBuf,
    pub sha256: String,
}

impl PretrainedSource {
    /// The file's absolute path and current hash.
    pub fn from_path(path: &Path) -> Result<Self, crate::run_dir::RunError> {
        Ok(Self {
            sha256: crate::run_dir::file_hash(path)?,
            path: std::fs::canonicalize(path).map_err(|source| crate::run_dir::RunError::Io {
                path: path.to_path_buf(),
                source,
            })?,
        })
    }
}

impl ClassifyRunConfig {
    /// Reads `config.json` from a run directory.
    pub fn load(dir: &Path) -> Result<Self, crate::run_dir::RunError> {
        crate::run_dir::read_json(&dir.join(crate::run_dir::CONFIG_FILE))
    }

    /// Checks every value (also those read from a `config.json`).
    pub fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        let pixels = self.data.pixels();
        if self.layer_sizes.first() != Some(&pixels) {
            return Err(format!(
                "layer_sizes must start with the {pixels} pixels of an image of {}, found {:?}",
                self.data.source, self.layer_sizes
            )
            .into());
        }
        dbn::ClassifierConfig::new(self.layer_sizes.clone(), self.data.classes).validate()?;
        if let Some(stack) = &self.stack {
            stack.validate()?;
            if stack.sizes() != self.layer_sizes {
                return Err(format!(
                    "the stack's sizes {:?} are not layer_sizes {:?}",
                    stack.sizes(),
                    self.layer_sizes
                )
                .into());
            }
        } else if self.pretrained.is_some() {
            return Err("a pretrained stack without pretraining (stack is null)".into());
        }
        self.finetune.validate()?;
        let available = self.data.train_rows();
        if self.valid_rows != self.data.valid_rows() {
            return Err(format!(
                "valid_rows must be {} (the last sixth of the training images), found {}",
                self.data.valid_rows(),
                self.valid_rows
            )
            .into());
        }
        if self.train_rows == 0 || self.train_rows > available {
            return Err(format!(
                "train_rows must be in 1..={available}, found {}",
                self.train_rows
            )
            .into());
        }
        Ok(())
    }
}
