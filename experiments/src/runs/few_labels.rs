//! Few labels (lecture 14b: pretraining "works well even if most of the
//! training data is unlabeled"): a stack pretrained on all training images
//! (MNIST: 50,000) without their labels, then fine-tuned with only N labelled ones
//! (class-balanced, seeded), against the same network from a random
//! initialisation with the same budget.
//!
//! No label beyond the N is used: there is no validation-based choice at
//! all (no early stopping, the last epoch is the model), and the Learner's
//! "validation" display is the N labelled images themselves. Each epoch
//! presents the N images repeated to at least [`MIN_EPOCH_ROWS`] rows, so
//! every N gets the same number of updates (all 50,000: one pass).

use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::MetricsRenderer;
use dbn::{ClassifierConfig, FinetuneConfig, LabelledImages, RbmStack, StackConfig};
use rbm::{Sampler, TrainConfig};
use serde::{Deserialize, Serialize};

use super::Outcome;
use crate::data::DataSpec;
use crate::output::dashboard::SharedRecords;
use crate::run_dir::RunDir;
use crate::run_dir::shard::Shard;
use crate::runs::sweep::{Arm, ArmSweep, UnitOutcome, run_sweep, unit_network};
use dbn::finetune::learner::{Selection, finetune};

/// The rows an epoch presents at least (the labelled images repeated).
pub const MIN_EPOCH_ROWS: usize = 10_000;

/// Everything that defines a few-label sweep (`config.json`).
/// Named recipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// 784-500-500, 5 CD epochs per layer, N in {100, 600, 1000, 3000, all},
    /// 3 seeds, 10 fine-tuning epochs of at least 10,000 rows.
    Quick,
    /// 784-500-500-2000, 50 CD epochs per layer (the classifier's paper
    /// recipe), the same N, 10 seeds, 30 fine-tuning epochs.
    Paper,
}

