//! Fine-tuning a [`DbnClassifier`] with Burn's `Learner`: SGD with momentum,
//! a checkpoint every epoch, early stopping on the validation error, and
//! the best-validation model at the end. The caller gives the renderer
//! (Burn's TUI, a logger, or [`crate::monitor::recorder`] around either) and
//! the directory for the Learner's checkpoints; nothing here prints.

use std::path::{Path, PathBuf};

use crate::finetune::batch::ClassificationBatcher;
use crate::finetune::batch::LabelledImages;
use crate::finetune::classifier::DbnClassifier;
use crate::finetune::config::FinetuneConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::{DataLoader, DataLoaderBuilder, DataLoaderIterator};
use burn::prelude::*;
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::renderer::MetricsRenderer;
use burn::train::{
    EarlyStoppingStrategy, Interrupter, Learner, MetricEarlyStoppingStrategy, StoppingCondition,
    SupervisedTraining,
};

use crate::monitor::SharedRecords;

/// The phase label that fine-tuning epochs carry in the dashboard and in
/// `metrics.jsonl`.
pub const FINETUNE_PHASE: &str = "finetune";
/// The phase label of a final pass on all training data.
pub const FINAL_PASS_PHASE: &str = "final pass";
/// The phase label of the head-only epochs before fine-tuning.
pub const HEAD_PHASE: &str = "finetune head";

/// Which epoch's model [`finetune`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The best validation accuracy (early stopping's choice).
    BestValidation,
    /// The last epoch (for a final pass whose "validation" data are part of
    /// the training data).
    Last,
    /// The last epoch, with every epoch's checkpoint kept (for studies
    /// that look at the model after each epoch, [`model_checkpoint`]).
    LastKeepingAll,
}

/// What fine-tuning produced.
pub struct FinetuneOutcome {
    /// The model of the epoch with the best validation accuracy (ties: the
    /// earlier epoch), or of the last epoch (see [`Selection`]), in
    /// inference mode.
    pub best: DbnClassifier,
    pub best_epoch: usize,
    pub best_valid_error: f64,
    /// Epochs completed, counting those before a resume.
    pub epochs_done: usize,
    /// The user or an error stopped training early (not early stopping).
    pub interrupted: bool,
    /// The dashboard, handed back for further phases.
    pub renderer: Box<dyn MetricsRenderer>,
}

/// The highest epoch with a complete checkpoint in `dir` (the `Learner`'s
/// directory), if any: where `--resume` continues.
pub fn last_checkpoint(dir: &Path) -> Option<usize> {
    checkpoint_epochs(dir).into_iter().max()
}

fn checkpoint_epochs(dir: &Path) -> Vec<usize> {
    let Ok(entries) = std::fs::read_dir(dir.join("checkpoint")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let epoch = name
                .strip_prefix("model-")?
                .strip_suffix(".bpk")?
                .parse()
                .ok()?;
            // A checkpoint is complete only with its optimiser and schedule.
            ["optim", "scheduler"]
                .iter()
                .all(|part| {
                    dir.join("checkpoint")
                        .join(format!("{part}-{epoch}.bpk"))
                        .exists()
                })
                .then_some(epoch)
        })
        .collect()
}

