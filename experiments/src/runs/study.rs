//! Why pretraining helps (Erhan et al., AISTATS 2009, as lecture 14c
//! tells it): networks of each depth fine-tuned from a greedily pretrained
//! stack and from a random initialisation, with the same architecture,
//! budget and seeds; their test errors, and their trajectories in function
//! space (the output probabilities on a fixed set of test images after
//! every epoch). Fine-tuning is the project's one Learner path
//! ([`dbn::finetune::learner::finetune`]); pretraining is
//! [`crate::runs::pretrain::pretrain_with_checkpoints`].
//!
//! Every trained network is a unit committed in the run directory
//! (`units/<name>.commit.json` over its result and trajectory files), so an
//! interrupted study continues with the first unit it has not committed.

use std::path::Path;

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::MetricsRenderer;
use dbn::{ClassifierConfig, DbnClassifier, FinetuneConfig, LabelledImages, RbmStack, StackConfig};
use rbm::TrainConfig;
use serde::{Deserialize, Serialize};

use crate::data::DataSpec;

use super::sweep::{Arm, UnitOutcome, unit_network};
use crate::output::dashboard::SharedRecords;
use crate::run_dir::RunDir;
use crate::runs::pretrain::pretrain_with_checkpoints;
use dbn::finetune::learner::{Selection, finetune, model_checkpoint};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyConfig {
    /// The data set (left out of the file for MNIST).
    #[serde(default, skip_serializing_if = "DataSpec::is_mnist")]
    pub data: DataSpec,
    /// Numbers of hidden layers, e.g. `[1, 2, 3]`.
    pub depths: Vec<usize>,
    /// Units in every hidden layer (Erhan et al.: equal widths).
    pub width: usize,
    /// One network per arm, depth and seed.
    pub seeds: Vec<u64>,
    /// Training images: the first ones of the training split.
    pub train_rows: usize,
    /// Images after the training ones that the Learner shows as its
    /// validation split (displayed only: the study takes the last epoch).
    pub valid_rows: usize,
    /// CD training of every layer (its seed is replaced by the unit's).
    pub pretrain: TrainConfig,
    /// Fine-tuning of both arms: `max_epochs` is the budget, no early stop.
    pub finetune: FinetuneConfig,
    /// Test images whose output probabilities form the function-space
    /// vector (the first ones of the test set).
    pub probe_images: usize,
}

impl StudyConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), String> {
        if self.depths.is_empty() || self.depths.contains(&0) {
            return Err("depths must be positive and at least one".into());
        }
        if self.seeds.len() < 2 {
            return Err("at least 2 seeds per arm are needed (purity compares networks)".into());
        }
        let mut unique = self.seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != self.seeds.len() {
            return Err("seeds must differ".into());
        }
        let max_depth = *self.depths.iter().max().expect("not empty");
        let sizes = self.sizes(max_depth);
        ClassifierConfig::new(sizes.clone(), self.data.classes)
            .validate()
            .map_err(|e| e.to_string())?;
        StackConfig::uniform(&sizes, &self.pretrain)
            .validate()
            .map_err(|e| e.to_string())?;
        self.finetune.validate().map_err(|e| e.to_string())?;
        if self.finetune.patience.is_some() {
            return Err("the study fine-tunes for a fixed budget: patience must be none".into());
        }
        if self.train_rows == 0
            || self.valid_rows == 0
            || self.train_rows + self.valid_rows > self.data.train_images
        {
            return Err(format!(
                "train_rows ({}) and valid_rows ({}) must be positive and fit in the {} training images",
                self.train_rows, self.valid_rows, self.data.train_images
            ));
        }
        if !(2..=self.data.test_images).contains(&self.probe_images) {
            return Err(format!(
                "probe_images must be in 2..={} (the test images), found {}",
                self.data.test_images, self.probe_images
            ));
        }
        Ok(())
    }

    /// The layer sizes of a network of `depth` hidden layers.
    pub fn sizes(&self, depth: usize) -> Vec<usize> {
        self.data.layer_sizes(&vec![self.width; depth])
    }
}

/// What one trained network left behind (`units/<name>.json`; the
/// trajectory is `units/<name>.safetensors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    pub depth: usize,
    pub seed: u64,
    pub arm: Arm,
    /// On the 10,000 test images, after the last epoch (percent).
    pub test_error_percent: f64,
    /// `||W_after - W_before|| / ||W_before||` of each hidden layer
    /// (Frobenius norms), fine-tuning against the initial weights.
    pub relative_weight_change: Vec<f64>,
    pub seconds: f64,
}

/// A unit's result and its trajectory: `epochs + 1` vectors of
/// `probe_images * 10` output probabilities (before the first epoch, then
/// after each).
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub result: UnitResult,
    pub trajectory: Vec<Vec<f32>>,
}

/// The name of the unit of `(depth, seed, arm)`.
pub fn unit_name(depth: usize, seed: u64, arm: Arm) -> String {
    format!("depth-{depth}-seed-{seed}-{}", arm.name())
}

