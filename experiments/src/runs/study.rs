//! Why pretraining helps (Erhan et al., AISTATS 2009, as lecture 14c
//! tells it): networks of each depth fine-tuned from a greedily pretrained
//! stack and from a random initialisation, with the same architecture,
//! budget and seeds; their test errors, and their trajectories in function
//! space (the output probabilities on a fixed set of test images after
//! every epoch), by Erhan et al.'s recipe: random nets drawn uniform in
//! `±1/sqrt(fan_in)` with zero biases, plain SGD at a constant rate chosen
//! on validation per depth and arm, equal widths. Nets are [`SgdNet`]s
//! trained side by side ([`run_cell`]); pretraining is
//! [`crate::runs::pretrain::pretrain_with_checkpoints`].
//!
//! A cell (the nets of one depth and arm trained together) commits every
//! epoch; every finished net is a unit committed in the run directory
//! (`units/<name>.commit.json` over its result and trajectory files), so an
//! interrupted study continues where it stopped, to the same bits.

use std::path::Path;

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::MetricsRenderer;
use dbn::{
    ClassifierConfig, DbnClassifier, LabelledImages, RbmStack, SgdNet, SgdStep, StackConfig,
    for_each_net,
};
use rbm::TrainConfig;
use serde::{Deserialize, Serialize};

use crate::data::DataSpec;

use crate::run_dir::RunDir;
use crate::runs::pretrain::pretrain_with_checkpoints;

/// The arms of the study. The first two are Erhan et al.'s; the third is
/// today's recipe for random networks, to show how much of pretraining's
/// advantage the later initialisation and optimiser recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StudyArm {
    /// The greedy CD-1 stack, a head drawn as Erhan's, then plain SGD.
    Pretrained,
    /// Erhan's random initialisation (uniform `±1/sqrt(fan_in)`, zero
    /// biases), then plain SGD.
    Random,
    /// Glorot x4 initialisation, then momentum 0.9 with a decaying rate
    /// (the project's fine-tuning schedule): a later recipe, labelled.
    RandomGlorot4Momentum,
}

impl StudyArm {
    pub const FAITHFUL: [StudyArm; 2] = [StudyArm::Pretrained, StudyArm::Random];

    pub fn name(self) -> &'static str {
        match self {
            StudyArm::Pretrained => "pretrained",
            StudyArm::Random => "random",
            StudyArm::RandomGlorot4Momentum => "random_glorot4_momentum",
        }
    }

    /// The arm as pictures and tables label it.
    pub fn label(self) -> &'static str {
        match self {
            StudyArm::Pretrained => "pretrained (CD-1), SGD",
            StudyArm::Random => "random (Erhan init), SGD",
            StudyArm::RandomGlorot4Momentum => "random (Glorot x4, momentum)",
        }
    }

    /// How the arm's random layers (the head alone for `Pretrained`) are drawn.
    pub fn initialisation(self) -> dbn::Initialisation {
        match self {
            StudyArm::Pretrained | StudyArm::Random => dbn::Initialisation::Erhan,
            StudyArm::RandomGlorot4Momentum => dbn::Initialisation::Glorot4,
        }
    }
}

/// The later recipe of the third arm: momentum, a rate decaying per
/// epoch, larger mini-batches (no rate grid: its values are the project's
/// fine-tuning defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MomentumRecipe {
    pub learning_rate: f64,
    /// The rate is multiplied by this after every epoch.
    pub rate_decay: f64,
    pub momentum: f64,
    pub batch_size: usize,
}