/// Fine-tunes `model` on `train`, validating on `valid` after every epoch
/// (`phase` labels the epochs on the dashboard and in the records),
/// with Burn's `Learner` writing checkpoints and logs to `dir`. With
/// `resume_from = Some(epoch)`, the model, optimiser and schedule are
/// restored from that checkpoint and training continues with the next epoch
/// (the data order and dropout masks are an uninterrupted run's, see
/// [`ResumedOrder`]). Burn restores the optimiser's state on its default
/// device (`Device::default()`, a GPU whenever one is compiled in) and
/// moves it to the model's at the next step: a caller on a CPU backend
/// sets `BURN_DEVICE` first, as `deepbelief` does
/// (`experiments::pin_burn_default_device`).
#[allow(clippy::too_many_arguments)]
pub fn finetune(
    model: DbnClassifier,
    config: &FinetuneConfig,
    train: LabelledImages,
    valid: LabelledImages,
    dir: &Path,
    resume_from: Option<usize>,
    renderer: Box<dyn MetricsRenderer>,
    records: &SharedRecords,
    interrupter: &Interrupter,
    phase: &str,
    selection: Selection,
) -> Result<FinetuneOutcome, Box<dyn std::error::Error>> {
    config.validate()?;
    let device = model.head.weight.device();
    if let Some(epoch) = resume_from {
        // Burn loads the checkpoint itself and panics on a broken one: check
        // that its model record loads into this architecture first.
        let path = model_checkpoint(dir, epoch);
        model.clone().try_load_file(&path).map_err(|e| {
            format!(
                "{}: torn or foreign checkpoint of epoch {epoch}: {e}",
                path.display()
            )
        })?;
        for part in ["optim", "scheduler"] {
            let path = dir.join("checkpoint").join(format!("{part}-{epoch}.bpk"));
            if std::fs::metadata(&path).map_or(true, |m| m.len() == 0) {
                return Err(
                    format!("{}: torn checkpoint (missing or empty)", path.display()).into(),
                );
            }
        }
    }
    let batches = train.len().div_ceil(config.batch_size);
    let loader_train = Arc::new(ResumedOrder {
        inner: DataLoaderBuilder::new(ClassificationBatcher)
            .batch_size(config.batch_size)
            .shuffle(config.seed)
            .set_device(device.clone())
            .build(train),
        seed: config.seed,
        epochs_done: resume_from.unwrap_or(0),
    });
    let loader_valid = DataLoaderBuilder::new(ClassificationBatcher)
        .batch_size(1000)
        .set_device(device.clone())
        .build(valid.clone());
    // Dropout masks come from the device's generator: seeded here, and
    // again at each training epoch's start from (seed, epoch) by
    // `ResumedOrder`, so a resumed run draws an uninterrupted run's masks.
    device.seed(config.seed);
    let learner = Learner::new(
        model.with_dropout(config.dropout).train(),
        config.optimizer(),
        config.lr_scheduler(batches),
    );
    // Keep the last epoch (to resume) and the best by validation accuracy.
    let strategy = ComposedCheckpointingStrategy::builder()
        .add(KeepLastNCheckpoints::new(
            if selection == Selection::LastKeepingAll {
                config.max_epochs + 1
            } else {
                1
            },
        ))
        .add(MetricCheckpointingStrategy::new(
            &AccuracyMetric::new(),
            Aggregate::Mean,
            Direction::Highest,
            Split::Valid,
        ))
        .build();
    let mut training = SupervisedTraining::new(dir, loader_train, loader_valid)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .with_checkpointing_strategy(strategy)
        .with_default_checkpointers()
        .with_application_logger(None)
        .with_interrupter(interrupter.clone())
        .renderer(renderer)
        .label(phase)
        .num_epochs(config.max_epochs);
    if let Some(patience) = config.patience {
        training = training.early_stopping(ResumedEarlyStopping {
            inner: MetricEarlyStoppingStrategy::new(
                &AccuracyMetric::new(),
                Aggregate::Mean,
                Direction::Highest,
                Split::Valid,
                StoppingCondition::NoImprovementSince { n_epochs: patience },
            ),
            next_epoch: 1,
        });
    }
    if let Some(epoch) = resume_from {
        training = training.checkpoint(epoch);
    }
    let result = training.launch(learner);
    if let Some(error) = result.error {
        return Err(format!("fine-tuning failed: {error:?}").into());
    }
    // Divergence rule: a training or validation loss that is not a finite
    // number (per batch); the dashboard stopped training before the epoch
    // was checkpointed, so the last checkpoint is the last good epoch.
    if let Some(d) = records.lock().expect("not poisoned").divergence.clone() {
        return Err(crate::error::DbnError::Diverged {
            phase: "fine-tuning",
            epoch: d.epoch,
            quantity: if d.quantity == "train_loss" {
                "training loss"
            } else {
                "validation loss"
            },
            value: d.value,
            rule: format!(
                "not a finite number; the last good checkpoint is kept in {}",
                dir.display()
            ),
        }
        .into());
    }
    let interrupted = result.interrupted.is_some();
    let last = result.model;

    // The best epoch among those whose checkpoint Burn kept (the last and
    // the best by validation accuracy), each measured again on `valid`:
    // records of this process know nothing of epochs before a resume, so a
    // resumed run must not choose by them.
    let epochs_done = last_checkpoint(dir).unwrap_or(0);
    let (images, labels) = valid.tensors(&device);
    let load = |epoch: usize| {
        last.clone()
            .try_load_file(model_checkpoint(dir, epoch))
            .map_err(|e| format!("loading checkpoint {epoch}: {e}"))
    };
    let (best, best_epoch, best_valid_error) = if selection != Selection::BestValidation {
        match Some(epochs_done).filter(|&e| e > 0) {
            Some(epoch) => {
                let model = load(epoch)?;
                let error = model.error_rate(&images, &labels, 1000);
                (model, epoch, error)
            }
            None => {
                let error = last.error_rate(&images, &labels, 1000);
                (last, 0, error)
            }
        }
    } else {
        let mut chosen: Option<(DbnClassifier, usize, f64)> = None;
        // Ascending epochs; a tie keeps the earlier epoch.
        for epoch in checkpoint_epochs_sorted(dir) {
            let model = load(epoch)?;
            let error = model.error_rate(&images, &labels, 1000);
            if chosen.as_ref().is_none_or(|(_, _, best)| error < *best) {
                chosen = Some((model, epoch, error));
            }
        }
        match chosen {
            Some(found) => found,
            None => {
                let error = last.error_rate(&images, &labels, 1000);
                (last, 0, error)
            }
        }
    };
    Ok(FinetuneOutcome {
        best: best.with_dropout(crate::finetune::config::DropoutRates::NONE),
        best_epoch,
        best_valid_error,
        epochs_done,
        interrupted,
        renderer: result.renderer,
    })
}

