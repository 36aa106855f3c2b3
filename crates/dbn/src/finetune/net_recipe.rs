//! Fine-tuning of an [`SgdNet`] outside Burn's `Learner`, whole: the
//! head alone first, then the whole net by SGD with momentum (and dropout)
//! or by Hinton & Salakhutdinov's conjugate gradients; optionally the
//! whole-net epoch of the highest validation accuracy, early stopping,
//! and a final pass of the chosen net on the training and validation rows
//! together (the `paper` preset's schedule).
//!
//! Why beside [`crate::ClassifierRecipe`]: that one trains through Burn's
//! `Learner` (dashboard, checkpoints, a smoothly decaying rate); this one
//! needs no run directory and has conjugate gradients, a rate that steps
//! down once per epoch, and a fixed point that ends conjugate gradients
//! early. The Python `DBNClassifier` is this recipe.
//!
//! # Example: the head alone, then the whole net, chosen on validation
//! ```
//! use burn::prelude::*;
//! use dbn::{ClassifierConfig, DropoutRates, NetFinetuneConfig, NetMethod, SgdNet};
//!
//! let device = Device::flex();
//! // 40 rows of 6 pixels; the class is whether the first half is on.
//! let rows: Vec<f32> = (0..40)
//!     .flat_map(|i| {
//!         let on = (i % 2) as f32;
//!         [on, on, on, 1.0 - on, 1.0 - on, 1.0 - on]
//!     })
//!     .collect();
//! let images = rbm::tensor_from_rows(&rows, 6, &device); // [40, 6]
//! let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
//! let net = SgdNet::from_classifier(&ClassifierConfig::new(vec![6, 4], 2).init(&device, 7))?;
//! let config = NetFinetuneConfig {
//!     epochs: 10,
//!     head_epochs: 2,
//!     batch_size: 10,
//!     method: NetMethod::Sgd {
//!         learning_rate: 0.5,
//!         momentum: 0.9,
//!         weight_decay: 0.0,
//!         lr_decay: 0.95,
//!         dropout: DropoutRates::NONE,
//!     },
//!     patience: Some(3),
//!     final_epochs: 2,
//!     seed: 1,
//! };
//! let (train, valid) = (images.clone().slice([0..30, 0..6]), images.slice([30..40, 0..6]));
//! let tuned = config.fit(net, &train, &labels[..30], Some((&valid, &labels[30..])))?;
//! assert!(tuned.chosen_epoch > 2); // a whole-net epoch
//! assert_eq!(tuned.final_losses.len(), 2);
//! # Ok::<(), dbn::DbnError>(())
//! ```

use burn::prelude::*;
use rbm::Sampler;
use serde::{Deserialize, Serialize};

use crate::error::{DbnConfigError, DbnError};
use crate::finetune::config::{DropoutRates, check_sgd_settings};
use crate::finetune::conjugate::conjugate_gradient_epoch;
use crate::finetune::sgd_net::{SgdNet, SgdStep, SgdTraining, epoch_order};
use crate::generative::model::one_hot_rows;

/// How each epoch moves the net.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetMethod {
    /// Mini-batch SGD with classical momentum on a fresh order each epoch:
    /// the rate is `learning_rate * lr_decay^d`, `d` the whole-net epochs
    /// before this one (the head's epochs at the first rate); an L2
    /// `weight_decay` on every parameter; dropout (Hinton et al. 2012).
    Sgd {
        learning_rate: f64,
        momentum: f64,
        weight_decay: f64,
        lr_decay: f64,
        dropout: DropoutRates,
    },
    /// `backpropclassify.m`: `line_searches` line searches of conjugate
    /// gradients on each fixed batch (one shuffle of the rows, as
    /// `makebatches.m`); nothing to regularise.
    ConjugateGradient { line_searches: usize },
}

