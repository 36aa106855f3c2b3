//! The common path from the library: greedy pretraining of a small stack,
//! then fine-tuning it as a classifier with backprop through Burn's
//! Learner, in one recipe (`dbn::ClassifierRecipe`; the step-by-step
//! functions it calls are `dbn::pretrain` and `dbn::finetune::learner::finetune`).
//!
//! cargo run --release --example pretrain_finetune
use burn::prelude::*;
use dbn::{ClassifierRecipe, FinetuneConfig, LabelledImages};
use rbm::TrainConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let images = toy_images(400)?;
    let trained = ClassifierRecipe::new(&[16, 12, 8], 4)
        .with_pretraining(TrainConfig::new().with_epochs(30).with_batch_size(20))
        .with_finetuning(FinetuneConfig {
            max_epochs: 10,
            batch_size: 20,
            ..FinetuneConfig::default()
        })
        .fit(&images, &images, &Device::flex())?;
    println!(
        "epoch {} chosen; training error {:.1}%",
        trained.best_epoch,
        100.0 * trained.error_rate(&images)
    );
    Ok(())
}

/// `rows` noisy images of 16 pixels in 4 classes: each class lights its own
/// quarter, and each pixel is flipped with probability 0.1.
fn toy_images(rows: usize) -> Result<LabelledImages, dbn::DbnError> {
    let noise = rbm::Sampler::new(3).uniform_vec(rows * 16);
    let labels: Vec<u8> = (0..rows).map(|i| (i % 4) as u8).collect();
    let pixels = (0..rows * 16)
        .map(|i| {
            let on = (i % 16) / 4 == labels[i / 16] as usize;
            if (noise[i] < 0.1) != on { 1.0 } else { 0.0 }
        })
        .collect();
    LabelledImages::new(pixels, labels, 16, 4, "toy images")
}