/// Burn's early stopping, made to survive a resume: Burn's strategy keeps
/// its best epoch in memory, so a resumed process would count patience from
/// its own first epoch and run past an uninterrupted run's stop. Before the
/// first epoch this process sees, the epochs before it are replayed from
/// the metric logs the Learner keeps on disk (`valid/epoch-N/`), so the
/// state is an uninterrupted run's.
#[derive(Clone)]
struct ResumedEarlyStopping {
    inner: MetricEarlyStoppingStrategy,
    /// The first epoch the inner strategy has not seen.
    next_epoch: usize,
}

impl EarlyStoppingStrategy for ResumedEarlyStopping {
    fn should_stop(&mut self, epoch: usize, store: &EventStoreClient) -> bool {
        // Epochs before a resume: an uninterrupted run did not stop at them
        // (it went on to checkpoint later ones), so only the state counts.
        for earlier in self.next_epoch..epoch {
            self.inner.should_stop(earlier, store);
        }
        self.next_epoch = epoch + 1;
        self.inner.should_stop(epoch, store)
    }
}

/// The complete checkpoints in `dir`, oldest first.
fn checkpoint_epochs_sorted(dir: &Path) -> Vec<usize> {
    let mut epochs = checkpoint_epochs(dir);
    epochs.sort_unstable();
    epochs
}

/// The model file of a Learner checkpoint.
pub fn model_checkpoint(dir: &Path, epoch: usize) -> PathBuf {
    dir.join("checkpoint").join(format!("model-{epoch}.bpk"))
}

/// The training loader of a run that resumes after `epochs_done` epochs:
/// Burn's shuffling loader, whose generator is forked once when the
/// Learner moves it to its device and advanced by one shuffle per epoch,
/// is advanced past the epochs already done, so epoch `e` sees the order
/// an uninterrupted run's epoch `e` saw. Each epoch also reseeds the
/// device's generator from (seed, epoch): dropout masks then depend on the
/// epoch, not on how many epochs this process ran.
struct ResumedOrder<O> {
    inner: Arc<dyn DataLoader<O>>,
    seed: u64,
    epochs_done: usize,
}

/// The loader the Learner iterates: `inner` (already moved and advanced),
/// and the epoch it is at, to reseed the device at each epoch's start.
struct EpochSeeded<O> {
    inner: Arc<dyn DataLoader<O>>,
    device: Device,
    seed: u64,
    next_epoch: AtomicUsize,
}

impl<O: Send + 'static> DataLoader<O> for ResumedOrder<O> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<O> + 'a> {
        self.inner.iter()
    }

    fn num_items(&self) -> usize {
        self.inner.num_items()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<O>> {
        let moved = self.inner.to_device(device);
        for _ in 0..self.epochs_done {
            // Each `iter` draws the next epoch's permutation; nothing is batched.
            drop(moved.iter());
        }
        Arc::new(EpochSeeded {
            inner: moved,
            device: device.clone(),
            seed: self.seed,
            next_epoch: AtomicUsize::new(self.epochs_done),
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<O>> {
        self.inner.slice(start, end)
    }
}

impl<O: Send + 'static> DataLoader<O> for EpochSeeded<O> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<O> + 'a> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst) as u64;
        self.device
            .seed(self.seed ^ (epoch + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.inner.iter()
    }

    fn num_items(&self) -> usize {
        self.inner.num_items()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<O>> {
        self.inner.to_device(device)
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<O>> {
        self.inner.slice(start, end)
    }
}
