//! Fine-tuning by Hinton & Salakhutdinov's conjugate gradients
//! (`backpropclassify.m`) inside a `classify` run: fixed batches, the head
//! alone first, every epoch committed (the current and the best model), so
//! a stopped run resumes bit for bit.

use burn::prelude::*;
use dbn::finetune::learner::Selection;
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
    /// The epoch returned: the best on validation, or the last (H&S's);
    /// `LastKeepingAll` keeps no more files here than `Last`.
    pub selection: Selection,
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
/// epochs), returning the epoch of lowest error on `valid` or the last one
/// (`settings.selection`); logs a line per epoch and records it in
/// `metrics.jsonl`.
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
    let keeps_last = settings.selection != Selection::BestValidation;
    for epoch in done + 1..=settings.max_epochs {
        if epoch > rule_end(&settings, best_epoch) {
            break;
        }
        let started = std::time::Instant::now();
        let head_only = epoch <= settings.head_epochs;
        let stats = batches.train_epoch(&settings, &mut net, epoch, head_only)?;
        let valid_error = net
            .to_classifier()
            .error_rate(&valid_images, &valid_labels, 1000);
        let improved = keeps_last || valid_error < best_error;
        if improved {
            (best, best_epoch, best_error) = (net.clone(), epoch, valid_error);
        }
        // A whole-net epoch that returns its net bit for bit returns it at
        // every later epoch (all whole-net), with the same validation
        // error, which never beats the best: the rule's end and its chosen
        // model are known now.
        let fixed_point = !head_only && stats.unchanged;
        let last = if fixed_point {
            rule_end(&settings, best_epoch)
        } else {
            epoch
        };
        if keeps_last {
            // The epochs up to `last` return this net: it is the last.
            best_epoch = last;
        }
        let seconds = started.elapsed().as_secs_f64();
        run.append_jsonl(
            "metrics.jsonl",
            &serde_json::json!({
                "phase": CONJUGATE_PHASE, "epoch": epoch, "head_only": head_only,
                "loss_before": stats.loss_before, "loss_after": stats.loss_after,
                "evaluations": stats.evaluations, "computed": stats.computed,
                "valid_error_percent": 100.0 * valid_error,
                "seconds": seconds, "fixed_point": fixed_point,
            }),
        )?;
        let model = classifier_file(run, &format!("conjugate-{epoch}.safetensors"), &net)?;
        let best_file = if keeps_last {
            model.clone()
        } else if improved {
            classifier_file(run, &format!("conjugate-best-{epoch}.safetensors"), &best)?
        } else {
            format!("conjugate-best-{best_epoch}.safetensors")
        };
        run.commit(
            "conjugate",
            serde_json::json!({
                "epochs_done": last, "best_epoch": best_epoch, "best_valid_error": best_error,
                "fixed_point_at": fixed_point.then_some(epoch),
            }),
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
        done = last;
        if fixed_point && last > epoch {
            log(&format!(
                "conjugate gradients: epoch {epoch} left every parameter as it was, bit for bit, \
                 so epochs {}..{last} would too, with its validation error; the chosen epoch \
                 stays {best_epoch}",
                epoch + 1
            ));
        }
        if fixed_point {
            break;
        }
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
        // An epoch that returns its net bit for bit returns it at every
        // later epoch, so the pass's model is this one.
        let fixed_point = stats.unchanged;
        let last = if fixed_point { epochs } else { epoch };
        run.append_jsonl(
            "metrics.jsonl",
            &serde_json::json!({
                "phase": CONJUGATE_FINAL_PHASE, "epoch": epoch,
                "loss_before": stats.loss_before, "loss_after": stats.loss_after,
                "evaluations": stats.evaluations, "computed": stats.computed,
                "seconds": seconds, "fixed_point": fixed_point,
            }),
        )?;
        let model = classifier_file(run, &format!("conjugate-final-{last}.safetensors"), &net)?;
        run.commit(
            "conjugate-final",
            serde_json::json!({"epochs_done": last, "fixed_point_at": fixed_point.then_some(epoch)}),
            &[("model", &model)],
        )?;
        log(&format!(
            "final pass epoch {epoch}/{epochs}: loss {:.3e} -> {:.3e}, {} evaluations ({} computed), {seconds:.0} s",
            stats.loss_before, stats.loss_after, stats.evaluations, stats.computed
        ));
        if fixed_point {
            log(&format!(
                "final pass: epoch {epoch} left every parameter as it was, bit for bit, so \
                 epochs {}..{epochs} would too; the pass's model is this one",
                epoch + 1
            ));
            break;
        }
    }
    Ok(net.to_classifier())
}