impl Preset {
    /// The preset's sweep on `data`.
    pub fn config(self, data: &DataSpec) -> FewLabelsConfig {
        let (hidden, cd_epochs, seeds, epochs) = match self {
            Preset::Quick => (vec![500, 500], 5, 3, 10),
            Preset::Paper => (vec![500, 500, 2000], 50, 10, 30),
        };
        FewLabelsConfig {
            data: data.clone(),
            label_counts: vec![Some(100), Some(600), Some(1000), Some(3000), None],
            seeds: (1..=seeds).collect(),
            hidden,
            train_rows: data.train_rows(),
            pretrain: crate::runs::classify::paper_cd_recipe(cd_epochs),
            finetune: FinetuneConfig {
                max_epochs: epochs,
                patience: None,
                ..FinetuneConfig::default()
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FewLabelsConfig {
    /// The data set (left out of the file for MNIST).
    #[serde(default, skip_serializing_if = "DataSpec::is_mnist")]
    pub data: DataSpec,
    /// Labelled images per run; `None` is all of the training images.
    pub label_counts: Vec<Option<usize>>,
    pub seeds: Vec<u64>,
    /// Hidden layer sizes, e.g. `[500, 500]`.
    pub hidden: Vec<usize>,
    /// Unlabelled training images for pretraining: the first ones.
    pub train_rows: usize,
    pub pretrain: TrainConfig,
    /// Both arms; `max_epochs` is the budget, no early stopping.
    pub finetune: FinetuneConfig,
}

impl FewLabelsConfig {
    /// Rules: counts are multiples of 10 (class-balanced) within the
    /// training images, at least one seed, a valid stack and fine-tuning.
    pub fn validate(&self) -> Result<(), String> {
        if self.label_counts.is_empty() || self.seeds.is_empty() {
            return Err("at least one label count and one seed are needed".into());
        }
        if super::has_repeats(&self.label_counts) {
            return Err(format!(
                "--labels: each count once, found {:?}",
                self.label_counts
            ));
        }
        if super::has_repeats(&self.seeds) {
            return Err(format!(
                "--seeds: seeds must differ, found {:?}",
                self.seeds
            ));
        }
        if self.train_rows == 0 || self.train_rows > self.data.train_images {
            return Err(format!(
                "train_rows (--train-rows) must be in 1..={}",
                self.data.train_images
            ));
        }
        let classes = self.data.classes;
        for n in self.label_counts.iter().flatten() {
            if *n == 0 || n % classes != 0 || *n > self.train_rows {
                return Err(format!(
                    "label count {n} (--labels): must be a positive multiple of the {classes} classes \
                     (the same number per class) of at most {} training images",
                    self.train_rows
                ));
            }
        }
        let sizes = self.sizes();
        ClassifierConfig::new(sizes.clone(), classes)
            .validate()
            .map_err(|e| e.to_string())?;
        StackConfig::uniform(&sizes, &self.pretrain)
            .validate()
            .map_err(|e| e.to_string())?;
        self.finetune.validate().map_err(|e| e.to_string())?;
        if self.finetune.patience.is_some() {
            return Err(
                "few-label runs fine-tune for a fixed budget: patience must be none".into(),
            );
        }
        Ok(())
    }

    pub fn sizes(&self) -> Vec<usize> {
        self.data.layer_sizes(&self.hidden)
    }
}

/// The indices of `n` images, `n / classes` of each class, drawn without
/// replacement with `seed` (a Fisher-Yates shuffle per class).
///
/// # Errors
/// If `n` is not a multiple of `classes`, or a class has too few images.
pub fn balanced_subset(
    labels: &[u8],
    n: usize,
    classes: usize,
    seed: u64,
) -> Result<Vec<usize>, String> {
    if classes == 0 || !n.is_multiple_of(classes) {
        return Err(format!(
            "{n} labels cannot be split evenly over {classes} classes"
        ));
    }
    let per_class = n / classes;
    let mut sampler = Sampler::new(seed);
    let mut chosen = Vec::with_capacity(n);
    for class in 0..classes {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == class)
            .collect();
        if members.len() < per_class {
            return Err(format!(
                "class {class} has {} images, {per_class} are needed",
                members.len()
            ));
        }
        sampler.shuffle(&mut members);
        chosen.extend_from_slice(&members[..per_class]);
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// The labelled images at `indices`, repeated (in order) to at least
/// [`MIN_EPOCH_ROWS`] rows.
pub fn repeated_subset(
    all: &LabelledImages,
    indices: &[usize],
    classes: usize,
) -> Result<LabelledImages, dbn::DbnError> {
    let width = all.width();
    let copies = MIN_EPOCH_ROWS.div_ceil(indices.len()).max(1);
    let mut pixels = Vec::with_capacity(copies * indices.len() * width);
    let mut labels = Vec::with_capacity(copies * indices.len());
    for _ in 0..copies {
        for &i in indices {
            pixels.extend_from_slice(&all.pixels()[i * width..(i + 1) * width]);
            labels.push(all.labels()[i]);
        }
    }
    LabelledImages::new(pixels, labels, width, classes, "labelled subset")
}

/// One run's result (`units/<name>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FewLabelsResult {
    /// `None`: all training images.
    pub labels: Option<usize>,
    pub seed: u64,
    pub arm: Arm,
    pub test_error_percent: f64,
    pub seconds: f64,
}

pub fn unit_name(labels: Option<usize>, seed: u64, arm: Arm) -> String {
    let n = labels.map_or("all".to_string(), |n| n.to_string());
    format!("labels-{n}-seed-{seed}-{}", arm.name())
}

/// The stack of `seed`, pretrained on the first `train_rows` images
/// without labels (resumable, under `stacks/seed-<seed>/`); `None` if
/// interrupted.
pub fn pretrained_stack(
    run: &RunDir,
    config: &FewLabelsConfig,
    seed: u64,
    images: &Tensor<2>,
    renderer: &mut dyn MetricsRenderer,
    interrupter: &Interrupter,
) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
    crate::runs::study::seed_stack(
        run,
        &config.sizes(),
        &config.pretrain,
        seed,
        images,
        renderer,
        interrupter,
    )
}

/// Fine-tunes one network on `labelled` (already the balanced, repeated
/// subset) and commits its result; `None` if interrupted.
#[allow(clippy::too_many_arguments)]
pub fn run_unit(
    run: &RunDir,
    config: &FewLabelsConfig,
    labels: Option<usize>,
    seed: u64,
    stack: Option<&RbmStack>,
    labelled: &LabelledImages,
    test: &LabelledImages,
    device: &Device,
    renderer: Box<dyn MetricsRenderer>,
    records: (&SharedRecords, &str),
    interrupter: &Interrupter,
) -> UnitOutcome<FewLabelsResult> {
    let (records, records_file) = records;
    let started = std::time::Instant::now();
    let (arm, model) = unit_network(stack, &config.sizes(), config.data.classes, seed, device)?;
    let name = unit_name(labels, seed, arm);
    let learner_dir = crate::runs::study::fresh_learner_dir(run, &name)?;
    // A unit starts again from its first epoch: the records of a killed
    // attempt go, so the file holds each epoch once.
    let phase = format!("finetune {name}");
    run.retain_jsonl(records_file, |record| record["phase"] != phase.as_str())?;
    let outcome = finetune(
        model,
        &FinetuneConfig {
            seed,
            ..config.finetune.clone()
        },
        labelled.clone(),
        labelled.clone(),
        &learner_dir,
        None,
        renderer,
        records,
        interrupter,
        &phase,
        Selection::Last,
    )?;
    if outcome.interrupted {
        return Ok((None, outcome.renderer));
    }
    let (images, targets) = test.tensors(device);
    let result = FewLabelsResult {
        labels,
        seed,
        arm,
        test_error_percent: 100.0 * outcome.best.error_rate(&images, &targets, 1000),
        seconds: started.elapsed().as_secs_f64(),
    };
    run.subdir("units")?;
    let file = format!("units/{name}.json");
    run.write_json(&file, &result)?;
    run.commit(
        &format!("units/{name}"),
        serde_json::json!({ "done": true }),
        &[("result", &file)],
    )?;
    let _ = std::fs::remove_dir_all(&learner_dir);
    Ok((Some(result), outcome.renderer))
}

/// The records file of `shard`: `metrics.jsonl` for a whole sweep, one
/// per shard otherwise (shards append at once, and a unit that starts
/// again rewrites its file).
pub fn records_file(shard: Shard) -> String {
    if shard == Shard::WHOLE {
        "metrics.jsonl".into()
    } else {
        format!("metrics-shard-{}-of-{}.jsonl", shard.index, shard.count)
    }
}

/// The committed result of unit `name`, if any.
pub fn load_unit(
    run: &RunDir,
    name: &str,
) -> Result<Option<FewLabelsResult>, Box<dyn std::error::Error>> {
    Ok(run.last_committed_json(&format!("units/{name}"), "result")?)
}

/// The few-label sweep as the sweep driver runs it: units of
/// `(label count, seed, arm)`.
struct FewLabelsSweep<'a> {
    run: &'a RunDir,
    config: &'a FewLabelsConfig,
    /// All training images, labelled, and the same on the device.
    all: &'a LabelledImages,
    images: &'a Tensor<2>,
    test: &'a LabelledImages,
    device: &'a Device,
    records: &'a SharedRecords,
    /// This process's records file (one per shard: shards append at once).
    records_file: &'a str,
    interrupter: &'a Interrupter,
}

impl ArmSweep for FewLabelsSweep<'_> {
    type Setting = Option<usize>;
    type Stack = RbmStack;

    fn unit_name(&self, labels: Option<usize>, seed: u64, arm: Arm) -> String {
        unit_name(labels, seed, arm)
    }

    fn is_committed(&self, name: &str) -> Result<bool, Box<dyn std::error::Error>> {
        Ok(load_unit(self.run, name)?.is_some())
    }

    fn finished_stack(&self, seed: u64) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
        crate::runs::study::finished_seed_stack(
            self.run,
            &self.config.sizes(),
            &self.config.pretrain,
            seed,
            self.device,
        )
    }

