//! Up-down throughput of the paper's generative DBN (784-500-500 lower
//! layers, a 510-2000 top RBM with softmax labels; HOT 2006) on the first
//! training images: `GenerativeDbn::up_down_epoch` as `generative` runs it,
//! then the free-energy classification that validates each epoch.

use burn::prelude::*;
use dbn::{GenerativeDbn, RbmStack, UpDownConfig, one_hot_rows};
use rbm::{RbmConfig, UnitKind};

use crate::data::images_tensor;

/// What the benchmark times.
#[derive(Debug, Clone)]
pub struct UpdownBench {
    /// Training images (the first ones).
    pub train_rows: usize,
    /// Timed epochs (after one untimed warm-up epoch on 1,000 images).
    pub epochs: usize,
    pub updown: UpDownConfig,
    /// The device as the user named it (for the report).
    pub device_name: String,
}

/// Times `bench` on `set`, reporting each epoch and the median through `say`.
pub fn bench_updown(
    bench: &UpdownBench,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    super::say_matmul_engine(device, say);
    let split = set.train.range(0, bench.train_rows);
    let images = images_tensor(&split, datasets::Binarization::None, device);
    let classes: Vec<usize> = split.labels.iter().map(|&l| l as usize).collect();
    let labels = one_hot_rows(&classes, set.classes, device)?;
    let lower = RbmStack::new(vec![
        RbmConfig::new(set.dim(), 500).init(device, 1),
        RbmConfig::new(500, 500).init(device, 2),
    ]);
    let top = RbmConfig::new(500 + set.classes, 2000)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: set.classes })
        .init(device, 3);
    let mut model = GenerativeDbn::from_greedy(&lower, top)?;
    let mut velocity = model.zero_velocity();
    // At least one whole mini-batch (balanced batches need one of each class
    // per tenth of the batch).
    let warm = bench.train_rows.min(1000.max(2 * bench.updown.batch_size));
    model.up_down_epoch(
        &mut velocity,
        &images.clone().slice(0..warm),
        &labels.clone().slice(0..warm),
        &bench.updown,
        0,
        |_, _| {},
    )?;
    let mut rates = Vec::new();
    for epoch in 0..bench.epochs {
        // The epoch's metrics read the device back: its time is honest.
        let metrics = model.up_down_epoch(
            &mut velocity,
            &images,
            &labels,
            &bench.updown,
            epoch,
            |_, _| {},
        )?;
        let rate = metrics.rows as f64 / metrics.seconds;
        say(&format!(
            "epoch {}: {:.1} s, {rate:.0} samples/s (Gibbs steps {})",
            epoch + 1,
            metrics.seconds,
            metrics.gibbs_steps
        ));
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    say(&format!(
        "up-down {}-500-500 + {}-2000, batch {}, {} Gibbs steps, on {}: median {median:.0} samples/s",
        set.dim(),
        500 + set.classes,
        bench.updown.batch_size,
        bench.updown.gibbs_steps_at(0),
        bench.device_name
    ));
    say(&format!("samples_per_sec={median:.0}"));
    // What each validated epoch adds: free-energy classification (an
    // up-pass, then the top RBM's free energy with each label).
    let truth = Tensor::<1, Int>::from_data(
        TensorData::new(
            classes.iter().map(|&c| c as i64).collect::<Vec<_>>(),
            [classes.len()],
        ),
        device,
    );
    let started = std::time::Instant::now();
    let error = model.error_rate(&images, &truth, 1000);
    let rate = bench.train_rows as f64 / started.elapsed().as_secs_f64();
    say(&format!(
        "free-energy classification of the {} images (error {:.2}%): {rate:.0} images/s",
        bench.train_rows,
        100.0 * error
    ));
    say(&format!("classified_per_sec={rate:.0}"));
    Ok(())
}
