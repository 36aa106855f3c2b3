//! Fine-tuning by Hinton & Salakhutdinov's conjugate gradients
//! (`backpropclassify.m`) inside a `classify` run: fixed batches, the head
//! alone first, every epoch committed (the current and the best model), so
//! a stopped run resumes bit for bit.

use burn::prelude::*;
use dbn::{DbnClassifier, LabelledImages, SgdNet, conjugate_gradient_epoch};

use crate::run_dir::RunDir;

/// The phase of the epoch records in `metrics.jsonl`, and of the final pass.
pub const CONJUGATE_PHASE: &str = "conjugate_gradient";
pub const CONJUGATE_FINAL_PHASE: &str = "conjugate_gradient_final";

/// What to train: the method's settings beside the run's.
#[derive(Debug, Clone, Copy)]
pub struct ConjugateSettings {
    pub batch_size: usize,
    pub line_searches: usize,
    /// Epochs of the head alone (H&S: 5), counted in `max_epochs`.
    pub head_epochs: usize,
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation error.
    pub patience: Option<usize>,
    /// Seed of the fixed batches (one shuffle, as `makebatches.m`).
    pub seed: u64,
}

/// The chosen model and how it was reached.
pub struct ConjugateOutcome {
    pub best: DbnClassifier,
    pub best_epoch: usize,
    pub best_valid_error: f64,
    pub epochs_done: usize,
}

fn classifier_file(
    run: &RunDir,
    name: &str,
    net: &SgdNet,
) -> Result<String, Box<dyn std::error::Error>> {
    dbn::save_classifier(&net.to_classifier(), &run.file(name))?;
    Ok(name.to_string())
}

fn load_net(
    run: &RunDir,
    commit: &crate::run_dir::Commit,
    role: &str,
    device: &Device,
) -> Result<SgdNet, Box<dyn std::error::Error>> {
    let path = run
        .committed(commit, role)
        .ok_or_else(|| format!("commit without its {role} file"))?;
    Ok(SgdNet::from_classifier(&dbn::load_classifier(
        &path, device,
    )?)?)
}

/// A training set as conjugate gradients use it: images, one-hot targets
/// over the classes of a classifier's head, and the fixed order of its
/// batches (one shuffle from the seed, as `makebatches.m`).
struct FixedBatches {
    images: Tensor<2>,
    targets: Tensor<2>,
    order: Vec<usize>,
}

impl FixedBatches {
    fn new(
        set: &LabelledImages,
        classifier: &DbnClassifier,
        seed: u64,
        device: &Device,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let labels: Vec<usize> = set.labels().iter().map(|&l| l as usize).collect();
        let classes = classifier.head.weight.dims()[1];
        Ok(Self {
            images: set.tensors(device).0,
            targets: dbn::one_hot_rows(&labels, classes, device)?,
            order: dbn::epoch_order(seed, 0, set.len()),
        })
    }

    /// One epoch of `net` on these batches by `settings`.
    fn train_epoch(
        &self,
        settings: &ConjugateSettings,
        net: &mut SgdNet,
        epoch: usize,
        head_only: bool,
    ) -> Result<dbn::ConjugateEpoch, dbn::DbnError> {
        conjugate_gradient_epoch(
            net,
            epoch,
            &self.images,
            &self.targets,
            &self.order,
            settings.batch_size,
            settings.line_searches,
            head_only,
        )
    }
}