/// The schedule of [`NetFinetuneConfig::fit`], validated once, up front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetFinetuneConfig {
    /// Epochs of fine-tuning, the head's included (0: the net as given).
    pub epochs: usize,
    /// The first epochs train the softmax head alone (H&S: 5).
    pub head_epochs: usize,
    /// Rows per step (at most the number of rows: a larger one is taken as
    /// all of them).
    pub batch_size: usize,
    pub method: NetMethod,
    /// With validation rows: stop after this many whole-net epochs without
    /// a higher validation accuracy.
    pub patience: Option<usize>,
    /// With validation rows: epochs of the chosen net on the training and
    /// validation rows together, with a fresh velocity and SGD's rate going
    /// on from the chosen epoch's.
    pub final_epochs: usize,
    /// Seed of the orders, the fixed batches and the dropout masks.
    pub seed: u64,
}

/// What [`NetFinetuneConfig::fit`] returns.
#[derive(Debug, Clone)]
pub struct FinetunedNet {
    /// The chosen epoch's net, or its continuation by the final pass.
    pub net: SgdNet,
    /// The mean training loss of each epoch run.
    pub losses: Vec<f64>,
    /// Each epoch's accuracy on the validation rows (empty without them).
    pub valid_accuracies: Vec<f64>,
    /// The epoch whose net was kept (1-based; 0: the net as given). With
    /// validation rows the whole-net epoch of the highest accuracy (the
    /// earliest of equals; the last head epoch when no whole-net epoch
    /// runs); without, the last epoch run.
    pub chosen_epoch: usize,
    /// The mean training loss of each final-pass epoch run.
    pub final_losses: Vec<f64>,
}

/// The stream of SGD's dropout masks: apart from the data order's
/// ([`epoch_order`]), which is drawn from the seed itself.
const DROPOUT_STREAM: u64 = 0x6472_6f70_6f75_7421;

impl NetFinetuneConfig {
    /// Checks every rule on the hyperparameters.
    pub fn validate(&self) -> Result<(), DbnConfigError> {
        if self.head_epochs > self.epochs {
            return Err(DbnConfigError::HeadEpochsAboveEpochs {
                head_epochs: self.head_epochs,
                epochs: self.epochs,
            });
        }
        if self.batch_size == 0 {
            return Err(DbnConfigError::ZeroBatchSize);
        }
        if self.patience == Some(0) {
            return Err(DbnConfigError::ZeroPatience);
        }
        match self.method {
            NetMethod::Sgd {
                learning_rate,
                momentum,
                weight_decay,
                lr_decay,
                dropout,
            } => {
                if !(learning_rate.is_finite() && learning_rate > 0.0) {
                    return Err(DbnConfigError::NetLearningRate(learning_rate));
                }
                check_sgd_settings(lr_decay, momentum, weight_decay, dropout)?;
            }
            NetMethod::ConjugateGradient { line_searches } => {
                if line_searches == 0 {
                    return Err(DbnConfigError::ZeroLineSearches);
                }
            }
        }
        Ok(())
    }

    /// [`NetFinetuneConfig::validate`], and the rules of a fit with or
    /// without validation rows: a patience or a final pass needs them.
    pub fn validate_for(&self, validation_rows: bool) -> Result<(), DbnConfigError> {
        self.validate()?;
        if !validation_rows {
            if self.patience.is_some() {
                return Err(DbnConfigError::PatienceWithoutValidation);
            }
            if self.final_epochs > 0 {
                return Err(DbnConfigError::FinalPassWithoutValidation);
            }
        }
        Ok(())
    }

