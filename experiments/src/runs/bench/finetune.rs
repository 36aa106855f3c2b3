//! Fine-tuning throughput of the paper's 784-500-500-2000-10 sigmoid net
//! (softmax cross-entropy, SGD momentum 0.9, learning rate 0.1, weight
//! decay 1e-5 unless `--finetune-weight-decay` says otherwise, batch 100,
//! no dropout unless asked) over the first 50,000 MNIST images, through the
//! project's one Learner path (`dbn::finetune::learner::finetune`): the work per
//! sample of `../shared/bench/peer_torch_mlp.py`, plus the Learner's
//! per-epoch validation on `--valid-rows` images and its checkpoint.

use std::time::Instant;

use burn::prelude::*;
use burn::train::Interrupter;
use dbn::finetune::learner::{FINETUNE_PHASE, Selection, finetune};
use dbn::{ClassifierConfig, DropoutRates, FinetuneConfig};

use crate::data::{labelled, layer_sizes};
use crate::output::dashboard::dashboard;

/// What the benchmark times.
#[derive(Debug, Clone)]
pub struct FinetuneBench {
    /// Training images (the first ones) and validation images after them.
    pub train_rows: usize,
    pub valid_rows: usize,
    /// Timed epochs (after one untimed warm-up epoch).
    pub epochs: usize,
    pub weight_decay: f64,
    /// Dropout while training (none for the peer's work).
    pub dropout: DropoutRates,
    /// Hidden layer sizes.
    pub hidden: Vec<usize>,
    /// Mini-batch size.
    pub batch: usize,
    /// The device as the user named it (for the report).
    pub device_name: String,
}

/// Times `bench` on `set`, reporting each epoch and the median through `say`.
pub fn bench_finetune(
    bench: &FinetuneBench,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    super::say_matmul_engine(device, say);
    let sizes = layer_sizes(set.dim(), &bench.hidden);
    let classes = set.classes;
    let train = labelled(
        &set.train.range(0, bench.train_rows),
        classes,
        "training images",
    )?;
    let valid = labelled(
        &set.train
            .range(bench.train_rows, bench.train_rows + bench.valid_rows),
        classes,
        "validation images",
    )?;
    let dir = tempfile_dir()?;
    let interrupter = Interrupter::new();
    let (mut renderer, records) = dashboard(&interrupter, None);
    let mut model = ClassifierConfig::new(sizes.clone(), classes).init(device, 1);
    let mut rates = Vec::new();
    // Epoch 1 warms up; each later call resumes from the last checkpoint
    // and runs one more epoch, timed on its own.
    for epoch in 1..=bench.epochs + 1 {
        let config = FinetuneConfig {
            max_epochs: epoch,
            patience: None,
            lr_decay: 1.0,
            weight_decay: bench.weight_decay,
            batch_size: bench.batch,
            dropout: bench.dropout,
            ..FinetuneConfig::default()
        };
        let started = Instant::now();
        let outcome = finetune(
            model,
            &config,
            train.clone(),
            valid.clone(),
            &dir,
            (epoch > 1).then_some(epoch - 1),
            renderer,
            &records,
            &interrupter,
            FINETUNE_PHASE,
            Selection::Last,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        renderer = outcome.renderer;
        model = outcome.best;
        if epoch > 1 {
            let rate = bench.train_rows as f64 / seconds;
            say(&format!(
                "epoch {epoch}: {seconds:.2} s, {rate:.0} samples/s"
            ));
            rates.push(rate);
        }
    }
    drop(renderer);
    let _ = std::fs::remove_dir_all(&dir);
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    say(&format!(
        "fine-tuning {} batch {}{} on {} ({} images, validation {} images, checkpoint per epoch): median {median:.0} samples/s",
        sizes
            .iter()
            .chain([&10])
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("-"),
        bench.batch,
        if bench.dropout.is_active() {
            format!(
                ", dropout inputs {} / hidden {}",
                bench.dropout.input, bench.dropout.hidden
            )
        } else {
            String::new()
        },
        bench.device_name,
        bench.train_rows,
        bench.valid_rows
    ));
    say(&format!("samples_per_sec={median:.0}"));
    Ok(())
}

/// A fresh directory for the Learner's checkpoints under the system's
/// temporary directory.
fn tempfile_dir() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("bench-finetune-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