    fn should_stop(&self) -> bool {
        self.interrupter.should_stop()
    }

    fn pretrained_stack(
        &mut self,
        seed: u64,
        renderer: &mut dyn MetricsRenderer,
    ) -> Result<Option<RbmStack>, Box<dyn std::error::Error>> {
        pretrained_stack(
            self.run,
            self.config,
            seed,
            self.images,
            renderer,
            self.interrupter,
        )
    }

    fn train_unit(
        &mut self,
        labels: Option<usize>,
        seed: u64,
        stack: Option<&RbmStack>,
        renderer: Box<dyn MetricsRenderer>,
    ) -> UnitOutcome<String> {
        let classes = self.config.data.classes;
        let indices = match labels {
            Some(n) => balanced_subset(self.all.labels(), n, classes, seed)?,
            None => (0..self.all.len()).collect(),
        };
        let subset = repeated_subset(self.all, &indices, classes)?;
        let (result, renderer) = run_unit(
            self.run,
            self.config,
            labels,
            seed,
            stack,
            &subset,
            self.test,
            self.device,
            renderer,
            (self.records, self.records_file),
            self.interrupter,
        )?;
        let line = result.map(|r| {
            format!(
                "test error {:.2}% ({:.0} s)",
                r.test_error_percent, r.seconds
            )
        });
        Ok((line, renderer))
    }
}