    /// Fine-tunes `net` on `images` and their class `labels` (below the
    /// head's outputs), choosing on `valid` images and labels when given.
    ///
    /// # Shapes
    /// - images: `[rows, inputs]`, labels: `rows` classes
    /// - valid: `[valid rows, inputs]` and `valid rows` classes
    ///
    /// # Errors
    /// A configuration that breaks a rule ([`NetFinetuneConfig::validate`]),
    /// a patience or a final pass without validation rows, rows of another
    /// width than the net's inputs, a label count that differs from the
    /// rows', a class not below the head's outputs, no rows (each before
    /// any training), a loss that is not finite
    /// ([`DbnError::Diverged`]).
    pub fn fit(
        &self,
        net: SgdNet,
        images: &Tensor<2>,
        labels: &[usize],
        valid: Option<(&Tensor<2>, &[usize])>,
    ) -> Result<FinetunedNet, DbnError> {
        self.validate_for(valid.is_some())?;
        let classes = check_rows(&net, "training rows", images, labels)?;
        let valid = match valid {
            Some((valid_images, valid_labels)) => {
                check_rows(&net, "validation rows", valid_images, valid_labels)?;
                let indices = valid_labels.iter().map(|&l| l as i64).collect::<Vec<_>>();
                let device = valid_images.device();
                let index_tensor = Tensor::<1, Int>::from_data(
                    TensorData::new(indices, [valid_labels.len()]),
                    &device,
                );
                Some((valid_images, index_tensor, valid_labels))
            }
            None => None,
        };
        let device = images.device();
        let one_hot = one_hot_rows(labels, classes, &device)?;
        let epoch_run = EpochRun {
            config: self,
            batch: self.batch_size.min(labels.len()),
        };
        // Conjugate gradients' batches are fixed (one shuffle, as
        // `makebatches.m`).
        let fixed_order = epoch_order(self.seed, 0, labels.len());
        let mut net = net;
        let (mut losses, mut valid_accuracies) = (Vec::new(), Vec::new());
        // The net to return, its epoch and its validation accuracy.
        let mut best: Option<(SgdNet, usize, f64)> = None;
        for epoch in 1..=self.epochs {
            let head_only = epoch <= self.head_epochs;
            let decays = epoch.saturating_sub(self.head_epochs + 1);
            let (loss, unchanged) = epoch_run.run(
                &mut net,
                epoch,
                (images, &one_hot),
                &fixed_order,
                head_only,
                decays,
            )?;
            // A whole-net epoch that returns its net bit for bit returns it
            // at every later epoch: the model is this one.
            if !head_only && unchanged {
                break;
            }
            losses.push(loss);
            if let Some((valid_images, valid_indices, valid_labels)) = &valid {
                let errors = net.errors(valid_images, valid_indices, 1000);
                let accuracy = 1.0 - errors as f64 / valid_labels.len() as f64;
                valid_accuracies.push(accuracy);
                // The head's epochs train towards the whole net's; the
                // choice is among the whole net's (without any, the last
                // epoch is kept below).
                if !head_only && best.as_ref().is_none_or(|(_, _, top)| accuracy > *top) {
                    best = Some((net.clone(), epoch, accuracy));
                }
                let since = best.as_ref().map_or(0, |(_, chosen, _)| epoch - chosen);
                if self.patience.is_some_and(|p| !head_only && since >= p) {
                    break;
                }
            }
        }
        let (mut net, chosen_epoch) = match best {
            Some((net, epoch, _)) => (net, epoch),
            None => (net, losses.len()),
        };
        let mut final_losses = Vec::new();
        if let Some((valid_images, _, valid_labels)) = valid.filter(|_| self.final_epochs > 0) {
            // [rows + valid rows, inputs]
            let all = Tensor::cat(vec![images.clone(), valid_images.clone()], 0);
            let all_labels: Vec<usize> = labels.iter().chain(valid_labels).copied().collect();
            let all_one_hot = one_hot_rows(&all_labels, classes, &device)?;
            let all_order = epoch_order(self.seed, 0, all_labels.len());
            let epoch_run = EpochRun {
                config: self,
                batch: self.batch_size.min(all_labels.len()),
            };
            net.velocity = None;
            for pass in 1..=self.final_epochs {
                // New epoch numbers: orders and masks of their own. The rate
                // is the schedule's for the epochs after the chosen one (a
                // chosen head epoch: the whole net's first rate).
                let epoch = self.epochs + pass;
                let decays = (chosen_epoch + pass).saturating_sub(self.head_epochs + 1);
                let (loss, unchanged) = epoch_run.run(
                    &mut net,
                    epoch,
                    (&all, &all_one_hot),
                    &all_order,
                    false,
                    decays,
                )?;
                if unchanged {
                    break;
                }
                final_losses.push(loss);
            }
        }
        Ok(FinetunedNet {
            net,
            losses,
            valid_accuracies,
            chosen_epoch,
            final_losses,
        })
    }
}