impl Default for MomentumRecipe {
    fn default() -> Self {
        Self {
            learning_rate: 0.1,
            rate_decay: 0.95,
            momentum: 0.9,
            batch_size: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyConfig {
    /// The data set (left out of the file for MNIST).
    #[serde(default, skip_serializing_if = "DataSpec::is_mnist")]
    pub data: DataSpec,
    /// Numbers of hidden layers, e.g. `[1, 2, 3, 4, 5]`.
    pub depths: Vec<usize>,
    /// Units in every hidden layer (Erhan et al.: equal widths).
    pub width: usize,
    /// One network per arm, depth and seed; the seed draws the
    /// initialisation and the order of the training images.
    pub seeds: Vec<u64>,
    /// Training images: the first ones of the training split.
    pub train_rows: usize,
    /// Validation images, right after the training ones: the rate choice.
    pub valid_rows: usize,
    /// CD training of every layer of the pretrained arm (its seed is
    /// replaced by the unit's).
    pub pretrain: TrainConfig,
    /// Supervised epochs of every network (Erhan et al.: 50).
    pub finetune_epochs: usize,
    /// Mini-batch of the plain SGD arms (Erhan et al.: 1, per example).
    pub batch_size: usize,
    /// The constant learning rates tried for each depth and SGD arm.
    pub rates: Vec<f64>,
    /// The first this many seeds train at every rate of the grid; the
    /// rate with the lowest mean validation error is then used for all
    /// seeds.
    pub grid_seeds: usize,
    /// The labelled third arm, if run.
    #[serde(default)]
    pub momentum_arm: Option<MomentumRecipe>,
    /// Test images whose output probabilities form the function-space
    /// vector (the first ones of the test set).
    pub probe_images: usize,
}

/// A rule of [`StudyConfig`] broken, named by its flag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StudyConfigError {
    #[error("--depths: each depth must be at least 1 and one is needed, found {0:?}")]
    Depths(Vec<usize>),
    #[error("--depths: each depth once (its networks and units are named by it), found {0:?}")]
    RepeatedDepths(Vec<usize>),
    #[error("--seeds: at least 2 seeds per arm are needed (purity compares networks), found {0}")]
    TooFewSeeds(usize),
    #[error("--seeds: seeds must differ, found {0:?}")]
    RepeatedSeeds(Vec<u64>),
    #[error("--rates: every rate must be positive and finite, found {0}")]
    Rate(f64),
    #[error("--rates: each rate once (the grid names its arms by rate), found {0:?}")]
    RepeatedRates(Vec<f64>),
    #[error("--rates: at least one rate is needed")]
    NoRates,
    #[error("--grid-seeds: must be in 1..={seeds} (the seeds), found {found}")]
    GridSeeds { found: usize, seeds: usize },
    #[error("--batch-size: must be in 1..={train_rows} (the training images), found {found}")]
    BatchSize { found: usize, train_rows: usize },
    #[error("--finetune-epochs: must be at least 1")]
    NoEpochs,
    #[error(
        "--train-rows ({train_rows}) and --valid-rows ({valid_rows}) must be positive and fit in the {images} training images"
    )]
    Rows {
        train_rows: usize,
        valid_rows: usize,
        images: usize,
    },
    #[error("--probe-images must be in 2..={test_images} (the test images), found {found}")]
    ProbeImages { found: usize, test_images: usize },
    #[error("the momentum arm: {0}")]
    MomentumArm(String),
    #[error("{0}")]
    Network(String),
}

