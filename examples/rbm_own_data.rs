//! An RBM on your own data: rows of numbers in [0, 1] from a `Vec<f32>`,
//! trained with CD-1, measured exactly (its 8 hidden units can be
//! enumerated), saved and loaded back.
//!
//! cargo run --release --example rbm_own_data
use burn::prelude::*;
use rbm::{
    CdTrainer, RbmConfig, TrainConfig, exact_log_likelihood, load_rbm, save_rbm, tensor_from_rows,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::flex();
    // Your data: here 200 rows of 12 binary values in two patterns with noise.
    let mut sampler = rbm::Sampler::new(7);
    let noise = sampler.uniform_vec(200 * 12);
    let rows: Vec<f32> = (0..200 * 12)
        .map(|i| {
            let (row, col) = (i / 12, i % 12);
            let on = (col < 6) == (row % 2 == 0);
            if (noise[i] < 0.1) != on { 1.0 } else { 0.0 }
        })
        .collect();
    let data = tensor_from_rows(&rows, 12, &device); // [200, 12]

    // The model and its training, each validated before any work.
    let config = RbmConfig::new(12, 8);
    let train = TrainConfig::new()
        .with_epochs(100)
        .with_batch_size(20)
        .with_learning_rate(0.1);
    let mut trainer = CdTrainer::new(config.init(&device, 1), train)?;
    let metrics = trainer.fit(&data, None, |_| {})?;
    let last = metrics.last().expect("100 epochs");
    println!(
        "reconstruction error {:.4} (the trivial mean predictor's: {:.4})",
        last.reconstruction_error, last.trivial_reconstruction_error
    );
    println!(
        "exact mean log-likelihood: {:.3} nats per row",
        exact_log_likelihood(trainer.rbm(), &data)?
    );

    // Save as safetensors (readable by numpy or PyTorch) and load back.
    let path = std::env::temp_dir().join("rbm_own_data.safetensors");
    save_rbm(trainer.rbm(), &config, &path)?;
    let (loaded, _) = load_rbm(&path, &device)?;
    println!(
        "saved and reloaded {} ({} x {})",
        path.display(),
        loaded.n_visible(),
        loaded.n_hidden()
    );
    Ok(())
}
