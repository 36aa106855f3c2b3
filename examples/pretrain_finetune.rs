//! Greedy pretraining of a small stack, then fine-tuning it as a
//! classifier with backprop through Burn's Learner, from the library API
//! (the `rbm` and `dbn` crates only).
//!
//! cargo run --release --example pretrain_finetune
use burn::prelude::*;
use burn::train::Interrupter;
use burn::train::renderer::default_renderer;
use dbn::learner::{FINETUNE_PHASE, Selection, finetune};
use dbn::{DbnClassifier, FinetuneConfig, LabelledImages, PretrainOutcome, StackConfig, pretrain};
use rbm::TrainConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::flex();
    // 400 rows of 16 pixels in 4 classes: each class lights its own quarter.
    let mut sampler = rbm::Sampler::new(3);
    let noise = sampler.uniform_vec(400 * 16);
    let labels: Vec<u8> = (0..400).map(|i| (i % 4) as u8).collect();
    let pixels: Vec<f32> = (0..400 * 16)
        .map(|i| {
            let on = (i % 16) / 4 == labels[i / 16] as usize;
            if (noise[i] < 0.1) != on { 1.0 } else { 0.0 }
        })
        .collect();
    let images = LabelledImages::new(pixels.clone(), labels, 16, 4, "toy images")?;

    // 1. Greedy pretraining of a 16-12-8 stack, without the labels.
    let config = StackConfig::uniform(
        &[16, 12, 8],
        &TrainConfig::new().with_epochs(30).with_batch_size(20),
    );
    let data = rbm::tensor_from_rows(&pixels, 16, &device);
    let PretrainOutcome::Finished(stack) = pretrain(&config, &data, None, None, |_| {
        std::ops::ControlFlow::Continue(())
    })?
    else {
        unreachable!("the callback never stops")
    };

    // 2. The stack with a softmax head, fine-tuned by backprop (Burn's Learner).
    let classifier = DbnClassifier::from_stack(&stack, 4, 1)?;
    let interrupter = Interrupter::new();
    // Burn's own renderer (its TUI on a terminal), watched for divergence.
    let (renderer, records) = dbn::monitor::recorder(
        default_renderer(interrupter.clone(), None),
        &interrupter,
        None,
    );
    let dir = std::env::temp_dir().join(format!("pretrain_finetune-{}", std::process::id()));
    let finetune_config = FinetuneConfig {
        max_epochs: 10,
        batch_size: 20,
        patience: None,
        ..FinetuneConfig::default()
    };
    let outcome = finetune(
        classifier,
        &finetune_config,
        images.clone(),
        images.clone(),
        &dir,
        None,
        renderer,
        &records,
        &interrupter,
        FINETUNE_PHASE,
        Selection::BestValidation,
    )?;
    drop(outcome.renderer);
    let (x, y) = images.tensors(&device);
    println!(
        "training error after fine-tuning: {:.1}%",
        100.0 * outcome.best.error_rate(&x, &y, 100)
    );
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
