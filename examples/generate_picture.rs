//! A generative DBN (lower layers + a top RBM over [features, labels]),
//! trained greedily on bars-and-stripes, then sampled with its label
//! clamped, and the samples saved as a picture.
//!
//! cargo run --release --example generate_picture -- generated.png
use burn::prelude::*;
use dbn::{GenerativeRecipe, LabelledImages, SamplePlan};
use rbm::{Sampler, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "generated.png".into());
    let device = Device::flex();
    // Horizontal bars (label 0) and vertical stripes (label 1) of 4 x 4 pixels, 10 copies each.
    let patterns = datasets::bars_and_stripes(4);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for p in &patterns {
        // Label 0: every row uniform (bars, and the empty and full images).
        let bars = (0..4).all(|r| (0..4).all(|c| p[r * 4 + c] == p[r * 4]));
        for _ in 0..10 {
            rows.extend_from_slice(p);
            labels.push(u8::from(!bars));
        }
    }
    let images = LabelledImages::new(rows, labels, 16, 2, "bars and stripes")?;

    // Lower layer 16-12, then the top RBM over [12 features, 2 labels] with
    // 20 hidden units; 200 CD-1 epochs each.
    let cd = TrainConfig::new().with_epochs(200).with_batch_size(30);
    let model = GenerativeRecipe::new(&[16, 12], 20, 2)
        .with_lower_training(cd.clone())
        .with_top_training(cd)
        .fit(&images, &device)?;

    // Ten samples of each label after 500 Gibbs steps in the top RBM.
    let wanted: Vec<Option<usize>> = (0..20).map(|i| Some(i / 10)).collect();
    let samples = model.sample(
        &wanted,
        SamplePlan::new(500),
        &mut Sampler::new(5),
        0,
        |_, _| {},
    )?;
    let tiles = experiments::runs::rbm::tensor_rows(samples);
    experiments::output::images::write_grid(std::path::Path::new(&out), &tiles, 4, 4, 10, false)?;
    println!("wrote {out}: row 1 clamped to bars, row 2 to stripes");
    Ok(())
}