/// The last epoch that `settings`' stopping rule runs while no epoch after
/// `best_epoch` improves: patience's end (once an epoch has been chosen),
/// within the epoch bound.
fn rule_end(settings: &ConjugateSettings, best_epoch: usize) -> usize {
    match settings.patience {
        Some(patience) if best_epoch > 0 => (best_epoch + patience).min(settings.max_epochs),
        _ => settings.max_epochs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4-2-2 net whose parameters are `scale` times -2, -1, 0, 1, 2, -2,
    /// ... (all 0 for a `scale` of 0), and two images of each of the two
    /// classes.
    fn net_and_data(scale: f32, device: &Device) -> (DbnClassifier, LabelledImages) {
        let full = |shape: [usize; 2]| {
            let values = (0..shape[0] * shape[1])
                .map(|k| scale * ((k % 5) as f32 - 2.0))
                .collect::<Vec<f32>>();
            Tensor::<2>::from_data(TensorData::new(values, shape), device)
        };
        let net = SgdNet {
            weights: vec![full([4, 2]), full([2, 2])],
            biases: vec![full([1, 2]), full([1, 2])],
            velocity: None,
        };
        (net.to_classifier(), four_images(vec![0, 1, 0, 1]))
    }

    /// Four 4-pixel images with these labels.
    fn four_images(labels: Vec<u8>) -> LabelledImages {
        let pixels = vec![
            1.0, 0.0, 1.0, 0.0, //
            0.0, 1.0, 0.0, 1.0, //
            1.0, 1.0, 0.0, 0.0, //
            0.0, 0.0, 1.0, 1.0,
        ];
        LabelledImages::new(pixels, labels, 4, 2, "images").unwrap()
    }

    fn settings() -> ConjugateSettings {
        ConjugateSettings {
            batch_size: 4,
            line_searches: 3,
            head_epochs: 0,
            max_epochs: 10,
            patience: None,
            seed: 1,
            selection: Selection::BestValidation,
        }
    }

    fn final_records(run: &RunDir) -> Vec<serde_json::Value> {
        std::fs::read_to_string(run.file("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn a_final_pass_ends_at_an_epoch_that_leaves_the_net_as_it_was() {
        // All parameters 0 and balanced classes: every gradient is exactly
        // 0 (p = 1/2 for both classes, the same hidden values for every
        // image), so no line search moves and epoch 1 returns its net.
        let device = Device::flex();
        let (still, images) = net_and_data(0.0, &device);
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let model = conjugate_final_pass(
            &run,
            still.clone(),
            settings(),
            50,
            &images,
            &device,
            &mut |_| {},
        )
        .unwrap();
        let records = final_records(&run);
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["fixed_point"], true);
        let commit = run.last_commit("conjugate-final").unwrap().unwrap();
        assert_eq!(commit.step_number("epochs_done"), Some(50));
        assert_eq!(commit.step["fixed_point_at"], 1);
        let (before, after) = (
            SgdNet::from_classifier(&still).unwrap(),
            SgdNet::from_classifier(&model).unwrap(),
        );
        assert!(before.same_parameters(&after));
        // Resumed, the pass is done.
        conjugate_final_pass(&run, still, settings(), 50, &images, &device, &mut |_| {}).unwrap();
        assert_eq!(final_records(&run).len(), 1);

        // A net with a gradient moves, and the pass runs its epochs.
        let (moving, _) = net_and_data(0.1, &device);
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        conjugate_final_pass(&run, moving, settings(), 3, &images, &device, &mut |_| {}).unwrap();
        let records = final_records(&run);
        assert_eq!(records.len(), 3, "{records:?}");
        assert!(records.iter().all(|r| r["fixed_point"] == false));
    }

    #[test]
    fn the_validation_phase_ends_at_a_whole_net_epoch_that_leaves_the_net_as_it_was() {
        let device = Device::flex();
        let (still, images) = net_and_data(0.0, &device);
        let records = |run: &RunDir| -> Vec<serde_json::Value> {
            final_records(run)
                .into_iter()
                .filter(|r| r["phase"] == CONJUGATE_PHASE)
                .collect()
        };
        let finetune = |run: &RunDir, net: DbnClassifier, settings: ConjugateSettings| {
            conjugate_finetune(run, net, settings, &images, &images, &device, &mut |_| {}).unwrap()
        };
        // Two head-only epochs, which leave the net as it was too but are
        // followed by whole-net ones (epoch 1 is the best: no later error
        // is lower), then whole-net epoch 3 ends the phase where patience
        // would: epoch 1 plus 4.
        let with_head = ConjugateSettings {
            head_epochs: 2,
            patience: Some(4),
            ..settings()
        };
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let outcome = finetune(&run, still.clone(), with_head);
        let fixed: Vec<_> = records(&run)
            .iter()
            .map(|r| r["fixed_point"].clone())
            .collect();
        assert_eq!(fixed, [false, false, true]);
        assert_eq!((outcome.best_epoch, outcome.epochs_done), (1, 5));
        let commit = run.last_commit("conjugate").unwrap().unwrap();
        assert_eq!(commit.step_number("epochs_done"), Some(5));
        assert_eq!(commit.step["fixed_point_at"], 3);
        // Resumed, the phase is done, with the same outcome.
        let again = finetune(&run, still.clone(), with_head);
        assert_eq!(records(&run).len(), 3);
        assert_eq!((again.best_epoch, again.epochs_done), (1, 5));

        // Without patience the rule's end is the epoch bound.
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let outcome = finetune(&run, still, settings());
        assert_eq!(records(&run).len(), 1);
        assert_eq!(outcome.epochs_done, 10);

        // A net with a gradient moves, and the phase runs its epochs.
        let (moving, _) = net_and_data(0.1, &device);
        let bounded = ConjugateSettings {
            max_epochs: 3,
            ..settings()
        };
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        finetune(&run, moving, bounded);
        let records = records(&run);
        assert_eq!(records.len(), 3, "{records:?}");
        assert!(records.iter().all(|r| r["fixed_point"] == false));
    }

    #[test]
    fn keeping_the_last_epoch_returns_it_whatever_validation_says() {
        // Validation labels the opposite of training: as the net learns the
        // training images its validation error can only rise, so the best
        // on validation is an early epoch and the last is another.
        let device = Device::flex();
        let (moving, images) = net_and_data(0.1, &device);
        let flipped = four_images(vec![1, 0, 1, 0]);
        let run_with = |selection| {
            let dir = tempfile::tempdir().unwrap();
            let run = RunDir::create(dir.path()).unwrap();
            let settings = ConjugateSettings {
                max_epochs: 3,
                selection,
                ..settings()
            };
            let outcome = conjugate_finetune(
                &run,
                moving.clone(),
                settings,
                &images,
                &flipped,
                &device,
                &mut |_| {},
            )
            .unwrap();
            let commit = run.last_commit("conjugate").unwrap().unwrap();
            let last =
                dbn::load_classifier(&run.committed(&commit, "model").unwrap(), &device).unwrap();
            (outcome, last, dir)
        };
        let same = |a: &DbnClassifier, b: &DbnClassifier| {
            SgdNet::from_classifier(a)
                .unwrap()
                .same_parameters(&SgdNet::from_classifier(b).unwrap())
        };
        let (best, best_last, _dir) = run_with(Selection::BestValidation);
        assert!(best.best_epoch < 3, "best epoch {}", best.best_epoch);
        assert!(!same(&best.best, &best_last));
        let (kept, last, _dir) = run_with(Selection::Last);
        assert_eq!((kept.best_epoch, kept.epochs_done), (3, 3));
        assert!(same(&kept.best, &last));
        assert!(kept.best_valid_error >= best.best_valid_error);
    }
}