/// One epoch of a [`NetFinetuneConfig`] at a batch size fitted to the rows.
struct EpochRun<'a> {
    config: &'a NetFinetuneConfig,
    batch: usize,
}

impl EpochRun<'_> {
    /// Epoch `epoch` (1-based; it draws the order and the masks) on the
    /// images and their one-hot targets: conjugate gradients on the
    /// batches of `fixed_order`, or SGD at the first rate decayed `decays`
    /// times on a fresh order. Returns the mean training loss and whether a
    /// conjugate-gradient epoch returned its net bit for bit.
    ///
    /// # Shapes
    /// - rows: `([n, inputs], [n, classes])`
    fn run(
        &self,
        net: &mut SgdNet,
        epoch: usize,
        (images, one_hot): (&Tensor<2>, &Tensor<2>),
        fixed_order: &[usize],
        head_only: bool,
        decays: usize,
    ) -> Result<(f64, bool), DbnError> {
        let seed = self.config.seed;
        let (loss, unchanged, rule) = match self.config.method {
            NetMethod::ConjugateGradient { line_searches } => {
                let stats = conjugate_gradient_epoch(
                    net,
                    epoch,
                    images,
                    one_hot,
                    fixed_order,
                    self.batch,
                    line_searches,
                    head_only,
                )?;
                (stats.loss_after, stats.unchanged, "not finite")
            }
            NetMethod::Sgd {
                learning_rate,
                momentum,
                weight_decay,
                lr_decay,
                dropout,
            } => {
                let step = SgdStep {
                    rate: learning_rate * lr_decay.powi(decays as i32),
                    momentum,
                    weight_decay,
                };
                let training = SgdTraining { head_only, dropout };
                let mut masks = Sampler::for_epoch(seed ^ DROPOUT_STREAM, epoch);
                let order = epoch_order(seed, epoch, images.dims()[0]);
                let loss = net.epoch_with(
                    images, one_hot, &order, self.batch, step, training, &mut masks,
                );
                (loss, false, "not finite: lower the learning rate")
            }
        };
        if !loss.is_finite() {
            return Err(DbnError::Diverged {
                phase: "fine-tuning",
                epoch,
                quantity: "training loss",
                value: loss,
                rule: rule.to_string(),
            });
        }
        Ok((loss, unchanged))
    }
}

