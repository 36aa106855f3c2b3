//! A generative DBN (lower layers + a top RBM over [features, labels]),
//! trained greedily on bars-and-stripes, then sampled with its label
//! clamped, and the samples saved as a picture.
//!
//! cargo run --release --example generate_picture -- generated.png
use burn::prelude::*;
use dbn::{GenerativeDbn, PretrainOutcome, SampleStart, StackConfig, one_hot_rows, pretrain};
use rbm::{CdTrainer, RbmConfig, Sampler, TrainConfig, UnitKind};

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
            labels.push(usize::from(!bars));
        }
    }
    let images = rbm::tensor_from_rows(&rows, 16, &device);

    // Lower layer 16-12, then the top RBM over [12 features, 2 labels].
    let lower_config = StackConfig::uniform(
        &[16, 12],
        &TrainConfig::new().with_epochs(200).with_batch_size(30),
    );
    let PretrainOutcome::Finished(lower) = pretrain(&lower_config, &images, None, None, |_| {
        std::ops::ControlFlow::Continue(())
    })?
    else {
        unreachable!("the callback never stops")
    };
    let joint = Tensor::cat(
        vec![lower.features(images), one_hot_rows(&labels, 2, &device)?],
        1,
    );
    let top = RbmConfig::new(14, 20).with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 });
    let mut trainer = CdTrainer::new(
        top.init(&device, 2),
        TrainConfig::new().with_epochs(200).with_batch_size(30),
    )?;
    trainer.fit(&joint, None, |_| {})?;
    let model = GenerativeDbn::from_greedy(&lower, trainer.into_rbm())?;

    // Ten samples of each label after 500 Gibbs steps in the top RBM.
    let wanted: Vec<Option<usize>> = (0..20).map(|i| Some(i / 10)).collect();
    let samples = model.sample(
        &wanted,
        SampleStart::RandomFeatures,
        500,
        &mut Sampler::new(5),
        0,
        |_, _| {},
    )?;
    let tiles = experiments::runs::rbm::tensor_rows(samples);
    experiments::output::images::write_grid(std::path::Path::new(&out), &tiles, 4, 4, 10, false)?;
    println!("wrote {out}: row 1 clamped to bars, row 2 to stripes");
    Ok(())
}