impl StudyConfig {
    /// Checks every value, before any work.
    pub fn validate(&self) -> Result<(), StudyConfigError> {
        if self.depths.is_empty() || self.depths.contains(&0) {
            return Err(StudyConfigError::Depths(self.depths.clone()));
        }
        if super::has_repeats(&self.depths) {
            return Err(StudyConfigError::RepeatedDepths(self.depths.clone()));
        }
        if self.seeds.len() < 2 {
            return Err(StudyConfigError::TooFewSeeds(self.seeds.len()));
        }
        if super::has_repeats(&self.seeds) {
            return Err(StudyConfigError::RepeatedSeeds(self.seeds.clone()));
        }
        if self.rates.is_empty() {
            return Err(StudyConfigError::NoRates);
        }
        if let Some(&rate) = self.rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
            return Err(StudyConfigError::Rate(rate));
        }
        if super::has_repeats(&self.rates) {
            return Err(StudyConfigError::RepeatedRates(self.rates.clone()));
        }
        if !(1..=self.seeds.len()).contains(&self.grid_seeds) {
            return Err(StudyConfigError::GridSeeds {
                found: self.grid_seeds,
                seeds: self.seeds.len(),
            });
        }
        if self.finetune_epochs == 0 {
            return Err(StudyConfigError::NoEpochs);
        }
        if self.train_rows == 0
            || self.valid_rows == 0
            || self.train_rows + self.valid_rows > self.data.train_images
        {
            return Err(StudyConfigError::Rows {
                train_rows: self.train_rows,
                valid_rows: self.valid_rows,
                images: self.data.train_images,
            });
        }
        if !(1..=self.train_rows).contains(&self.batch_size) {
            return Err(StudyConfigError::BatchSize {
                found: self.batch_size,
                train_rows: self.train_rows,
            });
        }
        if let Some(arm) = &self.momentum_arm {
            let ok = arm.learning_rate.is_finite()
                && arm.learning_rate > 0.0
                && arm.rate_decay.is_finite()
                && arm.rate_decay > 0.0
                && (0.0..1.0).contains(&arm.momentum)
                && (1..=self.train_rows).contains(&arm.batch_size);
            if !ok {
                return Err(StudyConfigError::MomentumArm(format!("{arm:?}")));
            }
        }
        if !(2..=self.data.test_images).contains(&self.probe_images) {
            return Err(StudyConfigError::ProbeImages {
                found: self.probe_images,
                test_images: self.data.test_images,
            });
        }
        let max_depth = *self.depths.iter().max().expect("not empty");
        let sizes = self.sizes(max_depth);
        ClassifierConfig::new(sizes.clone(), self.data.classes)
            .validate()
            .map_err(|e| StudyConfigError::Network(e.to_string()))?;
        StackConfig::uniform(&sizes, &self.pretrain)
            .validate()
            .map_err(|e| StudyConfigError::Network(e.to_string()))?;
        Ok(())
    }

    /// The layer sizes of a network of `depth` hidden layers.
    pub fn sizes(&self, depth: usize) -> Vec<usize> {
        self.data.layer_sizes(&vec![self.width; depth])
    }

    /// The arms run: the faithful two, then the momentum arm if set.
    pub fn arms(&self) -> Vec<StudyArm> {
        let mut arms = StudyArm::FAITHFUL.to_vec();
        if self.momentum_arm.is_some() {
            arms.push(StudyArm::RandomGlorot4Momentum);
        }
        arms
    }
}

/// What one trained network left behind (`units/<name>.json`; the
/// trajectory is `units/<name>.safetensors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    pub depth: usize,
    pub seed: u64,
    pub arm: StudyArm,
    /// The constant rate (SGD arms) or the initial rate (momentum arm).
    pub learning_rate: f64,
    /// On the validation images, after the last epoch (percent).
    pub valid_error_percent: f64,
    /// On the test images, after the last epoch (percent).
    pub test_error_percent: f64,
    /// Mean training loss of the last epoch's steps (none once diverged).
    pub final_train_loss: Option<f64>,
    /// The epoch whose training loss was not finite, if any: the net
    /// trained no further and its errors count as 100%.
    #[serde(default)]
    pub diverged_in_epoch: Option<usize>,
    /// `||W_after - W_before|| / ||W_before||` of each hidden layer
    /// (Frobenius norms), fine-tuning against the initial weights.
    pub relative_weight_change: Vec<f64>,
    /// Wall time of the cell it was trained in, shared among its networks.
    pub seconds: f64,
}

/// A unit's result and its trajectory: `epochs + 1` vectors of
/// `probe_images * classes` output probabilities (before the first epoch,
/// then after each).
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub result: UnitResult,
    pub trajectory: Vec<Vec<f32>>,
}

