//! The generative DBN's top RBM trained alone over the features of given
//! lower layers, with the free-energy validation error every few epochs:
//! for choosing how to train the top RBM.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use dbn::generative::greedy::top_rbm_data;
use dbn::{GenerativeDbn, one_hot_rows};
use rbm::{CdTrainer, DriveError, DriveEvent, RbmConfig, TrainConfig, UnitKind};

use crate::data::{DataArgs, train_and_valid_per_class};

/// What the sweep takes.
#[derive(Debug, Clone)]
pub struct TopRbmSweepConfig {
    /// A stack file whose first two layers are the lower layers.
    pub lower: PathBuf,
    /// The top RBM's CD recipe.
    pub train: TrainConfig,
    pub hidden: usize,
    /// Validate every this many epochs (and after the last).
    pub eval_every: usize,
    /// The first N training images (None: all but the validation ones).
    pub train_rows: Option<usize>,
    /// Of those, the first N of each class (None: all).
    pub train_per_class: Option<usize>,
    /// Standard deviation of the initial weights.
    pub init_std: f64,
}

/// Trains the top RBM of `config` on the images `data_args` name,
/// reporting the validation error through `say`.
pub fn sweep_top_rbm(
    config: &TopRbmSweepConfig,
    data_args: &DataArgs,
    device: &Device,
    say: &mut dyn FnMut(&str),
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut lower = dbn::load_stack(&config.lower, device)?;
    if lower.layers.len() < 2 {
        return Err(format!(
            "{}: the stack has {} layer(s); the generative DBN's lower part needs 2 (784-500-500)",
            config.lower.display(),
            lower.layers.len()
        )
        .into());
    }
    lower.layers.truncate(2);
    let (set, line) = data_args.load()?;
    say(&line);
    if lower.sizes()[0] != set.dim() {
        return Err(format!(
            "{}: the stack takes {} inputs, the images of {} have {} pixels",
            config.lower.display(),
            lower.sizes()[0],
            data_args.data,
            set.dim()
        )
        .into());
    }
    let classes = set.classes;
    let n_visible = lower.sizes()[2] + classes;
    let rbm = RbmConfig::new(n_visible, config.hidden)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: classes })
        .with_init_std(config.init_std);
    rbm.validate()?;
    let valid_rows = set.train.len() / 6;
    let rows = crate::data::train_rows_flag(config.train_rows, set.train.len() - valid_rows)?;
    let (train, valid) = train_and_valid_per_class(&set, rows, valid_rows, config.train_per_class)?;
    let (train_images, _) = train.tensors(device);
    let (valid_images, valid_labels) = valid.tensors(device);
    let labels: Vec<usize> = train.labels().iter().map(|&l| l as usize).collect();
    let joint = top_rbm_data(
        &lower,
        train_images,
        one_hot_rows(&labels, classes, device)?,
    );
    let mut trainer = CdTrainer::new(rbm.init(device, config.train.seed), config.train.clone())?;
    let epochs = config.train.epochs;
    // `drive` checks the joint data once, not at every epoch; the callback
    // never stops it, so its flow is always `Continue`.
    let _ = trainer
        .drive(&joint, None, |event| {
            if let DriveEvent::Epoch { metrics, trainer } = event
                && (metrics.epoch % config.eval_every == 0 || metrics.epoch == epochs)
            {
                let model = GenerativeDbn::from_greedy(&lower, trainer.rbm().clone())?;
                let error = 100.0 * model.error_rate(&valid_images, &valid_labels, 1000);
                say(&format!(
                    "epoch {:>3}  recon {:.5}  valid_error {error:.2}%  {:.1} min",
                    metrics.epoch,
                    metrics.reconstruction_error,
                    started.elapsed().as_secs_f64() / 60.0
                ));
            }
            Ok::<_, Box<dyn std::error::Error>>(ControlFlow::Continue(()))
        })
        .map_err(|e| match e {
            DriveError::Training(e) => e.into(),
            DriveError::Callback(e) => e,
        })?;
    Ok(())
}