/// Runs (or resumes) `shard`'s units of the few-label sweep of `config` on
/// `set` in `run` through the sweep driver; the whole sweep
/// ([`Shard::WHOLE`]) then writes the table, `few-labels.png` and
/// `result.json` and returns the lines to print last (the table and one
/// `few_labels_N_ARM=MEAN` line per count and arm); a shard returns one
/// line (the report is `--report`'s, once every shard is done).
pub fn run_few_labels(
    run: &RunDir,
    config: &FewLabelsConfig,
    set: &datasets::ImageSet,
    shard: Shard,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<Outcome<Vec<String>>, Box<dyn std::error::Error>> {
    let classes = set.classes;
    let all = crate::data::labelled(
        &set.train.range(0, config.train_rows),
        classes,
        "training images",
    )?;
    let test = crate::data::labelled(&set.test, classes, "test images")?;
    let (images, _) = all.tensors(device);
    let interrupter = Interrupter::new();
    let records_file = records_file(shard);
    let (renderer, records) =
        crate::output::dashboard::dashboard(&interrupter, Some((run.clone(), &records_file)));
    let mut sweep = FewLabelsSweep {
        run,
        config,
        all: &all,
        images: &images,
        test: &test,
        device,
        records: &records,
        records_file: &records_file,
        interrupter: &interrupter,
    };
    if run_sweep(
        &mut sweep,
        run,
        shard,
        &config.seeds,
        &config.label_counts,
        renderer,
        say,
    )? == Outcome::Interrupted
    {
        return Ok(Outcome::Interrupted);
    }
    if shard != Shard::WHOLE {
        return Ok(Outcome::Finished(vec![
            crate::run_dir::shard::shard_done_line(shard, &run.path),
        ]));
    }
    report(run, config).map(Outcome::Finished)
}

/// The table, the plot and `result.json` of the units committed so far
/// (each row's n says how many seeds it holds; the missing units are
/// named); returns the lines to print. An error if nothing is committed.
pub fn report(
    run: &RunDir,
    config: &FewLabelsConfig,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut rows = Vec::new();
    let mut lines = vec![
        String::new(),
        "| labelled images | pretrained: test error, mean +- sd (n) | random init |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut last = Vec::new();
    let mut missing = Vec::new();
    for &labels in &config.label_counts {
        let mut errors = |arm| -> Result<Vec<f64>, Box<dyn std::error::Error>> {
            let mut found = Vec::new();
            for &seed in &config.seeds {
                let name = unit_name(labels, seed, arm);
                match load_unit(run, &name)? {
                    Some(unit) => found.push(unit.test_error_percent),
                    None => missing.push(name),
                }
            }
            Ok(found)
        };
        let (p, r) = (errors(Arm::Pretrained)?, errors(Arm::Random)?);
        if p.is_empty() || r.is_empty() {
            continue;
        }
        let ((pm, ps), (rm, rs)) = (
            crate::runs::function_space::mean_std(&p),
            crate::runs::function_space::mean_std(&r),
        );
        let n = labels.map_or("all".to_string(), |n| n.to_string());
        lines.push(format!(
            "| {n} | {pm:.2} +- {ps:.2}% ({}) | {rm:.2} +- {rs:.2}% ({}) |",
            p.len(),
            r.len()
        ));
        last.push(format!("few_labels_{n}_pretrained={pm:.2}"));
        last.push(format!("few_labels_{n}_random={rm:.2}"));
        rows.push((n, p, r));
    }
    if rows.is_empty() {
        return Err(format!(
            "{}: no label count has units of both arms committed yet",
            run.path.display()
        )
        .into());
    }
    if !missing.is_empty() {
        lines.insert(
            0,
            format!(
                "not yet committed (left out of this report): {}",
                missing.join(", ")
            ),
        );
    }
    crate::output::plots::plot_strips(
        &run.file("few-labels.png"),
        "Test error with N labelled images (pretraining used all images without labels)",
        "labelled training images N",
        "test error (%)",
        &rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ("pretrained", "random initialisation"),
        &rows
            .iter()
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect::<Vec<_>>(),
    )?;
    run.write_json(
        "result.json",
        &rows
            .iter()
            .map(|(n, p, r)| serde_json::json!({ "labels": n, "pretrained": p, "random": r }))
            .collect::<Vec<_>>(),
    )?;
    lines.push(format!("wrote {}", run.path.display()));
    lines.extend(last);
    Ok(lines)
}

crate::run_config!(FewLabelsConfig, data);
