//! One dashboard for a whole run: Burn's TUI on a terminal, one plain line
//! per epoch otherwise (printing is the binaries' side of
//! [`dbn::monitor`]), fed by Burn's `Learner` (fine-tuning) and by the RBM
//! trainers, every epoch's metrics appended to `metrics.jsonl`.

use std::collections::HashMap;
use std::io::IsTerminal;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, default_renderer,
};
use burn::train::{Interrupter, LearnerSummary};
pub use dbn::monitor::{
    Divergence, EpochRecord, EpochRecorder, PretrainReporter, Records, SharedRecords,
};

use crate::run_dir::RunDir;

/// One record of `metrics.jsonl` for an RBM trainer's epoch, in the schema
/// every trainer writes (`phase`, 1-based `epoch`, numeric `values`).
pub fn rbm_epoch_record(phase: &str, metrics: &rbm::EpochMetrics) -> EpochRecord {
    let values = serde_json::to_value(metrics)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "epoch")
        .filter_map(|(k, v)| Some((k, v.as_f64()?)))
        .collect();
    EpochRecord {
        phase: phase.to_string(),
        epoch: metrics.epoch,
        values,
    }
}

/// The run's dashboard: Burn's TUI when stdout is a terminal, else
/// [`PlainRenderer`]; wrapped in a [`dbn::monitor::EpochRecorder`]. The interrupter is
/// shared with the TUI (its `q` key) and the training loops; the recorder
/// stops training through it when a loss is not finite (see [`Divergence`]).
pub fn dashboard(
    interrupter: &Interrupter,
    log: Option<(RunDir, &str)>,
) -> (Box<dyn MetricsRenderer>, SharedRecords) {
    let inner: Box<dyn MetricsRenderer> = if std::io::stdout().is_terminal() {
        // Burn picks its TUI only on a terminal; never construct it directly.
        default_renderer(interrupter.clone(), None)
    } else {
        Box::new(PlainRenderer::default())
    };
    let on_epoch = log.map(|(dir, name)| {
        let name = name.to_string();
        Box::new(move |record: &EpochRecord| {
            if let Err(e) = dir.append_jsonl(&name, record) {
                eprintln!("warning: could not append to {name}: {e}");
            }
        }) as dbn::monitor::EpochCallback
    });
    dbn::monitor::recorder(inner, interrupter, on_epoch)
}

/// A renderer for logs, CI and pipes: one line per epoch with every
/// metric's end-of-epoch value, nothing per batch, never a terminal query.
#[derive(Debug, Default)]
pub struct PlainRenderer {
    label: String,
    total_epochs: usize,
    names: HashMap<MetricId, String>,
    finals: Vec<(&'static str, String, f64)>,
}

impl PlainRenderer {
    fn record(&mut self, split: &'static str, state: MetricState) {
        if let MetricState::Numeric(entry, Some(NumericEntry::Final(value))) = state {
            let name = self
                .names
                .get(&entry.metric_id)
                .cloned()
                .unwrap_or_default();
            self.finals.push((split, name, value));
        }
    }
}

impl MetricsRendererTraining for PlainRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record("train", state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record("valid", state);
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        if let Some(summary) = summary {
            println!("{summary}");
        }
        Ok(())
    }
}

impl TrainingProgressLogger for PlainRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _items: Option<usize>,
        label: Option<&str>,
    ) {
        self.label = label.unwrap_or("training").to_string();
        self.total_epochs = total_epochs;
        if starting_epoch > total_epochs {
            println!("{}: all {total_epochs} epochs done", self.label);
        } else if starting_epoch > 1 {
            println!(
                "{}: resuming at epoch {starting_epoch} of {total_epochs}",
                self.label
            );
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        let mut line = format!("{} epoch {epoch:>3}/{}", self.label, self.total_epochs);
        let mut split_shown = "";
        for (split, name, value) in self.finals.drain(..) {
            if split != split_shown {
                line.push_str(&format!("  | {split}:"));
                split_shown = split;
            }
            line.push_str(&format!(" {name} {value:.4}"));
        }
        println!("{line}");
    }

    fn start_split(&mut self, _split: &str, _total_items: usize) {}
    fn update_split(&mut self, _items_processed: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for PlainRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for PlainRenderer {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        self.record("test", state);
    }
}

impl MetricsRenderer for PlainRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}