/// Checks `images` and `labels` against `net`; returns the head's classes.
fn check_rows(
    net: &SgdNet,
    what: &'static str,
    images: &Tensor<2>,
    labels: &[usize],
) -> Result<usize, DbnError> {
    let inputs = net.weights[0].dims()[0];
    let classes = net.weights.last().expect("a net has a head").dims()[1];
    let [rows, width] = images.dims();
    if width != inputs {
        return Err(DbnError::DataWidth {
            what,
            expected: inputs,
            found: width,
        });
    }
    if rows != labels.len() {
        return Err(DbnError::LabelCount {
            what,
            images: rows,
            labels: labels.len(),
        });
    }
    if rows == 0 {
        return Err(DbnError::EmptyData { what });
    }
    if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
        return Err(DbnError::ClassOutOfRange {
            what,
            row,
            label,
            classes,
        });
    }
    Ok(classes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finetune::classifier::{ClassifierConfig, Initialisation};

    /// A 12-8-3 net, and `rows` noisy images of 12 pixels in three classes
    /// (each class lights its own third of the pixels; 25% of pixels
    /// flipped, so that the classes overlap and accuracies move).
    fn net_and_rows(rows: usize, seed: u64) -> (SgdNet, Tensor<2>, Vec<usize>) {
        let device = Device::flex();
        let classifier =
            ClassifierConfig::new(vec![12, 8], 3).init_with(Initialisation::Glorot4, &device, seed);
        let net = SgdNet::from_classifier(&classifier).unwrap();
        let mut sampler = Sampler::new(seed + 100);
        let noise = sampler.uniform_vec(rows * 12);
        let labels: Vec<usize> = (0..rows).map(|r| r % 3).collect();
        let values: Vec<f32> = (0..rows * 12)
            .map(|i| {
                let on = (i % 12) / 4 == labels[i / 12];
                if on != (noise[i] < 0.25) { 1.0 } else { 0.0 }
            })
            .collect();
        (net, rbm::tensor_from_rows(&values, 12, &device), labels)
    }

    fn sgd(learning_rate: f64, lr_decay: f64, dropout: DropoutRates) -> NetMethod {
        NetMethod::Sgd {
            learning_rate,
            momentum: 0.9,
            weight_decay: 1e-4,
            lr_decay,
            dropout,
        }
    }

    /// SGD at 0.1 without decay or dropout, `momentum` and `weight_decay`.
    fn sgd_regularised(momentum: f64, weight_decay: f64) -> NetMethod {
        NetMethod::Sgd {
            learning_rate: 0.1,
            momentum,
            weight_decay,
            lr_decay: 1.0,
            dropout: DropoutRates::NONE,
        }
    }

    fn config(epochs: usize, head_epochs: usize) -> NetFinetuneConfig {
        NetFinetuneConfig {
            epochs,
            head_epochs,
            batch_size: 10,
            method: sgd(0.5, 0.8, DropoutRates::NONE),
            patience: None,
            final_epochs: 0,
            seed: 11,
        }
    }

    fn with_method(method: NetMethod) -> NetFinetuneConfig {
        NetFinetuneConfig {
            method,
            ..config(3, 1)
        }
    }

    /// One epoch of SGD by hand, as the schedule should run it.
    fn sgd_epoch_by_hand(
        net: &mut SgdNet,
        (images, labels): (&Tensor<2>, &[usize]),
        config: &NetFinetuneConfig,
        (epoch, head_only, rate): (usize, bool, f64),
    ) -> f64 {
        let NetMethod::Sgd {
            momentum,
            weight_decay,
            dropout,
            ..
        } = config.method
        else {
            panic!("SGD only")
        };
        let one_hot = one_hot_rows(labels, 3, &images.device()).unwrap();
        net.epoch_with(
            images,
            &one_hot,
            &epoch_order(config.seed, epoch, labels.len()),
            config.batch_size,
            SgdStep {
                rate,
                momentum,
                weight_decay,
            },
            SgdTraining { head_only, dropout },
            &mut Sampler::for_epoch(config.seed ^ DROPOUT_STREAM, epoch),
        )
    }

    /// A net, 60 training rows and 30 validation rows of `net_and_rows`.
    struct Split {
        net: SgdNet,
        images: Tensor<2>,
        labels: Vec<usize>,
    }

    impl Split {
        fn new(seed: u64) -> Self {
            let (net, images, labels) = net_and_rows(90, seed);
            Self {
                net,
                images,
                labels,
            }
        }

        fn train(&self) -> Tensor<2> {
            self.images.clone().slice([0..60, 0..12])
        }

        /// `config`'s fit from the split's net, choosing on the 30 rows.
        fn fit(&self, config: &NetFinetuneConfig) -> FinetunedNet {
            let valid = self.images.clone().slice([60..90, 0..12]);
            let valid_rows = Some((&valid, &self.labels[60..]));
            config
                .fit(
                    self.net.clone(),
                    &self.train(),
                    &self.labels[..60],
                    valid_rows,
                )
                .unwrap()
        }
    }

    #[test]
    fn head_epochs_must_not_exceed_the_epochs() {
        assert_eq!(
            config(2, 3).validate(),
            Err(DbnConfigError::HeadEpochsAboveEpochs {
                head_epochs: 3,
                epochs: 2
            })
        );
        assert_eq!(config(3, 3).validate(), Ok(()));
        assert_eq!(config(0, 0).validate(), Ok(()));
    }

    #[test]
    fn the_batch_needs_a_row() {
        let zero = NetFinetuneConfig {
            batch_size: 0,
            ..config(3, 1)
        };
        assert_eq!(zero.validate(), Err(DbnConfigError::ZeroBatchSize));
    }

    #[test]
    fn a_patience_counts_at_least_one_epoch() {
        let zero = NetFinetuneConfig {
            patience: Some(0),
            ..config(3, 1)
        };
        assert_eq!(zero.validate(), Err(DbnConfigError::ZeroPatience));
    }

    #[test]
    fn the_rate_is_positive_and_finite() {
        for rate in [0.0, -0.1, f64::NAN, f64::INFINITY] {
            let error = with_method(sgd(rate, 1.0, DropoutRates::NONE)).validate();
            assert!(
                matches!(error, Err(DbnConfigError::NetLearningRate(r)) if r.to_bits() == rate.to_bits()),
                "{rate}: {error:?}"
            );
        }
        // Above 1 is a rate like any other here (no Burn schedule).
        assert_eq!(
            with_method(sgd(2.0, 1.0, DropoutRates::NONE)).validate(),
            Ok(())
        );
    }

    #[test]
    fn momentum_lies_in_the_unit_interval_open_above() {
        for momentum in [1.0, -0.1, f64::NAN] {
            assert!(matches!(
                with_method(sgd_regularised(momentum, 0.0)).validate(),
                Err(DbnConfigError::MomentumOutOfRange(_))
            ));
        }
    }

    #[test]
    fn weight_decay_is_non_negative_and_finite() {
        for weight_decay in [-1e-4, f64::INFINITY, f64::NAN] {
            assert!(matches!(
                with_method(sgd_regularised(0.5, weight_decay)).validate(),
                Err(DbnConfigError::InvalidWeightDecay(_))
            ));
        }
    }

    #[test]
    fn the_rate_decay_lies_in_zero_to_one() {
        for lr_decay in [0.0, 1.5, f64::NAN] {
            assert!(matches!(
                with_method(sgd(0.1, lr_decay, DropoutRates::NONE)).validate(),
                Err(DbnConfigError::InvalidLrDecay(_))
            ));
        }
    }

    #[test]
    fn dropout_probabilities_lie_in_the_unit_interval_open_above() {
        let hidden = DropoutRates {
            input: 0.2,
            hidden: 1.0,
        };
        assert_eq!(
            with_method(sgd(0.1, 1.0, hidden)).validate(),
            Err(DbnConfigError::InvalidDropout {
                layer: "hidden",
                probability: 1.0
            })
        );
        let input = DropoutRates {
            input: -0.1,
            hidden: 0.5,
        };
        assert_eq!(
            with_method(sgd(0.1, 1.0, input)).validate(),
            Err(DbnConfigError::InvalidDropout {
                layer: "input",
                probability: -0.1
            })
        );
    }

    #[test]
    fn conjugate_gradients_need_a_line_search() {
        let method = NetMethod::ConjugateGradient { line_searches: 0 };
        assert_eq!(
            with_method(method).validate(),
            Err(DbnConfigError::ZeroLineSearches)
        );
    }

    #[test]
    fn a_patience_or_a_final_pass_needs_validation_rows() {
        let (net, images, labels) = net_and_rows(30, 1);
        let patient = NetFinetuneConfig {
            patience: Some(2),
            ..config(3, 1)
        };
        assert!(matches!(
            patient.fit(net.clone(), &images, &labels, None),
            Err(DbnError::Config(DbnConfigError::PatienceWithoutValidation))
        ));
        let final_pass = NetFinetuneConfig {
            final_epochs: 2,
            ..config(3, 1)
        };
        assert!(matches!(
            final_pass.fit(net, &images, &labels, None),
            Err(DbnError::Config(DbnConfigError::FinalPassWithoutValidation))
        ));
        assert_eq!(patient.validate_for(true), Ok(()));
        assert_eq!(final_pass.validate_for(true), Ok(()));
    }

    #[test]
    fn rows_that_do_not_fit_the_net_are_named() {
        let (net, images, labels) = net_and_rows(30, 1);
        let config = config(2, 0);
        let narrow = images.clone().slice([0..30, 0..11]);
        assert!(matches!(
            config.fit(net.clone(), &narrow, &labels, None),
            Err(DbnError::DataWidth {
                what: "training rows",
                expected: 12,
                found: 11
            })
        ));
        assert!(matches!(
            config.fit(net.clone(), &images, &labels[..29], None),
            Err(DbnError::LabelCount {
                what: "training rows",
                images: 30,
                labels: 29
            })
        ));
        let mut wrong = labels.clone();
        wrong[7] = 3;
        assert!(matches!(
            config.fit(net.clone(), &images, &wrong, None),
            Err(DbnError::ClassOutOfRange {
                what: "training rows",
                row: 7,
                label: 3,
                classes: 3
            })
        ));
        let none = images.clone().slice([0..0, 0..12]);
        assert!(matches!(
            config.fit(net.clone(), &images, &labels, Some((&none, &[]))),
            Err(DbnError::EmptyData {
                what: "validation rows"
            })
        ));
    }

    #[test]
    fn without_validation_the_head_trains_first_then_the_whole_net_at_a_rate_falling_per_epoch() {
        let (net, images, labels) = net_and_rows(30, 2);
        let config = NetFinetuneConfig {
            method: sgd(
                0.5,
                0.8,
                DropoutRates {
                    input: 0.1,
                    hidden: 0.25,
                },
            ),
            ..config(3, 1)
        };
        let tuned = config.fit(net.clone(), &images, &labels, None).unwrap();
        let mut by_hand = net.clone();
        let rows = (&images, labels.as_slice());
        let losses = [(1, true, 0.5), (2, false, 0.5), (3, false, 0.5 * 0.8)]
            .map(|epoch| sgd_epoch_by_hand(&mut by_hand, rows, &config, epoch));
        assert!(tuned.net.same_parameters(&by_hand));
        assert_eq!(tuned.losses, losses.to_vec());
        assert_eq!(tuned.chosen_epoch, 3);
        assert!(tuned.valid_accuracies.is_empty() && tuned.final_losses.is_empty());
        // The head epoch left the hidden layer as it was; the net moved.
        let mut head_only = net.clone();
        sgd_epoch_by_hand(&mut head_only, rows, &config, (1, true, 0.5));
        assert!(
            head_only.weights[0]
                .clone()
                .equal(net.weights[0].clone())
                .all()
                .into_scalar::<bool>()
        );
        assert!(!tuned.net.same_parameters(&net));
    }

    #[test]
    fn the_kept_net_is_the_earliest_whole_net_epoch_of_the_highest_validation_accuracy() {
        let split = Split::new(3);
        let config = NetFinetuneConfig {
            method: sgd(0.3, 0.9, DropoutRates::NONE),
            ..config(12, 2)
        };
        let tuned = split.fit(&config);
        let accuracies = &tuned.valid_accuracies;
        assert_eq!(accuracies.len(), 12);
        let whole = &accuracies[2..];
        let top = whole.iter().copied().fold(f64::MIN, f64::max);
        let expected = 3 + whole.iter().position(|a| *a == top).unwrap();
        // Not trivially the first or the last epoch: the choice is tested.
        assert!(expected > 3 && expected < 12, "{accuracies:?}");
        assert_eq!(tuned.chosen_epoch, expected, "{accuracies:?}");
        // A later epoch of the same accuracy does not displace it (the
        // earliest of equals): the data give such a tie.
        assert!(whole[expected - 3 + 1..].contains(&top), "{accuracies:?}");
        // Its net is the net of a run that stops there, bit for bit.
        let shorter = NetFinetuneConfig {
            epochs: expected,
            ..config.clone()
        };
        let stopped = shorter
            .fit(split.net.clone(), &split.train(), &split.labels[..60], None)
            .unwrap();
        assert!(tuned.net.same_parameters(&stopped.net));
    }

    #[test]
    fn a_head_epoch_is_kept_only_when_no_whole_net_epoch_runs() {
        let split = Split::new(8);
        // A rate that the head alone takes well and the whole net, with
        // momentum, does not: the head's epochs score higher.
        let config = NetFinetuneConfig {
            method: sgd(8.0, 1.0, DropoutRates::NONE),
            ..config(5, 3)
        };
        let tuned = split.fit(&config);
        let accuracies = &tuned.valid_accuracies;
        let whole_top = accuracies[3..].iter().copied().fold(f64::MIN, f64::max);
        assert!(
            accuracies[..3].iter().any(|a| *a > whole_top),
            "{accuracies:?}"
        );
        assert!(tuned.chosen_epoch > 3, "{accuracies:?}");
        assert_eq!(accuracies[tuned.chosen_epoch - 1], whole_top);
        // Head epochs only: the last is kept, whatever the others scored.
        let head_only = NetFinetuneConfig {
            epochs: 3,
            ..config
        };
        let tuned = split.fit(&head_only);
        let accuracies = &tuned.valid_accuracies;
        assert!(
            accuracies[..2].iter().any(|a| *a > accuracies[2]),
            "{accuracies:?}"
        );
        assert_eq!(tuned.chosen_epoch, 3, "{accuracies:?}");
    }

    #[test]
    fn patience_stops_that_many_whole_net_epochs_after_the_last_higher_accuracy() {
        let split = Split::new(4);
        let config = NetFinetuneConfig {
            patience: Some(3),
            method: sgd(0.3, 1.0, DropoutRates::NONE),
            ..config(60, 1)
        };
        let tuned = split.fit(&config);
        let run = tuned.losses.len();
        assert!(run < 60, "the accuracy should stop rising on 30 rows");
        assert_eq!(run, tuned.chosen_epoch + 3);
        let best = tuned.valid_accuracies[tuned.chosen_epoch - 1];
        assert!(
            tuned.valid_accuracies[tuned.chosen_epoch..]
                .iter()
                .all(|a| *a <= best)
        );
    }

    #[test]
    fn the_final_pass_continues_the_chosen_net_on_all_rows_with_a_fresh_velocity() {
        let split = Split::new(5);
        let chosen_only = NetFinetuneConfig {
            method: sgd(0.3, 0.7, DropoutRates::NONE),
            ..config(8, 2)
        };
        let with_final = NetFinetuneConfig {
            final_epochs: 2,
            ..chosen_only.clone()
        };
        let (chosen, tuned) = (split.fit(&chosen_only), split.fit(&with_final));
        assert_eq!(tuned.chosen_epoch, chosen.chosen_epoch);
        assert_eq!(tuned.final_losses.len(), 2);
        let mut by_hand = chosen.net.clone();
        by_hand.velocity = None;
        // Training rows then validation rows: all of the split's, in order.
        let rows = (&split.images, split.labels.as_slice());
        for pass in 1..=2 {
            // The rate of the epochs after the chosen one: (chosen + pass)
            // whole-net epochs after the first, decayed per epoch.
            let decays = (chosen.chosen_epoch + pass - 3) as i32;
            let loss = sgd_epoch_by_hand(
                &mut by_hand,
                rows,
                &with_final,
                (8 + pass, false, 0.3 * 0.7f64.powi(decays)),
            );
            assert_eq!(tuned.final_losses[pass - 1], loss);
        }
        assert!(tuned.net.same_parameters(&by_hand));
    }

    #[test]
    fn a_rate_that_overflows_the_net_is_a_divergence_error() {
        let (net, images, labels) = net_and_rows(30, 6);
        let config = with_method(sgd(1e38, 1.0, DropoutRates::NONE));
        match config.fit(net, &images, &labels, None) {
            Err(DbnError::Diverged {
                phase: "fine-tuning",
                quantity: "training loss",
                value,
                ..
            }) => {
                assert!(!value.is_finite())
            }
            other => panic!("expected a divergence, got {:?}", other.map(|t| t.losses)),
        }
    }

    #[test]
    fn conjugate_gradients_train_and_choose_like_sgd() {
        let split = Split::new(7);
        let config = NetFinetuneConfig {
            batch_size: 30,
            method: NetMethod::ConjugateGradient { line_searches: 3 },
            ..config(4, 1)
        };
        let tuned = split.fit(&config);
        assert!(
            tuned.losses.windows(2).all(|w| w[1] < w[0]),
            "{:?}",
            tuned.losses
        );
        assert!(tuned.chosen_epoch >= 2);
        let top = tuned.valid_accuracies[1..]
            .iter()
            .copied()
            .fold(f64::MIN, f64::max);
        assert_eq!(tuned.valid_accuracies[tuned.chosen_epoch - 1], top);
    }
}
