//! Watching training through Burn's renderer interface, whatever renders
//! it (Burn's TUI, a plain logger, nothing): every epoch's end-of-epoch
//! values kept as [`EpochRecord`]s, divergence (a loss that is not a
//! number) caught per batch, and greedy pretraining reported like a
//! Learner's epochs. Nothing here prints.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{
    MetricDefinition, MetricEntry, MetricId, NumericAttributes, NumericEntry, SerializedEntry,
};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{Interrupter, LearnerSummary};
use serde::Serialize;

use crate::stack::pretrain::PretrainEvent;

/// The metrics of one epoch of one phase, as written to `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochRecord {
    /// `pretrain layer 2`, `finetune`, ...
    pub phase: String,
    /// 1-based epoch within the phase.
    pub epoch: usize,
    /// `train_<metric>` and `valid_<metric>` values at the end of the epoch.
    pub values: BTreeMap<String, f64>,
}

/// A loss that stopped being a number during fine-tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    pub phase: String,
    /// 1-based epoch in which it happened.
    pub epoch: usize,
    /// `train_loss` or `valid_loss`.
    pub quantity: String,
    pub value: f64,
}

/// What the dashboard keeps: every epoch's record, and the divergence that
/// stopped training, if any.
#[derive(Debug, Default)]
pub struct Records {
    pub epochs: Vec<EpochRecord>,
    pub divergence: Option<Divergence>,
}

/// The records, shared between the dashboard and the training code.
pub type SharedRecords = Arc<Mutex<Records>>;

/// Called with each finished epoch's record.
pub type EpochCallback = Box<dyn FnMut(&EpochRecord) + Send + Sync>;

/// Wraps `inner` in an [`EpochRecorder`]: returns the renderer to hand to
/// training and the records it fills. `interrupter` is the one training
/// watches (it is stopped on divergence).
pub fn recorder(
    inner: Box<dyn MetricsRenderer>,
    interrupter: &Interrupter,
    on_epoch: Option<EpochCallback>,
) -> (Box<dyn MetricsRenderer>, SharedRecords) {
    let records = Arc::new(Mutex::new(Records::default()));
    let recorder = EpochRecorder {
        inner,
        interrupter: interrupter.clone(),
        epoch_in_progress: 1,
        names: HashMap::new(),
        current: BTreeMap::new(),
        phase: String::from("training"),
        records: records.clone(),
        on_epoch,
    };
    (Box::new(recorder), records)
}

/// Forwards everything to the inner renderer and keeps each epoch's
/// end-of-epoch values (handing each epoch's record to a callback, e.g. to
/// append it to a file); stops training through the interrupter when a
/// loss is not a finite number (see [`Divergence`]).
pub struct EpochRecorder {
    inner: Box<dyn MetricsRenderer>,
    interrupter: Interrupter,
    epoch_in_progress: usize,
    names: HashMap<MetricId, String>,
    current: BTreeMap<String, f64>,
    phase: String,
    records: SharedRecords,
    on_epoch: Option<EpochCallback>,
}

impl EpochRecorder {
    fn record(&mut self, split: &str, state: &MetricState) {
        // Every value, per batch as well as per epoch: a loss that is not a
        // number stops training at once, before the epoch is checkpointed,
        // so the last checkpoint is the last good epoch.
        if let MetricState::Numeric(entry, Some(value)) = state {
            let name = self
                .names
                .get(&entry.metric_id)
                .cloned()
                .unwrap_or_default();
            let value = value.current();
            if name.to_lowercase().contains("loss") && !value.is_finite() {
                let mut records = self.records.lock().expect("not poisoned");
                if records.divergence.is_none() {
                    records.divergence = Some(Divergence {
                        phase: self.phase.clone(),
                        epoch: self.epoch_in_progress,
                        quantity: format!("{split}_loss"),
                        value,
                    });
                    self.interrupter
                        .stop(Some("the loss is not a finite number (diverged)"));
                }
            }
        }
        if let MetricState::Numeric(entry, Some(NumericEntry::Final(value))) = state {
            let name = self
                .names
                .get(&entry.metric_id)
                .cloned()
                .unwrap_or_default();
            let key = format!("{split}_{}", name.to_lowercase().replace(' ', "_"));
            self.current.insert(key, *value);
        }
    }
}

impl MetricsRendererTraining for EpochRecorder {
    fn update_train(&mut self, state: MetricState) {
        self.record("train", &state);
        self.inner.update_train(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record("valid", &state);
        self.inner.update_valid(state);
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        self.inner.on_train_end(summary)
    }
}

impl TrainingProgressLogger for EpochRecorder {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        items: Option<usize>,
        label: Option<&str>,
    ) {
        self.phase = label.unwrap_or("training").to_string();
        self.epoch_in_progress = starting_epoch.max(1);
        self.current.clear();
        self.inner.start(total_epochs, starting_epoch, items, label);
    }

    fn update_epoch(&mut self, epoch: usize) {
        let record = EpochRecord {
            phase: self.phase.clone(),
            epoch,
            values: std::mem::take(&mut self.current),
        };
        if let Some(on_epoch) = &mut self.on_epoch {
            on_epoch(&record);
        }
        self.records
            .lock()
            .expect("not poisoned")
            .epochs
            .push(record);
        self.epoch_in_progress = epoch + 1;
        self.inner.update_epoch(epoch);
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.inner.start_split(split, total_items);
    }
    fn update_split(&mut self, items_processed: usize) {
        self.inner.update_split(items_processed);
    }
    fn end_split(&mut self) {
        self.inner.end_split();
    }
    fn end(&mut self) {
        self.inner.end();
    }
    fn log_event_training(&mut self, event: String) {
        self.inner.log_event_training(event);
    }
}