/// Named studies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Depths 1-3 of 500 units, 6 seeds, 10,000 training images, 10 CD
    /// epochs per layer, 30 fine-tuning epochs (under 15 minutes on 2 cores).
    Quick,
    /// Depths 1-5 of 500 units, 20 seeds, 50,000 training images, 10 CD
    /// epochs per layer, 30 fine-tuning epochs.
    Paper,
}

impl Preset {
    pub fn config(self) -> StudyConfig {
        let (depths, seeds, train_rows, valid_rows, cd_epochs, epochs) = match self {
            Preset::Quick => (vec![1, 2, 3], 6, 10_000, 1_000, 10, 30),
            Preset::Paper => (vec![1, 2, 3, 4, 5], 20, 50_000, 10_000, 10, 30),
        };
        StudyConfig {
            data: DataSpec::mnist(),
            depths,
            width: 500,
            seeds: (1..=seeds).collect(),
            train_rows,
            valid_rows,
            pretrain: crate::runs::classify::paper_cd_recipe(cd_epochs),
            finetune: FinetuneConfig {
                max_epochs: epochs,
                patience: None,
                ..FinetuneConfig::default()
            },
            probe_images: 500,
        }
    }
}

/// The data of a study, on the device.
pub struct StudyData {
    pub train: LabelledImages,
    pub valid: LabelledImages,
    pub test: LabelledImages,
    /// `[probe_images, pixels]`, the first test images.
    pub probe: Tensor<2>,
}

impl StudyData {
    /// The study's images: training rows first, validation rows after
    /// them, all test images, and the probe (the first test images).
    pub fn new(
        set: &datasets::ImageSet,
        config: &StudyConfig,
        device: &Device,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let classes = set.classes;
        let train = crate::data::labelled(
            &set.train.range(0, config.train_rows),
            classes,
            "training images",
        )?;
        let valid = crate::data::labelled(
            &set.train
                .range(config.train_rows, config.train_rows + config.valid_rows),
            classes,
            "validation images",
        )?;
        let test = crate::data::labelled(&set.test, classes, "test images")?;
        let probe = crate::data::images_tensor(
            &set.test.head(config.probe_images),
            datasets::Binarization::None,
            device,
        );
        Ok(Self {
            train,
            valid,
            test,
            probe,
        })
    }
}

/// The greedy stack of `seed` with the deepest depth's layers, trained (or
/// resumed) under `stacks/seed-<seed>/` of the run; each depth uses its
/// first layers, which are exactly the greedy stack of that depth.
/// Returns `None` if interrupted.
pub fn pretrained_stack(
    run: &RunDir,
    config: &StudyConfig,
    seed: u64,
    data: &StudyData,
    renderer: &mut dyn MetricsRenderer,
    interrupter: &Interrupter,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    let max_depth = *config.depths.iter().max().expect("validated");
    let (images, _) = data.train.tensors(&data.probe.device());
    seed_stack(
        run,
        &config.sizes(max_depth),
        &config.pretrain,
        seed,
        &images,
        renderer,
        interrupter,
    )
}

/// The greedy stack of `sizes` trained with `pretrain` (its seed replaced
/// by `seed`) on `images`, checkpointed and resumed under
/// `stacks/seed-<seed>/` of the run; `None` if interrupted. The study and
/// the few-label sweep keep one such stack per seed.
pub fn seed_stack(
    run: &RunDir,
    sizes: &[usize],
    pretrain: &TrainConfig,
    seed: u64,
    images: &Tensor<2>,
    renderer: &mut dyn MetricsRenderer,
    interrupter: &Interrupter,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    let stack_config = StackConfig::uniform(sizes, &pretrain.clone().with_seed(seed));
    let dir = run.subdir(&format!("stacks/seed-{seed}"))?;
    pretrain_with_checkpoints(&dir, &stack_config, images, None, renderer, interrupter)
}