/// The name of the unit of `(depth, seed, arm)` trained at `rate`.
pub fn unit_name(depth: usize, seed: u64, arm: StudyArm, rate: f64) -> String {
    format!("depth-{depth}-seed-{seed}-{}-rate-{rate}", arm.name())
}

/// Named studies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Depths 1-5 of 500 units, 10 seeds per arm, 10,000 training and
    /// 1,000 validation images, 5 CD epochs per layer and 8 SGD epochs
    /// (the paper: 50 and 50) at mini-batch 10 (the paper: 1), rates
    /// 0.1/0.3/1/3 tried on the first 2 seeds.
    Quick,
    /// Depths 1-5 of 500 units, 20 seeds, 50,000 / 10,000 images, 50 CD
    /// epochs per layer and 50 SGD epochs at mini-batch 10, rates tried
    /// on the first 3 seeds; the momentum arm as well. Hours: resumable.
    Paper,
}

impl Preset {
    pub fn config(self) -> StudyConfig {
        let (seeds, train_rows, valid_rows, cd_epochs, epochs, grid_seeds, momentum_arm) =
            match self {
                Preset::Quick => (10, 10_000, 1_000, 5, 8, 2, None),
                Preset::Paper => (
                    20,
                    50_000,
                    10_000,
                    50,
                    50,
                    3,
                    Some(MomentumRecipe::default()),
                ),
            };
        StudyConfig {
            data: DataSpec::mnist(),
            depths: vec![1, 2, 3, 4, 5],
            width: 500,
            seeds: (1..=seeds).collect(),
            train_rows,
            valid_rows,
            pretrain: crate::runs::classify::paper_cd_recipe(cd_epochs),
            finetune_epochs: epochs,
            batch_size: 10,
            rates: vec![0.1, 0.3, 1.0, 3.0],
            grid_seeds,
            momentum_arm,
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
/// The stack of `seed` if [`seed_stack`] finished it (nothing is trained).
pub fn finished_seed_stack(
    run: &RunDir,
    sizes: &[usize],
    pretrain: &TrainConfig,
    seed: u64,
    device: &Device,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    let stack_config = StackConfig::uniform(sizes, &pretrain.clone().with_seed(seed));
    let dir = run.subdir(&format!("stacks/seed-{seed}"))?;
    crate::runs::pretrain::finished_stack(&dir, &stack_config, device)
}

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

/// One network of a cell: where it sits in the study and its rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetSpec {
    pub depth: usize,
    pub seed: u64,
    pub arm: StudyArm,
    pub rate: f64,
}

impl NetSpec {
    pub fn unit_name(&self) -> String {
        unit_name(self.depth, self.seed, self.arm, self.rate)
    }
}

/// The study's images as the SGD nets use them, on the device.
pub struct SgdData {
    pub train_images: Tensor<2>,
    /// `[train_rows, classes]`.
    pub train_one_hot: Tensor<2>,
    pub valid_images: Tensor<2>,
    pub valid_labels: Tensor<1, Int>,
    pub test_images: Tensor<2>,
    pub test_labels: Tensor<1, Int>,
}

impl SgdData {
    pub fn new(data: &StudyData, classes: usize) -> Result<Self, Box<dyn std::error::Error>> {
        let device = data.probe.device();
        let (train_images, _) = data.train.tensors(&device);
        let labels: Vec<usize> = data.train.labels().iter().map(|&l| l as usize).collect();
        let train_one_hot = dbn::one_hot_rows(&labels, classes, &device)?;
        let (valid_images, valid_labels) = data.valid.tensors(&device);
        let (test_images, test_labels) = data.test.tensors(&device);
        Ok(Self {
            train_images,
            train_one_hot,
            valid_images,
            valid_labels,
            test_images,
            test_labels,
        })
    }
}

/// The network of `spec` before training: the first `depth` layers of
/// its seed's stack with a head drawn by the arm's initialisation
/// (pretrained arm), or the whole net drawn so (random arms).
pub fn initial_net(
    spec: &NetSpec,
    config: &StudyConfig,
    stack: Option<&RbmStack>,
    device: &Device,
) -> Result<SgdNet, Box<dyn std::error::Error>> {
    let init = spec.arm.initialisation();
    let classifier = match (spec.arm, stack) {
        (StudyArm::Pretrained, Some(stack)) => {
            let first = RbmStack::new(stack.layers[..spec.depth].to_vec());
            let mut classifier = DbnClassifier::from_stack(&first, config.data.classes, spec.seed)?;
            let mut sampler = rbm::Sampler::new(spec.seed);
            classifier.head = init.linear(
                config.width,
                config.data.classes,
                true,
                &mut sampler,
                device,
            );
            classifier
        }
        (StudyArm::Pretrained, None) => {
            return Err("the pretrained arm needs its seed's stack".into());
        }
        _ => ClassifierConfig::new(config.sizes(spec.depth), config.data.classes)
            .init_with(init, device, spec.seed),
    };
    Ok(SgdNet::from_classifier(&classifier)?)
}

/// How `spec`'s net moves in `epoch` (1-based).
fn step_of(spec: &NetSpec, config: &StudyConfig, epoch: usize) -> (SgdStep, usize) {
    match (spec.arm, &config.momentum_arm) {
        (StudyArm::RandomGlorot4Momentum, Some(recipe)) => (
            SgdStep {
                rate: spec.rate * recipe.rate_decay.powi(epoch as i32 - 1),
                momentum: recipe.momentum,
                weight_decay: 0.0,
            },
            recipe.batch_size,
        ),
        _ => (SgdStep::plain(spec.rate), config.batch_size),
    }
}

/// A cell's state after `epochs_done` epochs: every net, its trajectory
/// so far and its last epoch's mean loss.
struct CellState {
    epochs_done: usize,
    nets: Vec<SgdNet>,
    trajectories: Vec<Vec<Vec<f32>>>,
    losses: Vec<f64>,
    /// The epoch in which each net's training loss stopped being finite.
    diverged: Vec<Option<usize>>,
    seconds: f64,
}

/// Trains the nets of `specs` side by side (one per core), every epoch
/// committed as `cells/<cell>`; a resumed cell continues from its last
/// committed epoch and draws the same batches (each net's order is a
/// function of its seed and the epoch). Each finished net is committed as
/// its own unit. Returns `None` if interrupted.
#[allow(clippy::too_many_arguments)]
pub fn run_cell(
    run: &RunDir,
    config: &StudyConfig,
    cell: &str,
    specs: &[NetSpec],
    stacks: &std::collections::BTreeMap<u64, RbmStack>,
    data: &StudyData,
    sgd: &SgdData,
    interrupter: &Interrupter,
    say: &mut dyn FnMut(&str),
) -> Result<Option<Vec<Unit>>, Box<dyn std::error::Error>> {
    let device = data.probe.device();
    let initial: Vec<SgdNet> = specs
        .iter()
        .map(|spec| initial_net(spec, config, stacks.get(&spec.seed), &device))
        .collect::<Result<_, _>>()?;
    let mut state = match load_cell(run, cell, specs, &device)? {
        Some(state) => state,
        None => CellState {
            epochs_done: 0,
            trajectories: initial
                .iter()
                .map(|net| vec![net.probabilities(&data.probe)])
                .collect(),
            nets: initial.clone(),
            losses: vec![f64::NAN; specs.len()],
            diverged: vec![None; specs.len()],
            seconds: 0.0,
        },
    };
    let rows = config.train_rows;
    while state.epochs_done < config.finetune_epochs {
        if interrupter.should_stop() {
            return Ok(None);
        }
        let epoch = state.epochs_done + 1;
        let epoch_started = std::time::Instant::now();
        let diverged = state.diverged.clone();
        let losses = for_each_net(&mut state.nets, |index, net| {
            if diverged[index].is_some() {
                return f64::NAN;
            }
            let spec = &specs[index];
            let (step, batch) = step_of(spec, config, epoch);
            let order = dbn::epoch_order(spec.seed, epoch, rows);
            net.epoch(&sgd.train_images, &sgd.train_one_hot, &order, batch, step)
        });
        for (index, net) in state.nets.iter().enumerate() {
            let mut outputs = net.probabilities(&data.probe);
            if state.diverged[index].is_none() && !losses[index].is_finite() {
                state.diverged[index] = Some(epoch);
                say(&format!(
                    "{cell}: network {} diverged in epoch {epoch} (training loss {}); it trains no further and counts as failed",
                    specs[index].unit_name(),
                    losses[index]
                ));
            }
            if state.diverged[index].is_some() {
                // A diverged net's outputs are taken as uniform (its own are NaN).
                outputs = vec![1.0 / config.data.classes as f32; outputs.len()];
            }
            state.trajectories[index].push(outputs);
        }
        state.losses = losses;
        state.epochs_done = epoch;
        state.seconds += epoch_started.elapsed().as_secs_f64();
        save_cell(run, cell, &state)?;
        let mean = state.losses.iter().sum::<f64>() / state.losses.len() as f64;
        say(&format!(
            "{cell}: epoch {epoch}/{} of {} networks, mean training loss {mean:.4} ({:.0} s)",
            config.finetune_epochs,
            specs.len(),
            epoch_started.elapsed().as_secs_f64()
        ));
    }
    let mut units = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        let net = &state.nets[index];
        let diverged = state.diverged[index];
        let percent = |wrong: usize, n: usize| match diverged {
            Some(_) => 100.0,
            None => 100.0 * wrong as f64 / n as f64,
        };
        let valid_error_percent = percent(
            net.errors(&sgd.valid_images, &sgd.valid_labels, 1000),
            config.valid_rows,
        );
        let test_error_percent = percent(
            net.errors(&sgd.test_images, &sgd.test_labels, 1000),
            sgd.test_labels.dims()[0],
        );
        let hidden = spec.depth;
        let relative_weight_change = initial[index].weights[..hidden]
            .iter()
            .zip(&net.weights[..hidden])
            .map(|(w0, w)| frobenius(w.clone() - w0.clone()) / frobenius(w0.clone()))
            .collect();
        let unit = Unit {
            result: UnitResult {
                depth: spec.depth,
                seed: spec.seed,
                arm: spec.arm,
                learning_rate: spec.rate,
                valid_error_percent,
                test_error_percent,
                final_train_loss: Some(state.losses[index]).filter(|l| l.is_finite()),
                diverged_in_epoch: diverged,
                relative_weight_change,
                seconds: state.seconds,
            },
            trajectory: state.trajectories[index].clone(),
        };
        let name = spec.unit_name();
        // The first seed's networks are kept for pictures of their filters.
        if spec.seed == config.seeds[0] {
            run.subdir("units")?;
            dbn::save_classifier(
                &net.to_classifier(),
                &run.file(&format!("units/{name}-model.safetensors")),
            )?;
        }
        save_unit(run, &name, &unit)?;
        units.push(unit);
    }
    Ok(Some(units))
}

fn frobenius(x: Tensor<2>) -> f64 {
    (x.square().sum().into_scalar::<f32>() as f64).sqrt()
}

/// The tensors of a cell's state, by name.
fn cell_tensors(state: &CellState) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let host = |t: &Tensor<2>| -> (Vec<usize>, Vec<f32>) {
        (
            t.dims().to_vec(),
            t.clone()
                .into_data()
                .try_to_vec::<f32>()
                .expect("float data"),
        )
    };
    let mut out = Vec::new();
    for (i, net) in state.nets.iter().enumerate() {
        for (l, w) in net.weights.iter().enumerate() {
            let (shape, values) = host(w);
            out.push((format!("net{i}.weight{l}"), shape, values));
        }
        for (l, b) in net.biases.iter().enumerate() {
            let (shape, values) = host(b);
            out.push((format!("net{i}.bias{l}"), shape, values));
        }
        for (j, v) in net.velocity.iter().flatten().enumerate() {
            let (shape, values) = host(v);
            out.push((format!("net{i}.velocity{j}"), shape, values));
        }
        let trajectory = &state.trajectories[i];
        out.push((
            format!("net{i}.trajectory"),
            vec![trajectory.len(), trajectory[0].len()],
            trajectory.iter().flatten().copied().collect(),
        ));
    }
    out
}