/// Fine-tunes `classifier` on `train` (or resumes the run's committed
/// epochs), choosing the epoch of lowest error on `valid`; logs a line per
/// epoch and records it in `metrics.jsonl`.
pub fn conjugate_finetune(
    run: &RunDir,
    classifier: DbnClassifier,
    settings: ConjugateSettings,
    train: &LabelledImages,
    valid: &LabelledImages,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<ConjugateOutcome, Box<dyn std::error::Error>> {
    let batches = FixedBatches::new(train, &classifier, settings.seed, device)?;
    let (valid_images, valid_labels) = valid.tensors(device);
    let mut net = SgdNet::from_classifier(&classifier)?;
    let (mut best, mut best_epoch, mut best_error, mut done) = (net.clone(), 0, f64::INFINITY, 0);
    if let Some(commit) = run.last_commit("conjugate")? {
        net = load_net(run, &commit, "model", device)?;
        best = load_net(run, &commit, "best", device)?;
        done = commit.step_number("epochs_done").unwrap_or(0);
        best_epoch = commit.step_number("best_epoch").unwrap_or(0);
        best_error = commit.step["best_valid_error"]
            .as_f64()
            .unwrap_or(f64::INFINITY);
        log(&format!(
            "resumed conjugate-gradient fine-tuning after epoch {done}"
        ));
    }
    run.drop_records_after(|phase| (phase == CONJUGATE_PHASE).then_some(done))?;
    for epoch in done + 1..=settings.max_epochs {
        if settings
            .patience
            .is_some_and(|p| epoch > best_epoch + p && best_epoch > 0)
        {
            break;
        }
        let started = std::time::Instant::now();
        let head_only = epoch <= settings.head_epochs;
        let stats = batches.train_epoch(&settings, &mut net, epoch, head_only)?;
        let valid_error = net
            .to_classifier()
            .error_rate(&valid_images, &valid_labels, 1000);
        let improved = valid_error < best_error;
        if improved {
            (best, best_epoch, best_error) = (net.clone(), epoch, valid_error);
        }
        let seconds = started.elapsed().as_secs_f64();
        run.append_jsonl(
            "metrics.jsonl",
            &serde_json::json!({
                "phase": CONJUGATE_PHASE, "epoch": epoch, "head_only": head_only,
                "loss_before": stats.loss_before, "loss_after": stats.loss_after,
                "evaluations": stats.evaluations, "computed": stats.computed,
                "valid_error_percent": 100.0 * valid_error,
                "seconds": seconds,
            }),
        )?;
        let model = classifier_file(run, &format!("conjugate-{epoch}.safetensors"), &net)?;
        let best_file = if improved {
            classifier_file(run, &format!("conjugate-best-{epoch}.safetensors"), &best)?
        } else {
            format!("conjugate-best-{best_epoch}.safetensors")
        };
        run.commit(
            "conjugate",
            serde_json::json!({"epochs_done": epoch, "best_epoch": best_epoch, "best_valid_error": best_error}),
            &[("model", &model), ("best", &best_file)],
        )?;
        log(&format!(
            "conjugate gradients epoch {epoch:>3}/{}{}  loss {:.4} -> {:.4}  valid error {:.2}%  {:.0} s",
            settings.max_epochs,
            if head_only { " (head)" } else { "" },
            stats.loss_before,
            stats.loss_after,
            100.0 * valid_error,
            seconds
        ));
        done = epoch;
    }
    Ok(ConjugateOutcome {
        best: best.to_classifier(),
        best_epoch,
        best_valid_error: best_error,
        epochs_done: done,
    })
}

/// The final pass: `epochs` epochs of the same method on `all` training
/// images from `chosen` (resumable, committed per epoch); returns the model
/// after them.
pub fn conjugate_final_pass(
    run: &RunDir,
    chosen: DbnClassifier,
    settings: ConjugateSettings,
    epochs: usize,
    all: &LabelledImages,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<DbnClassifier, Box<dyn std::error::Error>> {
    let batches = FixedBatches::new(all, &chosen, settings.seed, device)?;
    let mut net = SgdNet::from_classifier(&chosen)?;
    let mut done = 0;
    if let Some(commit) = run.last_commit("conjugate-final")? {
        net = load_net(run, &commit, "model", device)?;
        done = commit.step_number("epochs_done").unwrap_or(0);
    }
    run.drop_records_after(|phase| (phase == CONJUGATE_FINAL_PHASE).then_some(done))?;
    for epoch in done + 1..=epochs {
        let started = std::time::Instant::now();
        let stats = batches.train_epoch(&settings, &mut net, epoch, false)?;
        let seconds = started.elapsed().as_secs_f64();
        run.append_jsonl(
            "metrics.jsonl",
            &serde_json::json!({
                "phase": CONJUGATE_FINAL_PHASE, "epoch": epoch,
                "loss_before": stats.loss_before, "loss_after": stats.loss_after,
                "evaluations": stats.evaluations, "computed": stats.computed,
                "seconds": seconds,
            }),
        )?;
        let model = classifier_file(run, &format!("conjugate-final-{epoch}.safetensors"), &net)?;
        run.commit(
            "conjugate-final",
            serde_json::json!({"epochs_done": epoch}),
            &[("model", &model)],
        )?;
        log(&format!(
            "final pass epoch {epoch}/{epochs}: loss {:.3e} -> {:.3e}, {} evaluations ({} computed), {seconds:.0} s",
            stats.loss_before, stats.loss_after, stats.evaluations, stats.computed
        ));
    }
    Ok(net.to_classifier())
}
