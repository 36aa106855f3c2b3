//! CD-1 throughput at 784 x 500, batch 100, on MNIST: the trainer's own
//! update step, timed over whole epochs after a warm-up.

use std::time::Instant;

use burn::prelude::*;
use datasets::Binarization;
use rbm::{CdTrainer, RbmConfig, TrainConfig};

use crate::data::images_tensor;

/// What the benchmark times.
#[derive(Debug, Clone)]
pub struct CdBench {
    pub hidden: usize,
    /// The CD variant and batch size (rates do not change the work).
    pub train: TrainConfig,
    /// Timed updates per repeat, untimed ones before, and repeats.
    pub batches: usize,
    pub warmup: usize,
    pub repeats: usize,
    /// The device as the user named it (for the report).
    pub device_name: String,
}

/// Times `bench` on `set`'s training images, reporting each repeat, the
/// median and the GEMM rate through `say`.
pub fn bench_cd(
    bench: &CdBench,
    set: &datasets::ImageSet,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    super::say_matmul_engine(device, say);
    let rbm_config = RbmConfig::new(set.dim(), bench.hidden);
    // The images on the device in blocks of whole batches of at most
    // 10,000 rows (31 MB): one 188 MB buffer exceeds some wgpu adapters' limit.
    let rows = set.train.len();
    let batches_per_epoch = rows / bench.train.batch_size;
    let batches_per_block = (10_000 / bench.train.batch_size).max(1);
    let blocks: Vec<_> = (0..batches_per_epoch)
        .step_by(batches_per_block)
        .map(|first| {
            let end = (first + batches_per_block).min(batches_per_epoch) * bench.train.batch_size;
            images_tensor(
                &set.train.range(first * bench.train.batch_size, end),
                Binarization::None,
                device,
            )
        })
        .collect();
    let mut trainer = CdTrainer::new(rbm_config.init(device, 1), bench.train.clone())?;
    let batch_at = |i: usize| {
        let batch = i % batches_per_epoch;
        let start = (batch % batches_per_block) * bench.train.batch_size;
        blocks[batch / batches_per_block]
            .clone()
            .slice(start..start + bench.train.batch_size)
    };
    for i in 0..bench.warmup {
        trainer.step(batch_at(i), 0.01, 0.5)?;
    }
    sync(&trainer)?;
    let mut rates = Vec::new();
    for repeat in 0..bench.repeats {
        let started = Instant::now();
        for i in 0..bench.batches {
            trainer.step(batch_at(i), 0.01, 0.9)?;
        }
        sync(&trainer)?;
        let seconds = started.elapsed().as_secs_f64();
        let rate = (bench.batches * bench.train.batch_size) as f64 / seconds;
        say(&format!(
            "repeat {}: {} updates in {seconds:.3} s, {rate:.0} samples/s",
            repeat + 1,
            bench.batches
        ));
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let best = rates[rates.len() - 1];
    let variant = if bench.train.persistent {
        "PCD (sampled visibles: scikit-learn's work per sample)"
    } else if !bench.train.mean_field_reconstruction {
        "CD, sampled reconstruction (the peers' CD-1 work per sample: \
         peer_torch_rbm.py and scikit-learn sample the visibles)"
    } else {
        "CD, mean-field reconstruction (the trainer's default: fewer random \
         numbers per sample than the peers; --sampled-reconstruction does their work)"
    };
    say(&format!(
        "{variant}, k = {}, {}x{} batch {} on {}: median {median:.0}, best {best:.0} samples/s",
        bench.train.k,
        rbm_config.n_visible,
        bench.hidden,
        bench.train.batch_size,
        bench.device_name
    ));
    // The GEMMs per sample: the positive hidden input, 2k conditionals of
    // the chain and the two weight statistics, 2 n_visible n_hidden FLOPs each.
    let flops = 2.0 * (rbm_config.n_visible * bench.hidden) as f64 * (3 + 2 * bench.train.k) as f64;
    say(&format!(
        "GEMM work {:.2} MFLOP per sample: {:.0} GFLOP/s at the median",
        flops / 1e6,
        median * flops / 1e9
    ));
    say(&format!("samples_per_sec={median:.0}"));
    Ok(())
}

/// Waits for the device by reading one value of the model back; a device
/// error (e.g. an allocation the adapter refuses) is an error, not a panic.
fn sync(trainer: &CdTrainer) -> Result<(), Box<dyn std::error::Error>> {
    trainer
        .rbm()
        .hidden_bias
        .val()
        .slice(0..1)
        .try_into_scalar::<f32>()
        .map_err(|e| format!("the device failed: {e:?}"))?;
    Ok(())
}