fn save_cell(
    run: &RunDir,
    cell: &str,
    state: &CellState,
) -> Result<(), Box<dyn std::error::Error>> {
    run.subdir("cells")?;
    let file = format!("cells/{cell}-epoch-{}.safetensors", state.epochs_done);
    let tensors = cell_tensors(state);
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b)
                .map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let partial = run.file(&format!("{file}.part"));
    safetensors::serialize_to_file(views, None, &partial)?;
    std::fs::rename(&partial, run.file(&file))?;
    run.commit(
        &format!("cells/{cell}"),
        serde_json::json!({
            "epochs_done": state.epochs_done,
            "losses": state.losses,
            "diverged": state.diverged,
            "seconds": state.seconds,
        }),
        &[("nets", file.as_str())],
    )?;
    Ok(())
}

fn load_cell(
    run: &RunDir,
    cell: &str,
    specs: &[NetSpec],
    device: &Device,
) -> Result<Option<CellState>, Box<dyn std::error::Error>> {
    let Some(commit) = run.last_commit(&format!("cells/{cell}"))? else {
        return Ok(None);
    };
    let path = run
        .committed(&commit, "nets")
        .ok_or("cell commit without its nets")?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = safetensors::SafeTensors::deserialize(&bytes)?;
    let read = |name: &str| -> Result<(Vec<usize>, Vec<f32>), Box<dyn std::error::Error>> {
        let view = file
            .tensor(name)
            .map_err(|e| format!("{}: tensor {name}: {e}", path.display()))?;
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok((view.shape().to_vec(), values))
    };
    let tensor = |name: &str| -> Result<Tensor<2>, Box<dyn std::error::Error>> {
        let (shape, values) = read(name)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    };
    let mut nets = Vec::with_capacity(specs.len());
    let mut trajectories = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let layers = spec.depth + 1;
        let weights = (0..layers)
            .map(|l| tensor(&format!("net{i}.weight{l}")))
            .collect::<Result<Vec<_>, _>>()?;
        let biases = (0..layers)
            .map(|l| tensor(&format!("net{i}.bias{l}")))
            .collect::<Result<Vec<_>, _>>()?;
        let velocity = if file
            .names()
            .iter()
            .any(|n| *n == format!("net{i}.velocity0"))
        {
            Some(
                (0..2 * layers)
                    .map(|j| tensor(&format!("net{i}.velocity{j}")))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        nets.push(SgdNet {
            weights,
            biases,
            velocity,
        });
        let (shape, values) = read(&format!("net{i}.trajectory"))?;
        trajectories.push(values.chunks(shape[1]).map(<[f32]>::to_vec).collect());
    }
    // JSON has no NaN: a diverged net's loss is written as null.
    let losses: Vec<Option<f64>> = serde_json::from_value(commit.step["losses"].clone())?;
    let losses = losses.into_iter().map(|l| l.unwrap_or(f64::NAN)).collect();
    let diverged: Vec<Option<usize>> = serde_json::from_value(commit.step["diverged"].clone())?;
    Ok(Some(CellState {
        epochs_done: commit
            .step_number("epochs_done")
            .ok_or("cell commit without epochs_done")?,
        nets,
        trajectories,
        losses,
        diverged,
        seconds: commit.step["seconds"].as_f64().unwrap_or(0.0),
    }))
}

pub fn save_unit(run: &RunDir, name: &str, unit: &Unit) -> Result<(), Box<dyn std::error::Error>> {
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