/// The Learner directory of unit `name`, emptied: a unit interrupted
/// before its commit starts again from scratch.
pub fn fresh_learner_dir(run: &RunDir, name: &str) -> Result<std::path::PathBuf, String> {
    let dir = run.file(&format!("learners/{name}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(dir)
}

/// Row-wise softmax of the network's logits on `probe`, flattened.
fn output_probabilities(model: &DbnClassifier, probe: &Tensor<2>) -> Vec<f32> {
    burn::tensor::activation::softmax(model.forward(probe.clone()), 1)
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float data")
}

fn frobenius(x: Tensor<2>) -> f64 {
    (x.square().sum().into_scalar::<f32>() as f64).sqrt()
}

/// Trains one network of the study (fine-tuning from `stack`'s first
/// `depth` layers, or from a random initialisation when `stack` is `None`)
/// and commits it under `units/`. A unit interrupted before its commit
/// starts again from scratch (its Learner directory is cleared). With
/// `keep_model`, the fine-tuned network is kept as
/// `units/<name>-model.safetensors` (for pictures of its filters).
/// Returns the unit (or `None` if interrupted) and the renderer.
#[allow(clippy::too_many_arguments)]
pub fn run_unit(
    run: &RunDir,
    config: &StudyConfig,
    depth: usize,
    seed: u64,
    stack: Option<&RbmStack>,
    keep_model: bool,
    data: &StudyData,
    renderer: Box<dyn MetricsRenderer>,
    records: &SharedRecords,
    interrupter: &Interrupter,
) -> UnitOutcome<Unit> {
    let started = std::time::Instant::now();
    let device = data.probe.device();
    let first_layers = stack.map(|stack| RbmStack::new(stack.layers[..depth].to_vec()));
    let (arm, initial) = unit_network(
        first_layers.as_ref(),
        &config.sizes(depth),
        config.data.classes,
        seed,
        &device,
    )?;
    let name = unit_name(depth, seed, arm);
    let before: Vec<Tensor<2>> = initial.hidden.iter().map(|l| l.weight.val()).collect();
    let learner_dir = fresh_learner_dir(run, &name)?;
    let mut trajectory = vec![output_probabilities(&initial, &data.probe)];
    let finetune_config = FinetuneConfig {
        seed,
        ..config.finetune.clone()
    };
    let outcome = finetune(
        initial,
        &finetune_config,
        data.train.clone(),
        data.valid.clone(),
        &learner_dir,
        None,
        renderer,
        records,
        interrupter,
        &format!("finetune {name}"),
        Selection::LastKeepingAll,
    )?;
    if outcome.interrupted {
        return Ok((None, outcome.renderer));
    }
    for epoch in 1..=outcome.epochs_done {
        let model = outcome
            .best
            .clone()
            .try_load_file(model_checkpoint(&learner_dir, epoch))
            .map_err(|e| format!("epoch {epoch} of {name}: {e}"))?;
        trajectory.push(output_probabilities(&model, &data.probe));
    }
    let (images, labels) = data.test.tensors(&device);
    let test_error_percent = 100.0 * outcome.best.error_rate(&images, &labels, 1000);
    let relative_weight_change = before
        .into_iter()
        .zip(&outcome.best.hidden)
        .map(|(w0, layer)| frobenius(layer.weight.val() - w0.clone()) / frobenius(w0))
        .collect();
    let unit = Unit {
        result: UnitResult {
            depth,
            seed,
            arm,
            test_error_percent,
            relative_weight_change,
            seconds: started.elapsed().as_secs_f64(),
        },
        trajectory,
    };
    if keep_model {
        run.subdir("units")?;
        dbn::save_classifier(
            &outcome.best,
            &run.file(&format!("units/{name}-model.safetensors")),
        )?;
    }
    save_unit(run, &name, &unit)?;
    let _ = std::fs::remove_dir_all(&learner_dir);
    Ok((Some(unit), outcome.renderer))
}

fn save_unit(run: &RunDir, name: &str, unit: &Unit) -> Result<(), Box<dyn std::error::Error>> {
    run.subdir("units")?;
    let json = format!("units/{name}.json");
    let tensor = format!("units/{name}.safetensors");
    run.write_json(&json, &unit.result)?;
    let rows = unit.trajectory.len();
    let cols = unit.trajectory[0].len();
    let bytes: Vec<u8> = unit
        .trajectory
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![rows, cols], &bytes)?;
    let partial = run.file(&format!("{tensor}.part"));
    safetensors::serialize_to_file([("trajectory", view)], None, &partial)?;
    std::fs::rename(&partial, run.file(&tensor))?;
    run.commit(
        &format!("units/{name}"),
        serde_json::json!({ "done": true }),
        &[("result", json.as_str()), ("trajectory", tensor.as_str())],
    )?;
    Ok(())
}

/// The committed unit `name`, if any (verified: identity and hashes; the
/// trajectory's header is checked against its file before use).
pub fn load_unit(run: &RunDir, name: &str) -> Result<Option<Unit>, Box<dyn std::error::Error>> {
    let Some(commit) = run.last_commit(&format!("units/{name}"))? else {
        return Ok(None);
    };
    let json = run
        .committed(&commit, "result")
        .ok_or("unit commit without a result")?;
    let tensor = run
        .committed(&commit, "trajectory")
        .ok_or("unit commit without a trajectory")?;
    let result: UnitResult = crate::run_dir::read_json(&json)?;
    let trajectory = read_trajectory(&tensor)?;
    Ok(Some(Unit { result, trajectory }))
}

fn read_trajectory(path: &Path) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error>> {
    // Read once: checked (sizes against the file, f32, finite), then decoded.
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = rbm::parse_weights(path, &bytes)?;
    let shape = file
        .tensors
        .get("trajectory")
        .filter(|s| s.len() == 2)
        .ok_or_else(|| format!("{}: no 2-D `trajectory` tensor", path.display()))?
        .clone();
    let tensors = safetensors::SafeTensors::deserialize(&bytes)?;
    let data = tensors.tensor("trajectory")?;
    let values: Vec<f32> = data
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(values.chunks(shape[1]).map(<[f32]>::to_vec).collect())
}

crate::run_config!(StudyConfig, data);