impl EvaluationProgressLogger for EpochRecorder {
    fn start_global_progress(&mut self, total_tests: usize) {
        self.inner.start_global_progress(total_tests);
    }
    fn start_test(&mut self, name: &str, total_items: usize) {
        self.inner.start_test(name, total_items);
    }
    fn update_test_progress(&mut self, items_processed: usize) {
        self.inner.update_test_progress(items_processed);
    }
    fn end_test(&mut self) {
        self.inner.end_test();
    }
    fn end_global_progress(&mut self) {
        self.inner.end_global_progress();
    }
    fn log_event_evaluation(&mut self, event: String) {
        self.inner.log_event_evaluation(event);
    }
}

impl MetricsRendererEvaluation for EpochRecorder {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        self.inner.update_test(name, state);
    }
}

impl MetricsRenderer for EpochRecorder {
    fn manual_close(&mut self) {
        self.inner.manual_close();
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
        self.inner.register_metric(definition);
    }
}

/// Feeds greedy pretraining's events to a renderer: per layer a "training"
/// with its epochs, the reconstruction error of the training and held-out
/// data as end-of-epoch values, and the batch progress.
pub struct PretrainReporter {
    /// Replaces "pretrain layer L/N (VxH)" as the phase label.
    label: Option<String>,
    reconstruction: MetricId,
    free_energy_gap: MetricId,
    registered: bool,
    batch_size: usize,
    interrupter: Interrupter,
}

impl PretrainReporter {
    pub fn new(batch_size: usize, interrupter: Interrupter) -> Self {
        Self {
            label: None,
            reconstruction: MetricId::new(Arc::new(RECONSTRUCTION.to_string())),
            free_energy_gap: MetricId::new(Arc::new(FREE_ENERGY_GAP.to_string())),
            registered: false,
            batch_size,
            interrupter,
        }
    }

    /// The same, labelling every layer's epochs `label` (a single RBM's
    /// training, e.g. `train-rbm`).
    pub fn labelled(batch_size: usize, interrupter: Interrupter, label: &str) -> Self {
        Self {
            label: Some(label.to_string()),
            ..Self::new(batch_size, interrupter)
        }
    }

    /// Reports one event; asks to stop when the interrupter says so.
    pub fn report(
        &mut self,
        renderer: &mut dyn MetricsRenderer,
        event: &PretrainEvent<'_>,
    ) -> ControlFlow<()> {
        match event {
            PretrainEvent::LayerStarted {
                layer,
                layers,
                n_visible,
                n_hidden,
                epochs,
                epochs_done,
                ..
            } => {
                if !self.registered {
                    // The TUI needs every metric registered before its first value.
                    for (id, name) in [
                        (&self.reconstruction, RECONSTRUCTION),
                        (&self.free_energy_gap, FREE_ENERGY_GAP),
                    ] {
                        // Lower is better for both.
                        renderer.register_metric(MetricDefinition {
                            metric_id: id.clone(),
                            name: Arc::new(name.to_string()),
                            description: None,
                            attributes: NumericAttributes {
                                unit: None,
                                higher_is_better: false,
                            }
                            .into(),
                        });
                    }
                    self.registered = true;
                }
                let label = self.label.clone().unwrap_or_else(|| {
                    format!("pretrain layer {layer}/{layers} ({n_visible}x{n_hidden})")
                });
                renderer.start(*epochs, epochs_done + 1, None, Some(&label));
            }
            PretrainEvent::Batch { batch, batches, .. } => {
                if *batch == 1 {
                    renderer.start_split("train", batches * self.batch_size);
                }
                if batch % 10 == 0 || batch == batches {
                    renderer.update_split(batch * self.batch_size);
                    renderer.log_event_training("Iteration".into());
                }
            }
            PretrainEvent::Epoch { metrics, .. } => {
                let finals = [
                    (
                        "train",
                        &self.reconstruction,
                        Some(metrics.reconstruction_error),
                    ),
                    (
                        "valid",
                        &self.reconstruction,
                        metrics.held_out_reconstruction_error,
                    ),
                    ("valid", &self.free_energy_gap, metrics.free_energy_gap),
                ];
                for (split, id, value) in finals {
                    let Some(value) = value else { continue };
                    let entry = MetricEntry::new(
                        id.clone(),
                        SerializedEntry::new(format!("{value:.5}"), value.to_string()),
                    );
                    let state = MetricState::Numeric(entry, Some(NumericEntry::Final(value)));
                    if split == "train" {
                        renderer.update_train(state);
                    } else {
                        renderer.update_valid(state);
                    }
                }
                renderer.end_split();
                renderer.update_epoch(metrics.epoch);
            }
            PretrainEvent::LayerFinished { .. } => renderer.end(),
        }
        if self.interrupter.should_stop() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The names of the pretraining metrics (also their ids).
const RECONSTRUCTION: &str = "RBM reconstruction MSE";
const FREE_ENERGY_GAP: &str = "RBM free-energy gap";

/// A renderer that shows nothing: for library users who train without a
/// dashboard (the records of [`recorder`] are still kept).
#[derive(Debug, Default)]
pub struct Silent;

impl MetricsRendererTraining for Silent {
    fn update_train(&mut self, _state: MetricState) {}
    fn update_valid(&mut self, _state: MetricState) {}
}

impl TrainingProgressLogger for Silent {
    fn start(
        &mut self,
        _epochs: usize,
        _starting: usize,
        _items: Option<usize>,
        _label: Option<&str>,
    ) {
    }
    fn update_epoch(&mut self, _epoch: usize) {}
    fn start_split(&mut self, _split: &str, _total_items: usize) {}
    fn update_split(&mut self, _items_processed: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for Silent {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for Silent {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for Silent {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _definition: MetricDefinition) {}
}
