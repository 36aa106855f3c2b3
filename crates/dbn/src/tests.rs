//! Unit tests of the dbn crate, on Flex.

use std::ops::ControlFlow;

use burn::optim::GradientsParams;
use burn::prelude::*;
use rbm::{ConfigError, RbmConfig, Sampler, TrainConfig, UnitKind};

use crate::*;

fn device() -> Device {
    Device::flex()
}

/// Held by every test that seeds or draws from the device's generator:
/// Flex has one per process (`Backend::seed`), and the tests run side by
/// side, so a test's `seed(5)` could otherwise be followed by another
/// test's draw, or reseeded by it, before its own.
pub(crate) fn device_generator() -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed while holding it leaves the generator as usable.
    GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn train(epochs: usize) -> TrainConfig {
    TrainConfig::new()
        .with_epochs(epochs)
        .with_batch_size(10)
        .with_monitor_rows(20)
}

/// 40 rows of 12 pixels in two noisy classes; labels alternate 0, 1.
fn toy_data(device: &Device) -> (Tensor<2>, Vec<u8>) {
    let mut sampler = Sampler::new(3);
    let noise = sampler.uniform_vec(40 * 12);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for row in 0..40 {
        let class = row % 2;
        labels.push(class as u8);
        for col in 0..12 {
            let on = (col < 6) == (class == 0);
            let flip = noise[row * 12 + col] < 0.1;
            values.push(if on != flip { 1.0 } else { 0.0 });
        }
    }
    (rbm::tensor_from_rows(&values, 12, device), labels)
}

fn finished(outcome: PretrainOutcome) -> RbmStack {
    match outcome {
        PretrainOutcome::Finished(stack) => stack,
        PretrainOutcome::Stopped => panic!("pretraining stopped"),
    }
}

fn host1(x: Tensor<1>) -> Vec<f32> {
    x.into_data().try_into_vec_as::<f32>().unwrap()
}

fn host(x: Tensor<2>) -> Vec<f32> {
    x.into_data().try_into_vec_as::<f32>().unwrap()
}

fn max_abs_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    host(a)
        .iter()
        .zip(host(b))
        .map(|(x, y)| (x - y).abs())
        // NaN-propagating: `f32::max` would drop a NaN difference, and a
        // `< tolerance` check of NaN fails, as it must.
        .fold(0.0, |m: f32, d| {
            if m.is_nan() || d.is_nan() {
                f32::NAN
            } else {
                m.max(d)
            }
        })
}

#[test]
fn the_comparison_of_tensors_sees_a_nan() {
    let device = Device::flex();
    let zeros = Tensor::<2>::zeros([2, 3], &device);
    let one_nan = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 0.0, f32::NAN, 0.0, 0.0, 0.0], [2, 3]),
        &device,
    );
    assert!(max_abs_diff(one_nan.clone(), zeros.clone()).is_nan());
    assert!(max_abs_diff(zeros.clone(), one_nan).is_nan());
    assert_eq!(max_abs_diff(zeros.clone(), zeros), 0.0);
}

// ---- validation: one test per rule ----

#[test]
fn stack_needs_a_layer() {
    let config = StackConfig {
        layers: vec![],
        propagation: Propagation::MeanField,
    };
    assert_eq!(config.validate(), Err(DbnConfigError::NoLayers));
}

#[test]
fn stack_sizes_must_chain() {
    let mut config = StackConfig::uniform(&[12, 8, 4], &train(1));
    config.layers[1].rbm.n_visible = 7;
    assert_eq!(
        config.validate(),
        Err(DbnConfigError::LayerSizeMismatch {
            layer: 2,
            expected: 8,
            found: 7
        })
    );
}

#[test]
fn stack_unit_types_must_chain() {
    let mut config = StackConfig::uniform(&[12, 8, 4], &train(1));
    config.layers[0].rbm.hidden_units = UnitKind::NoisyRectified;
    assert_eq!(
        config.validate(),
        Err(DbnConfigError::UnitKindMismatch {
            layer: 2,
            below: "nrelu".into(),
            found: "binary".into()
        })
    );
    config.layers[1].rbm.visible_units = UnitKind::NoisyRectified;
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn stack_reports_the_invalid_layer() {
    let mut config = StackConfig::uniform(&[12, 8, 4], &train(1));
    config.layers[1].train.k = 0;
    assert_eq!(
        config.validate(),
        Err(DbnConfigError::InvalidLayer {
            layer: 2,
            source: ConfigError::ZeroGibbsSteps
        })
    );
    let mut config = StackConfig::uniform(&[12, 8, 4], &train(1));
    config.layers[0].rbm = RbmConfig::new(12, 0);
    assert!(matches!(
        config.validate(),
        Err(DbnConfigError::InvalidLayer {
            layer: 1,
            source: ConfigError::ZeroHidden
        })
    ));
}

#[test]
fn classifier_needs_two_sizes() {
    let config = ClassifierConfig::new(vec![784], 10);
    assert_eq!(config.validate(), Err(DbnConfigError::TooFewLayerSizes(1)));
}

#[test]
fn classifier_sizes_are_positive() {
    let config = ClassifierConfig::new(vec![784, 0, 10], 10);
    assert_eq!(
        config.validate(),
        Err(DbnConfigError::ZeroLayerSize { index: 1 })
    );
}

#[test]
fn classifier_needs_one_unit_kind_per_hidden_layer() {
    let mut config = ClassifierConfig::new(vec![784, 500, 500], 10);
    config.hidden_units = vec![UnitKind::Bernoulli];
    assert_eq!(
        config.validate(),
        Err(DbnConfigError::UnitKindCount {
            expected: 2,
            found: 1
        })
    );
}

#[test]
fn classifier_needs_two_classes() {
    let config = ClassifierConfig::new(vec![784, 500], 1);
    assert_eq!(config.validate(), Err(DbnConfigError::TooFewClasses(1)));
}

#[test]
fn finetune_rules() {
    let ok = FinetuneConfig::default();
    assert_eq!(ok.validate(), Ok(()));
    let cases: Vec<(FinetuneConfig, DbnConfigError)> = vec![
        (
            FinetuneConfig {
                max_epochs: 0,
                ..ok.clone()
            },
            DbnConfigError::ZeroEpochs,
        ),
        (
            FinetuneConfig {
                batch_size: 0,
                ..ok.clone()
            },
            DbnConfigError::ZeroBatchSize,
        ),
        (
            FinetuneConfig {
                learning_rate: 0.0,
                ..ok.clone()
            },
            DbnConfigError::InvalidLearningRate(0.0),
        ),
        (
            FinetuneConfig {
                learning_rate: 1.5,
                ..ok.clone()
            },
            DbnConfigError::InvalidLearningRate(1.5),
        ),
        (
            FinetuneConfig {
                lr_decay: 0.0,
                ..ok.clone()
            },
            DbnConfigError::InvalidLrDecay(0.0),
        ),
        (
            FinetuneConfig {
                lr_decay: 1.1,
                ..ok.clone()
            },
            DbnConfigError::InvalidLrDecay(1.1),
        ),
        (
            FinetuneConfig {
                momentum: 1.0,
                ..ok.clone()
            },
            DbnConfigError::MomentumOutOfRange(1.0),
        ),
        (
            FinetuneConfig {
                weight_decay: -1.0,
                ..ok.clone()
            },
            DbnConfigError::InvalidWeightDecay(-1.0),
        ),
        (
            FinetuneConfig {
                patience: Some(0),
                ..ok.clone()
            },
            DbnConfigError::ZeroPatience,
        ),
        (
            FinetuneConfig {
                dropout: DropoutRates {
                    input: 1.0,
                    hidden: 0.5,
                },
                ..ok.clone()
            },
            DbnConfigError::InvalidDropout {
                layer: "input",
                probability: 1.0,
            },
        ),
        (
            FinetuneConfig {
                dropout: DropoutRates {
                    input: 0.2,
                    hidden: -0.1,
                },
                ..ok.clone()
            },
            DbnConfigError::InvalidDropout {
                layer: "hidden",
                probability: -0.1,
            },
        ),
        (
            FinetuneConfig {
                method: crate::FinetuneMethod::ConjugateGradient { line_searches: 0 },
                weight_decay: 0.0,
                ..ok.clone()
            },
            DbnConfigError::ZeroLineSearches,
        ),
        (
            FinetuneConfig {
                method: crate::FinetuneMethod::ConjugateGradient { line_searches: 3 },
                weight_decay: 1e-5,
                ..ok.clone()
            },
            DbnConfigError::ConjugateGradientRegulariser {
                weight_decay: 1e-5,
                dropout: DropoutRates::NONE,
            },
        ),
        (
            FinetuneConfig {
                method: crate::FinetuneMethod::ConjugateGradient { line_searches: 3 },
                weight_decay: 0.0,
                dropout: DropoutRates {
                    input: 0.2,
                    hidden: 0.0,
                },
                ..ok.clone()
            },
            DbnConfigError::ConjugateGradientRegulariser {
                weight_decay: 0.0,
                dropout: DropoutRates {
                    input: 0.2,
                    hidden: 0.0,
                },
            },
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected.clone()), "{expected}");
    }
}

#[test]
fn pretraining_rejects_data_of_the_wrong_width() {
    let (data, _) = toy_data(&device());
    let config = StackConfig::uniform(&[10, 4], &train(1));
    let error = pretrain(&config, &data, None, None, |_| ControlFlow::Continue(())).unwrap_err();
    assert!(
        matches!(
            error,
            DbnError::Layer {
                layer: 1,
                source: rbm::RbmError::DataWidth {
                    expected: 10,
                    found: 12,
                    ..
                }
            }
        ),
        "{error}"
    );
}

// ---- greedy stacking ----

#[test]
fn each_layer_trains_on_the_activations_below() {
    let device = device();
    let (data, _) = toy_data(&device);
    let config = StackConfig::uniform(&[12, 8, 4], &train(3));
    let mut layer_rows = Vec::new();
    let stack = finished(
        pretrain(&config, &data, None, None, |event| {
            if let PretrainEvent::LayerStarted {
                layer,
                n_visible,
                rows,
                ..
            } = event
            {
                layer_rows.push((layer, n_visible, rows));
            }
            ControlFlow::Continue(())
        })
        .unwrap(),
    );
    assert_eq!(layer_rows, vec![(1, 12, 40), (2, 8, 40)]);
    assert_eq!(stack.sizes(), vec![12, 8, 4]);
    // Layer 2 alone, trained on layer 1's mean activations, is the same model.
    let features = stack.layers[0].hidden_given_visible(data);
    let alone = StackConfig {
        layers: vec![config.layers[1].clone()],
        propagation: Propagation::MeanField,
    };
    let second =
        finished(pretrain(&alone, &features, None, None, |_| ControlFlow::Continue(())).unwrap());
    assert_eq!(
        max_abs_diff(second.layers[0].weight.val(), stack.layers[1].weight.val()),
        0.0
    );
}

#[test]
fn sampled_propagation_feeds_binary_states() {
    let device = device();
    let (data, _) = toy_data(&device);
    let stack = finished(
        pretrain(
            &StackConfig::uniform(&[12, 8], &train(2)),
            &data,
            None,
            None,
            |_| ControlFlow::Continue(()),
        )
        .unwrap(),
    );
    let sampled = propagate(
        &stack.layers[0],
        0,
        data.clone(),
        Propagation::Sampled { seed: 5 },
    );
    let values = host(sampled.clone());
    assert!(values.iter().all(|&v| v == 0.0 || v == 1.0));
    let means = propagate(&stack.layers[0], 0, data, Propagation::MeanField);
    assert!(host(means).iter().any(|&v| v > 0.0 && v < 1.0));
    // Same seed, same sample: a resumed run sees the same data.
    let again = propagate(
        &stack.layers[0],
        0,
        toy_data(&device).0,
        Propagation::Sampled { seed: 5 },
    );
    assert_eq!(host(again), values);
}

#[test]
fn resumed_pretraining_is_identical_to_an_uninterrupted_run() {
    let device = device();
    let (data, _) = toy_data(&device);
    let mut config = StackConfig::uniform(&[12, 8, 4], &train(3));
    config.layers[0].train.persistent = true;
    let full =
        finished(pretrain(&config, &data, None, None, |_| ControlFlow::Continue(())).unwrap());

    // Stop after layer 2's second epoch and keep what a checkpoint keeps.
    let mut saved = None;
    let outcome = pretrain(&config, &data, None, None, |event| match event {
        PretrainEvent::Epoch {
            layer: 2,
            metrics,
            finished,
            trainer,
        } if metrics.epoch == 2 => {
            saved = Some(PretrainCheckpoint {
                finished: finished.to_vec(),
                current: Some((trainer.rbm().clone(), trainer.state())),
            });
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .unwrap();
    assert!(matches!(outcome, PretrainOutcome::Stopped));
    let mut epochs_seen = Vec::new();
    let resumed = finished(
        pretrain(&config, &data, None, saved, |event| {
            if let PretrainEvent::Epoch { layer, metrics, .. } = event {
                epochs_seen.push((layer, metrics.epoch));
            }
            ControlFlow::Continue(())
        })
        .unwrap(),
    );
    assert_eq!(epochs_seen, vec![(2, 3)]);
    for (a, b) in full.layers.iter().zip(&resumed.layers) {
        assert_eq!(max_abs_diff(a.weight.val(), b.weight.val()), 0.0);
    }
}

#[test]
fn a_checkpoint_of_other_sizes_is_rejected() {
    let device = device();
    let (data, _) = toy_data(&device);
    let config = StackConfig::uniform(&[12, 8, 4], &train(1));
    let wrong = PretrainCheckpoint {
        finished: vec![RbmConfig::new(12, 6).init(&device, 0)],
        current: None,
    };
    let error = pretrain(&config, &data, None, Some(wrong), |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(
        matches!(error, DbnError::CheckpointMismatch { .. }),
        "{error}"
    );
}

// ---- the classifier ----

fn random_stack(device: &Device) -> RbmStack {
    let mut sampler = Sampler::new(11);
    let layers = [(12, 8), (8, 6)]
        .iter()
        .map(|&(v, h)| {
            let mut rbm = RbmConfig::new(v, h)
                .with_init_std(0.5)
                .init(device, v as u64);
            rbm.hidden_bias = rbm
                .hidden_bias
                .map(|_| sampler.normal([h], 0.0, 1.0, device));
            rbm
        })
        .collect();
    RbmStack::new(layers)
}

#[test]
fn conversion_preserves_the_up_pass() {
    let device = device();
    let stack = random_stack(&device);
    let classifier = DbnClassifier::from_stack(&stack, 3, 1).unwrap();
    let (data, _) = toy_data(&device);
    let expected = stack.up_pass(data.clone());
    let got = classifier.hidden_activations(data);
    assert_eq!(got.len(), 2);
    for (e, g) in expected.into_iter().zip(got) {
        assert!(max_abs_diff(e, g) <= 1e-6);
    }
}

#[test]
fn conversion_folds_a_gaussian_first_layer_sigma_into_the_weights() {
    let device = device();
    let mut stack = random_stack(&device);
    let first = &mut stack.layers[0];
    first.visible_units = UnitKind::Gaussian;
    first.visible_sigma = rbm::SigmaConfig::learned(1.0, 0.01, 10.0);
    let log_sigma = Sampler::new(5).normal([12], -0.5, 0.5, &device);
    first.visible_log_sigma = Some(burn::module::Param::from_tensor(log_sigma));
    let classifier = DbnClassifier::from_stack(&stack, 3, 1).unwrap();
    let (data, _) = toy_data(&device);
    for (e, g) in stack
        .up_pass(data.clone())
        .into_iter()
        .zip(classifier.hidden_activations(data))
    {
        assert!(max_abs_diff(e, g) <= 1e-5);
    }
}

#[test]
fn a_gaussian_first_layer_under_a_binary_layer_pretrains() {
    let device = device();
    let (data, labels) = toy_data(&device);
    let mut config = StackConfig::uniform(&[12, 8, 4], &train(3).with_learning_rate(0.01));
    config.layers[0].rbm.visible_units = UnitKind::Gaussian;
    config.layers[0].rbm.visible_sigma = Some(rbm::SigmaConfig::learned(0.5, 0.05, 2.0));
    config.validate().unwrap();
    let stack =
        finished(pretrain(&config, &data, None, None, |_| ControlFlow::Continue(())).unwrap());
    // Sigma was learned: moved from its initial 0.5 in some unit, within
    // its bounds in all (the clamp).
    let sigma = stack.layers[0].visible_sigma().expect("Gaussian");
    let sigma: Vec<f32> = sigma.into_data().try_to_vec::<f32>().unwrap();
    assert!(sigma.iter().all(|s| (0.05..=2.0).contains(s)), "{sigma:?}");
    assert!(sigma.iter().any(|s| (s - 0.5).abs() > 1e-4), "{sigma:?}");
    // The second layer's features are probabilities (a NaN fails the range
    // check) that carry the input's class: in some unit the two classes'
    // means differ by more than 5 standard errors of that difference (after
    // 3 epochs at rate 0.01 the weights are small, so the features are all
    // near 0.5: what counts is the separation, not the size).
    let features = host(stack.features(data));
    assert!(features.iter().all(|f| (0.0..=1.0).contains(f)));
    let separated = (0..4).any(|unit| {
        let of = |class: u8| -> Vec<f64> {
            features
                .chunks(4)
                .zip(&labels)
                .filter(|(_, l)| **l == class)
                .map(|(row, _)| f64::from(row[unit]))
                .collect()
        };
        let (a, b) = (of(0), of(1));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let var = |v: &[f64]| {
            let m = mean(v);
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
        };
        let se = (var(&a) / a.len() as f64 + var(&b) / b.len() as f64).sqrt();
        (mean(&a) - mean(&b)).abs() > 5.0 * se
    });
    assert!(separated, "no feature separates the classes: {features:?}");
}

#[test]
fn one_step_lowers_the_loss_and_reaches_the_first_layer() {
    let device = device();
    let (data, labels) = toy_data(&device);
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(
            labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [labels.len()],
        ),
        &device,
    );
    let batch = ClassificationBatch {
        images: data,
        targets,
    };
    let model = DbnClassifier::from_stack(&random_stack(&device), 2, 1)
        .unwrap()
        .train();
    let before = model.forward_classification(batch.clone()).loss;
    let loss_before = before.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(before.backward(), &model);
    let first = grads
        .get::<2>(model.hidden[0].weight.id)
        .expect("the first layer's weights get a gradient");
    let norm = first.powi_scalar(2).sum().into_scalar::<f32>().sqrt();
    assert!(norm > 1e-6, "first-layer gradient norm {norm}");
    let config = FinetuneConfig {
        momentum: 0.0,
        weight_decay: 0.0,
        ..FinetuneConfig::default()
    };
    let mut optimizer = config.optimizer();
    let model = optimizer.step(0.1, model, grads);
    let loss_after = model
        .forward_classification(batch)
        .loss
        .into_scalar::<f32>();
    assert!(loss_after < loss_before, "{loss_after} !< {loss_before}");
}

#[test]
fn head_only_training_leaves_the_hidden_layers_without_gradients() {
    let device = device();
    let (data, labels) = toy_data(&device);
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(
            labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [labels.len()],
        ),
        &device,
    );
    let batch = ClassificationBatch {
        images: data,
        targets,
    };
    let model = DbnClassifier::from_stack(&random_stack(&device), 2, 1)
        .unwrap()
        .with_head_only(true)
        .train();
    let loss = model.forward_classification(batch.clone()).loss;
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    assert!(grads.get::<2>(model.hidden[0].weight.id).is_none());
    assert!(grads.get::<2>(model.hidden[1].weight.id).is_none());
    assert!(grads.get::<2>(model.head.weight.id).is_some());
    // As the Learner hands it back (inference mode), then all layers again.
    let model = model.valid().with_head_only(false).train();
    let loss = model.forward_classification(batch).loss;
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    assert!(grads.get::<2>(model.hidden[0].weight.id).is_some());
}

#[test]
fn dropout_zeroes_the_expected_fraction_and_keeps_the_mean() {
    let _generator = device_generator();
    let device = device();
    let ones = Tensor::<2>::ones([400, 500], &device);
    assert_eq!(
        max_abs_diff(
            crate::finetune::classifier::dropped_out(ones.clone(), 0.0),
            ones.clone()
        ),
        0.0
    );
    device.seed(11);
    let dropped = host(crate::finetune::classifier::dropped_out(ones, 0.3));
    // 200,000 independent drops: the zero fraction has standard deviation
    // sqrt(0.3 * 0.7 / 200000) = 0.001; 5 of them is the tolerance.
    let zeros = dropped.iter().filter(|&&x| x == 0.0).count() as f64 / dropped.len() as f64;
    assert!((zeros - 0.3).abs() < 0.005, "dropped fraction {zeros}");
    // The kept units are scaled so that the expectation is unchanged.
    let kept = dropped.iter().filter(|&&x| x != 0.0);
    assert!(kept.into_iter().all(|&x| (x - 1.0 / 0.7).abs() < 1e-6));
}

/// Masks follow the device's generator: the same seed gives the same
/// mask, the next draw or another seed a different one; and the gradient
/// through a dropped-out activation is its mask (`1 / keep` or 0).
#[test]
fn dropout_masks_follow_the_device_seed_and_pass_the_gradient_through() {
    let _generator = device_generator();
    let device = device();
    let ones = || Tensor::<2>::ones([50, 40], &device);
    let dropped = |x| host(crate::finetune::classifier::dropped_out(x, 0.25));
    device.seed(5);
    let first = dropped(ones());
    let next = dropped(ones());
    device.seed(5);
    assert_eq!(dropped(ones()), first, "the same seed, the same mask");
    assert_ne!(next, first, "the next draw");
    device.seed(6);
    assert_ne!(dropped(ones()), first, "another seed");

    let autodiff = device.clone().autodiff();
    autodiff.seed(5);
    let x = Tensor::<2>::ones([50, 40], &autodiff).require_grad();
    let y = crate::finetune::classifier::dropped_out(x.clone(), 0.25);
    let gradients = y.clone().sum().backward();
    let gradient = host(x.grad(&gradients).expect("a gradient"));
    // With x = 1, y is the mask itself.
    assert_eq!(gradient, host(y));
    assert!(gradient.iter().all(|&g| g == 0.0 || g == 1.0 / 0.75));
}

#[test]
fn dropout_acts_in_training_passes_only() {
    let _generator = device_generator();
    let device = device();
    let (data, _) = toy_data(&device);
    let plain = DbnClassifier::from_stack(&random_stack(&device), 2, 1).unwrap();
    let with_dropout = plain.clone().with_dropout(DropoutRates {
        input: 0.2,
        hidden: 0.5,
    });
    // Evaluation: the same function.
    assert_eq!(
        max_abs_diff(
            plain.forward(data.clone()),
            with_dropout.forward(data.clone())
        ),
        0.0
    );
    // Training: random masks, so two passes differ (inputs dropped too:
    // a net of one linear layer would differ by the input masks alone).
    let training = with_dropout.train();
    let first = training.forward(data.clone());
    let second = training.forward(data);
    assert!(max_abs_diff(first.clone(), second) > 1e-3);
    let grads = GradientsParams::from_grads(first.sum().backward(), &training);
    assert!(grads.get::<2>(training.hidden[0].weight.id).is_some());
    // Input dropout alone, on a batch that is not on the autodiff device
    // (as the data loader hands it over).
    let input_only = plain
        .with_dropout(DropoutRates {
            input: 0.5,
            hidden: 0.0,
        })
        .train();
    let (data, _) = toy_data(&device);
    assert!(max_abs_diff(input_only.forward(data.clone()), input_only.forward(data)) > 1e-3);
}

#[test]
fn finetune_config_without_dropout_field_loads() {
    let mut json = serde_json::to_value(FinetuneConfig::default()).unwrap();
    json.as_object_mut().unwrap().remove("dropout");
    let config: FinetuneConfig = serde_json::from_value(json).unwrap();
    assert_eq!(config.dropout, DropoutRates::NONE);
}

/// A config from before the option (no `weight_decay_scope`) loads with
/// the cost on all parameters and saves as it was, so its run keeps its
/// identity; the weights-only scope is saved and read back.
#[test]
fn weight_decay_scope_all_is_left_out_of_saved_configs() {
    let all = FinetuneConfig::default();
    let json = serde_json::to_value(&all).unwrap();
    assert!(json.get("weight_decay_scope").is_none(), "{json}");
    let loaded: FinetuneConfig = serde_json::from_value(json).unwrap();
    assert_eq!(loaded.weight_decay_scope, crate::DecayScope::All);
    let weights = FinetuneConfig {
        weight_decay_scope: crate::DecayScope::Weights,
        ..all
    };
    let json = serde_json::to_value(&weights).unwrap();
    assert_eq!(json["weight_decay_scope"], "weights");
    assert_eq!(
        serde_json::from_value::<FinetuneConfig>(json).unwrap(),
        weights
    );
}

#[test]
fn random_baseline_is_seeded() {
    let device = device();
    let config = ClassifierConfig::new(vec![12, 8, 6], 3);
    let a = config.init(&device, 4);
    let b = config.init(&device, 4);
    let c = config.init(&device, 5);
    assert_eq!(
        max_abs_diff(a.hidden[0].weight.val(), b.hidden[0].weight.val()),
        0.0
    );
    assert!(max_abs_diff(a.hidden[0].weight.val(), c.hidden[0].weight.val()) > 0.0);
    // Glorot bound for the logistic layers: 4 sqrt(6 / (12 + 8)).
    let bound = 4.0 * (6.0f32 / 20.0).sqrt();
    assert!(
        host(a.hidden[0].weight.val())
            .iter()
            .all(|w| w.abs() <= bound)
    );
}

#[test]
fn error_rate_counts_wrong_rows() {
    let device = device();
    let classifier = ClassifierConfig::new(vec![12, 8], 2).init(&device, 2);
    let (data, _) = toy_data(&device);
    let predicted = classifier.predict(data.clone());
    let predicted: Vec<i64> = predicted.into_data().try_into_vec_as::<i64>().unwrap();
    // Make the first 10 labels wrong on purpose and the rest right.
    let labels: Vec<i64> = predicted
        .iter()
        .enumerate()
        .map(|(i, &p)| if i < 10 { 1 - p } else { p })
        .collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [40]), &device);
    assert_eq!(classifier.error_rate(&data, &labels, 7), 0.25);
}

#[test]
fn labelled_images_are_checked() {
    assert!(matches!(
        LabelledImages::new(vec![0.0; 24], vec![0, 1, 2], 12, 10, "x"),
        Err(DbnError::LabelCount {
            images: 2,
            labels: 3,
            ..
        })
    ));
    assert!(matches!(
        LabelledImages::new(vec![0.0; 24], vec![0, 10], 12, 10, "x"),
        Err(DbnError::LabelOutOfRange {
            row: 1,
            label: 10,
            classes: 10,
            ..
        })
    ));
}

// ---- files ----

#[test]
fn stack_and_classifier_round_trip_with_documented_names() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let stack = random_stack(&device);
    let path = dir.path().join("stack.safetensors");
    save_stack(&stack, &path).unwrap();
    let loaded = load_stack(&path, &device).unwrap();
    assert_eq!(loaded.sizes(), vec![12, 8, 6]);
    assert_eq!(
        max_abs_diff(loaded.layers[1].weight.val(), stack.layers[1].weight.val()),
        0.0
    );

    let classifier = DbnClassifier::from_stack(&stack, 3, 9).unwrap();
    let path = dir.path().join("classifier.safetensors");
    save_classifier(&classifier, &path).unwrap();
    let names = tensor_names(&path);
    for name in [
        "hidden.0.weight",
        "hidden.0.bias",
        "hidden.1.weight",
        "hidden.1.bias",
        "head.weight",
        "head.bias",
    ] {
        assert!(
            names.contains(&name.to_string()),
            "{name} missing from {names:?}"
        );
    }
    let loaded = load_classifier(&path, &device).unwrap();
    assert_eq!(loaded.config(), classifier.config());
    let (data, _) = toy_data(&device);
    assert_eq!(
        max_abs_diff(loaded.forward(data.clone()), classifier.forward(data)),
        0.0
    );
}

#[test]
fn loading_a_file_without_config_names_the_problem() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rbm.safetensors");
    let rbm = RbmConfig::new(4, 3).init(&device, 0);
    rbm::save_rbm(&rbm, &RbmConfig::new(4, 3), &path).unwrap();
    let error = load_classifier(&path, &device).unwrap_err();
    assert!(error.to_string().contains("classifier_config"), "{error}");
}

fn tensor_names(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect()
}

#[test]
fn classifier_layer_size_limit() {
    let error = ClassifierConfig::new(vec![784, rbm::MAX_UNITS + 1], 10)
        .validate()
        .unwrap_err();
    assert!(matches!(
        error,
        DbnConfigError::LayerTooLarge { index: 1, .. }
    ));
}

#[test]
fn classifier_weight_limit() {
    let error = ClassifierConfig::new(vec![1 << 16, 1 << 16], 10)
        .validate()
        .unwrap_err();
    assert!(matches!(
        error,
        DbnConfigError::TooManyWeights {
            index: 0,
            next: 1,
            ..
        }
    ));
    // The head counts too.
    let error = ClassifierConfig::new(vec![4, 1 << 21], 1 << 10)
        .validate()
        .unwrap_err();
    assert!(matches!(
        error,
        DbnConfigError::TooManyWeights {
            index: 1,
            next: 2,
            ..
        }
    ));
}

#[test]
fn an_empty_stack_is_an_error_not_a_panic() {
    let empty = RbmStack::new(Vec::new());
    assert!(matches!(
        DbnClassifier::from_stack(&empty, 10, 1),
        Err(DbnError::Config(DbnConfigError::NoLayers))
    ));
    let top = RbmConfig::new(12, 4)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 })
        .init(&device(), 1);
    assert!(matches!(
        GenerativeDbn::from_greedy(&empty, top),
        Err(DbnError::Config(DbnConfigError::NoLayers))
    ));
}

#[test]
fn one_hot_labels_out_of_range_are_errors() {
    let error = one_hot_rows(&[0, 2, 3], 3, &device()).unwrap_err();
    assert!(matches!(
        error,
        DbnError::ClassOutOfRange {
            row: 2,
            label: 3,
            classes: 3,
            ..
        }
    ));
    let rows = one_hot_rows(&[2, 0], 3, &device()).unwrap();
    assert_eq!(host(rows), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
}

fn toy_generative(device: &Device) -> GenerativeDbn {
    let lower = RbmConfig::new(12, 6).init(device, 1);
    let top = RbmConfig::new(6 + 2, 5)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 })
        .init(device, 2);
    GenerativeDbn::from_greedy(&RbmStack::new(vec![lower]), top).unwrap()
}

fn updown(learning_rate: f64) -> UpDownConfig {
    UpDownConfig {
        epochs: 1,
        batch_size: 10,
        learning_rate,
        weight_decay: 0.0,
        momentum: 0.0,
        negative_labels: NegativeLabels::MeanField,
        batches: BatchComposition::Shuffled,
        top_statistics: TopStatistics::Probabilities,
        gibbs_schedule: vec![(0, 1)],
        seed: 1,
    }
}

#[test]
fn up_down_validates_its_config_and_data() {
    let device = device();
    let mut model = toy_generative(&device);
    let (images, labels) = toy_data(&device);
    let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let one_hot = one_hot_rows(&labels, 2, &device).unwrap();
    let mut velocity = model.zero_velocity();
    let zero_batch = UpDownConfig {
        batch_size: 0,
        ..updown(0.01)
    };
    assert!(matches!(
        model.up_down_epoch(&mut velocity, &images, &one_hot, &zero_batch, 0, |_, _| {}),
        Err(DbnError::Config(DbnConfigError::ZeroBatchSize))
    ));
    let zero_k = UpDownConfig {
        gibbs_schedule: vec![(0, 0)],
        ..updown(0.01)
    };
    assert!(matches!(
        model.up_down_epoch(&mut velocity, &images, &one_hot, &zero_k, 0, |_, _| {}),
        Err(DbnError::Config(DbnConfigError::InvalidGibbsSchedule))
    ));
    let narrow = images.clone().slice([0..40, 0..11]);
    assert!(matches!(
        model.up_down_epoch(
            &mut velocity,
            &narrow,
            &one_hot,
            &updown(0.01),
            0,
            |_, _| {}
        ),
        Err(DbnError::DataWidth {
            expected: 12,
            found: 11,
            ..
        })
    ));
    let fewer = one_hot.clone().slice(0..39);
    assert!(matches!(
        model.up_down_epoch(&mut velocity, &images, &fewer, &updown(0.01), 0, |_, _| {}),
        Err(DbnError::LabelCount { .. })
    ));
    // A sane rate trains.
    let bad_momentum = UpDownConfig {
        momentum: 1.0,
        ..updown(0.01)
    };
    assert!(matches!(
        model.up_down_epoch(&mut velocity, &images, &one_hot, &bad_momentum, 0, |_, _| {}),
        Err(DbnError::Config(DbnConfigError::UpDownMomentumOutOfRange(m))) if m == 1.0
    ));
    let mut wrong_velocity = toy_generative(&device);
    wrong_velocity.top = RbmConfig::new(8, 4).init(&device, 3);
    assert!(matches!(
        model.up_down_epoch(
            &mut wrong_velocity,
            &images,
            &one_hot,
            &updown(0.01),
            0,
            |_, _| {}
        ),
        Err(DbnError::VelocityMismatch(_))
    ));
    // A sane rate trains.
    model
        .up_down_epoch(
            &mut velocity,
            &images,
            &one_hot,
            &updown(0.01),
            0,
            |_, _| {},
        )
        .unwrap();
}

/// The class counts of a training set are checked against the batches
/// before anything trains: HOT's 10 of each digit in 100 need 10 images of
/// every digit; shuffled batches need nothing.
#[test]
fn class_counts_count_each_class_and_leave_out_labels_beyond_them() {
    assert_eq!(crate::class_counts(&[0, 2, 2, 5, 1, 2], 3), vec![1, 1, 3]);
    assert_eq!(crate::class_counts(&[], 2), vec![0, 0]);
}

#[test]
fn class_counts_are_checked_against_balanced_batches() {
    let balanced = UpDownConfig {
        batch_size: 100,
        batches: BatchComposition::ClassBalanced,
        ..updown(0.01)
    };
    balanced.check_class_counts(&[10; 10]).unwrap();
    let mut counts = [4_400; 10];
    counts[6] = 9;
    assert!(matches!(
        balanced.check_class_counts(&counts),
        Err(DbnError::UnbalanceableBatches {
            class: 6,
            found: 9,
            per_class: 10,
            classes: 10,
            ..
        })
    ));
    let nine_classes = balanced.check_class_counts(&[4_400; 9]).unwrap_err();
    assert!(
        nine_classes
            .to_string()
            .contains("multiple of the 9 classes"),
        "{nine_classes}"
    );
    let shuffled = UpDownConfig {
        batches: BatchComposition::Shuffled,
        ..balanced
    };
    shuffled.check_class_counts(&counts).unwrap();
}

#[test]
fn class_balanced_batches_hold_each_class_equally() {
    let device = device();
    let mut model = toy_generative(&device);
    let (images, _) = toy_data(&device);
    // 30 rows of class 0 and 10 of class 1: batches of 10 take 5 of each,
    // so an epoch has 2 batches (20 rows); the other 20 of class 0 wait.
    let labels: Vec<usize> = (0..40).map(|row| usize::from(row >= 30)).collect();
    let one_hot = one_hot_rows(&labels, 2, &device).unwrap();
    let balanced = UpDownConfig {
        batches: BatchComposition::ClassBalanced,
        ..updown(0.01)
    };
    let mut velocity = model.zero_velocity();
    let metrics = model
        .up_down_epoch(&mut velocity, &images, &one_hot, &balanced, 0, |_, _| {})
        .unwrap();
    assert_eq!(metrics.rows, 20);
    let shuffled = model
        .up_down_epoch(
            &mut velocity,
            &images,
            &one_hot,
            &updown(0.01),
            1,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(shuffled.rows, 40);
    // A batch size that is not a multiple of the classes cannot balance.
    let odd = UpDownConfig {
        batch_size: 9,
        ..balanced.clone()
    };
    assert!(matches!(
        model.up_down_epoch(&mut velocity, &images, &one_hot, &odd, 0, |_, _| {}),
        Err(DbnError::UnbalanceableBatches {
            batch_size: 9,
            classes: 2,
            ..
        })
    ));
    // Nor a class with fewer images than a batch's share.
    let big = UpDownConfig {
        batch_size: 30,
        ..balanced
    };
    assert!(matches!(
        model.up_down_epoch(&mut velocity, &images, &one_hot, &big, 0, |_, _| {}),
        Err(DbnError::UnbalanceableBatches {
            class: 1,
            found: 10,
            per_class: 15,
            ..
        })
    ));
}

/// One up-down step of the toy model (40 rows, rate 0.5, 2 Gibbs steps,
/// no momentum or decay) with `negative_labels` and `top_statistics`: the
/// change of the top RBM's visible (`hidden: false`) or hidden biases,
/// times rows / rate, so that sums of 0/1 terms are whole numbers.
fn scaled_top_bias_change(
    negative_labels: NegativeLabels,
    top_statistics: TopStatistics,
    hidden: bool,
) -> Vec<f32> {
    let device = device();
    let (images, labels) = toy_data(&device);
    let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let one_hot = one_hot_rows(&labels, 2, &device).unwrap();
    let (rows, rate) = (40.0, 0.5);
    let mut model = toy_generative(&device);
    let mut velocity = model.zero_velocity();
    let bias = |model: &GenerativeDbn| {
        host1(if hidden {
            model.top.hidden_bias.val()
        } else {
            model.top.visible_bias.val()
        })
    };
    let before = bias(&model);
    let step = UpDownStep {
        gibbs_steps: 2,
        learning_rate: rate,
        weight_decay: 0.0,
        momentum: 0.0,
        negative_labels,
        top_statistics,
    };
    model
        .up_down_step(&mut velocity, images, one_hot, &step, &mut Sampler::new(5))
        .unwrap();
    bias(&model)
        .iter()
        .zip(&before)
        .map(|(a, b)| (a - b) * rows / rate as f32)
        .collect()
}

/// The largest distance of `values` from a whole number.
fn off_integer(values: &[f32]) -> f32 {
    values
        .iter()
        .map(|x| (x - x.round()).abs())
        .fold(0.0f32, f32::max)
}

#[test]
fn mean_field_labels_move_the_label_biases_by_probabilities() {
    // The label biases (visible units 6 and 7) learn rate/rows *
    // sum(targets - negative labels): with one-hot samples that sum is a
    // whole number, with the softmax probabilities (HOT's appendix B) it
    // is not.
    let labels = |negative_labels| {
        scaled_top_bias_change(negative_labels, TopStatistics::Probabilities, false)[6..8].to_vec()
    };
    let sampled = labels(NegativeLabels::Sampled);
    assert!(off_integer(&sampled) < 1e-3, "{sampled:?}");
    let mean_field = labels(NegativeLabels::MeanField);
    assert!(off_integer(&mean_field) > 1e-2, "{mean_field:?}");
    // Either way the group's changes sum to zero: every row's targets and
    // negative labels each sum to one.
    for changes in [sampled, mean_field] {
        assert!((changes[0] + changes[1]).abs() < 1e-3, "{changes:?}");
    }
}

#[test]
fn sampled_top_statistics_move_the_top_hidden_biases_by_whole_counts() {
    // The top hidden biases learn rate/rows * sum(positive - negative
    // hidden values): with sampled states (appendix B's code) each term is
    // 0 or +-1 and the sum a whole number, with probabilities it is not.
    let hidden = |statistics| scaled_top_bias_change(NegativeLabels::MeanField, statistics, true);
    let sampled = hidden(TopStatistics::SampledStates);
    assert!(off_integer(&sampled) < 1e-3, "{sampled:?}");
    let probabilities = hidden(TopStatistics::Probabilities);
    assert!(off_integer(&probabilities) > 1e-2, "{probabilities:?}");
}

#[test]
fn momentum_carries_the_last_change_into_the_next_step() {
    // With momentum m the second step moves by m v1 + its own change; a
    // model that takes that second step from a zero velocity moves by its
    // change alone. The difference of the two is exactly m v1.
    let device = device();
    let (images, labels) = toy_data(&device);
    let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let one_hot = one_hot_rows(&labels, 2, &device).unwrap();
    let step = |momentum| UpDownStep {
        gibbs_steps: 1,
        learning_rate: 0.1,
        weight_decay: 0.0,
        momentum,
        negative_labels: NegativeLabels::MeanField,
        top_statistics: TopStatistics::Probabilities,
    };
    let mut model = toy_generative(&device);
    let mut velocity = model.zero_velocity();
    model
        .up_down_step(
            &mut velocity,
            images.clone(),
            one_hot.clone(),
            &step(0.9),
            &mut Sampler::new(1),
        )
        .unwrap();
    let first_velocity = host(velocity.top.weight.val());
    let (mut with, mut without) = (model.clone(), model.clone());
    let mut fresh = model.zero_velocity();
    with.up_down_step(
        &mut velocity,
        images.clone(),
        one_hot.clone(),
        &step(0.9),
        &mut Sampler::new(2),
    )
    .unwrap();
    without
        .up_down_step(
            &mut fresh,
            images,
            one_hot,
            &step(0.9),
            &mut Sampler::new(2),
        )
        .unwrap();
    let (a, b) = (host(with.top.weight.val()), host(without.top.weight.val()));
    for ((a, b), v) in a.iter().zip(&b).zip(&first_velocity) {
        assert!((a - b - 0.9 * v).abs() < 1e-6, "{a} - {b} != 0.9 * {v}");
    }
    assert!(first_velocity.iter().any(|v| v.abs() > 1e-4));
}

#[test]
fn label_free_energies_match_the_top_rbm_free_energy() {
    let device = device();
    let model = toy_generative(&device);
    let (images, _) = toy_data(&device);
    let features = model.features(images);
    let fast = host(model.label_free_energies(features.clone()));
    for label in 0..2 {
        let one_hot = one_hot_rows(&vec![label; 40], 2, &device).unwrap();
        let direct = host1(
            model
                .top
                .free_energy(generative::model::top_visible(features.clone(), one_hot)),
        );
        for (row, d) in direct.iter().enumerate() {
            let f = fast[row * 2 + label];
            assert!(
                (f - d).abs() <= 1e-5 * d.abs().max(1.0),
                "row {row} label {label}: {f} vs {d}"
            );
        }
    }
}

/// The toy data as a one-hot set for the up-down schedule, with its
/// class indices.
fn toy_one_hot_set(device: &Device) -> (generative::schedule::OneHotSet, Vec<usize>) {
    let (images, labels) = toy_data(device);
    let classes: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let set = generative::schedule::OneHotSet {
        images,
        labels: one_hot_rows(&classes, 2, device).unwrap(),
    };
    (set, classes)
}

#[test]
fn the_final_phase_stops_when_the_training_error_reaches_its_goal() {
    use generative::schedule::{BestEpoch, UpDownState, final_phase};
    let device = device();
    let (all, _) = toy_one_hot_set(&device);
    let run = |goal: Option<f64>| {
        let mut model = toy_generative(&device);
        let mut velocity = model.zero_velocity();
        let mut state = UpDownState::start(50.0);
        state.best = Some(BestEpoch {
            epoch: 1,
            valid_error_percent: 50.0,
            train_error_percent: goal,
        });
        let mut seen = Vec::new();
        final_phase::<()>(
            &mut model,
            &mut velocity,
            &mut state,
            &updown(0.01),
            &all,
            4,
            |e| {
                seen.push(e.state.final_train_error_percent.expect("measured"));
                Ok(())
            },
        )
        .unwrap();
        (state, seen)
    };
    // Any error is at most 100%: reached after the first epoch.
    let (state, seen) = run(Some(100.0));
    assert_eq!((state.final_done, seen.len()), (1, 1));
    assert!(state.final_reached());
    // No error is below 0%: every epoch up to the bound runs.
    let (state, seen) = run(Some(-1.0));
    assert_eq!((state.final_done, seen.len()), (4, 4));
    assert!(!state.final_reached());
    // Without a measured goal, the bound.
    let (state, _) = run(None);
    assert_eq!(state.final_done, 4);
}

/// The schedule leaves the chosen epoch's training error unmeasured;
/// `measure_best_train_error` measures it with the model it is given,
/// once: a second call with another model keeps the first value.
#[test]
fn the_chosen_epochs_training_error_is_measured_once_with_its_model() {
    use generative::schedule::{OneHotSet, UpDownState, up_down_with_validation};
    let device = device();
    let (train, classes) = toy_one_hot_set(&device);
    let images = train.images.clone();
    let valid_labels = Tensor::<1, Int>::from_data(
        TensorData::new(classes.iter().map(|&c| c as i64).collect(), [classes.len()]),
        &device,
    );
    let mut model = toy_generative(&device);
    let mut velocity = model.zero_velocity();
    let mut state = UpDownState::start(100.0);
    let config = UpDownConfig {
        epochs: 2,
        ..updown(0.01)
    };
    let mut bests = 0;
    up_down_with_validation::<()>(
        &mut model,
        &mut velocity,
        &mut state,
        &config,
        &train,
        (&images, &valid_labels),
        |e| {
            bests += usize::from(e.is_best);
            Ok(())
        },
    )
    .unwrap();
    let best = state.best.expect("a best epoch");
    assert!(bests >= 1 && best.epoch >= 1, "100% is beaten or tied");
    assert_eq!(
        best.train_error_percent, None,
        "not measured by the schedule"
    );
    state.measure_best_train_error(&model, &train);
    let measured = state.best.unwrap().train_error_percent;
    assert_eq!(measured, Some(train.error_percent(&model)));
    // Three rows (classes 0, 1, 0): an error of 0, 1/3, 2/3 or 1, never
    // the balanced set's.
    let three = OneHotSet {
        images: train.images.clone().slice([0..3, 0..12]),
        labels: train.labels.clone().slice([0..3, 0..2]),
    };
    let other = toy_generative(&device);
    assert_ne!(
        three.error_percent(&other),
        measured.unwrap(),
        "a different answer is possible"
    );
    state.measure_best_train_error(&other, &three);
    assert_eq!(state.best.unwrap().train_error_percent, measured, "kept");
}

#[test]
fn up_down_divergence_is_detected() {
    // At a learning rate of 10^7 one update moves weights by ~10^5, far
    // above rbm::MAX_ABS_WEIGHT.
    let device = device();
    let mut model = toy_generative(&device);
    let (images, labels) = toy_data(&device);
    let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let one_hot = one_hot_rows(&labels, 2, &device).unwrap();
    let mut velocity = model.zero_velocity();
    let error = model
        .up_down_epoch(&mut velocity, &images, &one_hot, &updown(1e7), 0, |_, _| {})
        .unwrap_err();
    assert!(
        matches!(error, DbnError::Diverged { epoch: 1, .. }),
        "{error}"
    );
}

#[test]
fn sampling_checks_its_labels_and_steps() {
    let model = toy_generative(&device());
    let mut sampler = Sampler::new(1);
    let sample = |labels: &[Option<usize>], steps, sampler: &mut Sampler| {
        model.sample(labels, SamplePlan::new(steps), sampler, 0, |_, _| {})
    };
    assert!(matches!(
        sample(&[Some(0), Some(2)], 5, &mut sampler),
        Err(DbnError::ClassOutOfRange {
            row: 1,
            label: 2,
            ..
        })
    ));
    assert!(sample(&[], 5, &mut sampler).is_err());
    assert!(sample(&[Some(1)], 0, &mut sampler).is_err());
    assert_eq!(
        sample(&[Some(1), None], 3, &mut sampler).unwrap().dims(),
        [2, 12]
    );
}

#[test]
fn the_sampled_down_pass_samples_each_hidden_layer_and_ends_in_pixel_probabilities() {
    let device = device();
    // Two lower layers (12-6-4) under a top RBM over [4 features, 2 labels],
    // up and down copies made different so that a pass on the wrong copy shows.
    let stack = RbmStack::new(vec![
        RbmConfig::new(12, 6).init(&device, 1),
        RbmConfig::new(6, 4).init(&device, 2),
    ]);
    let top = RbmConfig::new(4 + 2, 5)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 })
        .init(&device, 3);
    let mut model = GenerativeDbn::from_greedy(&stack, top).unwrap();
    for layer in &mut model.down {
        layer.weight = layer.weight.clone().map(|w| w.mul_scalar(40.0));
    }
    let features = Tensor::<2>::from_data(
        TensorData::new(
            vec![
                1.0f32, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0,
            ],
            [3, 4],
        ),
        &device,
    );
    let states = model.sampled_down_pass(features.clone(), &mut Sampler::new(7));
    let dims: Vec<[usize; 2]> = states.iter().map(Tensor::dims).collect();
    assert_eq!(dims, [[3, 12], [3, 6], [3, 4]]);
    assert_eq!(host(states[2].clone()), host(features));
    // The middle layer is a binary sample (the weights are large, so its
    // probabilities are far from 0 and 1 only by chance: a mean-field pass
    // would show fractions) ...
    assert!(
        host(states[1].clone())
            .iter()
            .all(|&s| s == 0.0 || s == 1.0)
    );
    // ... and the pixels are the down copy's probabilities given it, bit for bit.
    let pixels = model.down[0].visible_given_hidden(states[1].clone());
    assert_eq!(host(states[0].clone()), host(pixels));
    assert!(
        host(states[0].clone())
            .iter()
            .any(|&p| p > 0.0 && p < 1.0 && p != 0.5)
    );
    // The same random numbers give the same states; `sample` with the
    // sampled pass returns pixel probabilities of the right shape.
    let again = model.sampled_down_pass(states[2].clone(), &mut Sampler::new(7));
    assert_eq!(host(again[1].clone()), host(states[1].clone()));
    let plan = SamplePlan::new(3).with_down_pass(DownPass::Sampled);
    let images = model
        .sample(
            &[Some(0), Some(1)],
            plan,
            &mut Sampler::new(1),
            0,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(images.dims(), [2, 12]);
    assert!(host(images).iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn the_top_rbms_persistent_cd_continues_from_the_trained_model() {
    let device = device();
    let mut top = toy_generative(&device).top;
    // Trained biases of 0.5, where the data (a third of the units on) would give -0.69.
    top.visible_bias = top
        .visible_bias
        .clone()
        .map(|b| b.mul_scalar(0.0).add_scalar(0.5));
    let data = Tensor::<2>::from_data(
        TensorData::new(
            (0..80)
                .map(|i| ((i * 7) % 3 == 0) as u8 as f32)
                .collect::<Vec<_>>(),
            [10, 8],
        ),
        &device,
    );
    let training = crate::generative::greedy::top_pcd(1, 1e-6, None, 1).with_batch_size(5);
    assert!(training.persistent && training.k == 1);
    let mut trainer = rbm::CdTrainer::new(top.clone(), training).unwrap();
    trainer.train_epoch(&data, None, |_| {}).unwrap();
    assert!(trainer.state().chains.is_some(), "persistent chains kept");
    // At a rate of 1e-6 two updates move a bias by less than 1e-5: the
    // phase starts from the model, not from biases set from the data.
    for (after, before) in host1(trainer.rbm().visible_bias.val())
        .iter()
        .zip(host1(top.visible_bias.val()))
    {
        assert!((after - before).abs() < 1e-5, "{before} -> {after}");
    }
}

#[test]
fn the_generative_recipe_ends_with_the_phase_of_persistent_cd_as_run_epoch_by_epoch() {
    let device = device();
    let labels: Vec<u8> = (0..40).map(|i| (i % 2) as u8).collect();
    let pixels = labels
        .iter()
        .flat_map(|&l| [l, l, l, 1 - l, 1 - l, 1 - l].map(f32::from))
        .collect();
    let images = LabelledImages::new(pixels, labels.clone(), 6, 2, "toy images").unwrap();
    let cd = TrainConfig::new().with_epochs(3).with_batch_size(10);
    let greedy_recipe = GenerativeRecipe::new(&[6, 4], 8, 2)
        .with_lower_training(cd.clone())
        .with_top_training(cd);
    let pcd = crate::generative::greedy::top_pcd(3, 0.05, Some(0.01), 7).with_batch_size(10);
    let greedy = greedy_recipe.fit(&images, &device).unwrap();
    let with_pcd = greedy_recipe
        .clone()
        .with_top_pcd(pcd.clone())
        .fit(&images, &device)
        .unwrap();

    // The same phase by hand, from the same greedy model.
    let (x, _) = images.tensors(&device);
    let classes: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let one_hot = one_hot_rows(&classes, 2, &device).unwrap();
    let mut trainer = rbm::CdTrainer::new(greedy.top.clone(), pcd.clone()).unwrap();
    for _ in 0..3 {
        crate::generative::greedy::top_pcd_epoch(&greedy, &mut trainer, &x, &one_hot).unwrap();
    }
    assert_eq!(
        host(trainer.rbm().weight.val()),
        host(with_pcd.top.weight.val())
    );
    assert_ne!(
        host(greedy.top.weight.val()),
        host(with_pcd.top.weight.val()),
        "the phase trains the top RBM"
    );
    assert_eq!(
        host(greedy.up[0].weight.val()),
        host(with_pcd.up[0].weight.val()),
        "and nothing below it"
    );
    // Its configuration is checked before any training.
    let error = greedy_recipe
        .with_top_pcd(pcd.with_epochs(0))
        .fit(&images, &device)
        .unwrap_err();
    assert!(error.to_string().contains("epochs"), "{error}");
}

/// Noisy two-class images for the validated recipe: each row is its
/// class's half of 12 pixels on, every pixel flipped with probability 0.3,
/// so that small models disagree on a few rows and the validation error
/// moves from epoch to epoch.
fn noisy_halves(rows: usize, seed: u64, what: &'static str) -> LabelledImages {
    let mut sampler = Sampler::new(seed);
    let flips = sampler.uniform_vec(rows * 12);
    let labels: Vec<u8> = (0..rows).map(|i| (i % 2) as u8).collect();
    let pixels = labels
        .iter()
        .enumerate()
        .flat_map(|(row, &l)| {
            let flips = &flips;
            (0..12).map(move |p| {
                let on = (p < 6) == (l == 0);
                f32::from(u8::from(on != (flips[row * 12 + p] < 0.35)))
            })
        })
        .collect();
    LabelledImages::new(pixels, labels, 12, 2, what).unwrap()
}

fn validated_recipe(updown_epochs: usize) -> GenerativeRecipe {
    let cd = TrainConfig::new().with_epochs(20).with_batch_size(10);
    let rates = crate::generative::greedy::UpDownRates {
        learning_rate: 0.1,
        momentum: 0.5,
        weight_decay: 0.0,
    };
    let mut updown = crate::generative::greedy::hot_updown(updown_epochs, 2, rates, 3);
    // One Gibbs step throughout, so that a shorter run is a prefix of a
    // longer one.
    updown.gibbs_schedule = vec![(0, 1)];
    GenerativeRecipe::new(&[12, 6], 10, 2)
        .with_lower_training(cd.clone())
        .with_top_training(cd)
        .with_updown(updown)
}

/// `fit_with_validation` keeps the last epoch of the lowest validation
/// error, and that epoch's model is the one a run of that many epochs ends
/// with, bit for bit.
#[test]
fn the_validated_generative_recipe_keeps_the_last_best_validation_epoch() {
    let device = device();
    let train = noisy_halves(60, 1, "training images");
    let valid = noisy_halves(100, 2, "validation images");
    let epochs = 12;
    let trained = validated_recipe(epochs)
        .fit_with_validation(&train, &valid, &device)
        .unwrap();
    let errors = &trained.valid_errors;
    assert_eq!(
        errors.len(),
        epochs + 1,
        "the greedy model, then each epoch"
    );
    let lowest = errors.iter().copied().fold(f64::INFINITY, f64::min);
    let last_lowest = errors.iter().rposition(|&e| e == lowest).unwrap();
    assert_eq!(trained.best_epoch, last_lowest, "{errors:?}");
    let distinct: std::collections::BTreeSet<u64> = errors.iter().map(|e| e.to_bits()).collect();
    assert!(distinct.len() > 1, "the choice is not trivial: {errors:?}");

    let (images, labels) = valid.tensors(&device);
    let kept = 100.0 * trained.model.error_rate(&images, &labels, 1000);
    assert_eq!(kept, errors[trained.best_epoch]);
    let mut prefix = validated_recipe(trained.best_epoch.max(1));
    if trained.best_epoch == 0 {
        prefix.updown = None;
    }
    let again = prefix.fit(&train, &device).unwrap();
    assert_eq!(
        host(again.top.weight.val()),
        host(trained.model.top.weight.val())
    );
    assert_eq!(
        host(again.down[0].weight.val()),
        host(trained.model.down[0].weight.val())
    );
    let (train_images, train_labels) = train.tensors(&device);
    let goal = 100.0 * trained.model.error_rate(&train_images, &train_labels, 1000);
    assert_eq!(trained.best_train_error, goal, "the final phase's goal");
    assert!(trained.final_train_errors.is_empty() && !trained.final_goal_met);
}

/// HOT's final phase runs on the training and validation images together
/// until their error is at most the chosen epoch's training error, and
/// stops at the first such epoch; without reaching it, at its bound.
#[test]
fn the_validated_generative_recipe_runs_hots_final_phase_to_its_rule() {
    let device = device();
    let train = noisy_halves(60, 1, "training images");
    let valid = noisy_halves(100, 2, "validation images");
    let all = LabelledImages::new(
        [train.pixels(), valid.pixels()].concat(),
        [train.labels(), valid.labels()].concat(),
        12,
        2,
        "all images",
    )
    .unwrap();
    let (all_images, all_labels) = all.tensors(&device);
    let mut met = 0;
    for bound in [1, 6] {
        let trained = validated_recipe(6)
            .with_final_phase(bound)
            .fit_with_validation(&train, &valid, &device)
            .unwrap();
        let goal = trained.best_train_error;
        let errors = &trained.final_train_errors;
        assert!(!errors.is_empty() && errors.len() <= bound, "{errors:?}");
        let (last, before) = errors.split_last().unwrap();
        assert!(before.iter().all(|&e| e > goal), "{errors:?} goal {goal}");
        assert_eq!(
            trained.final_goal_met,
            *last <= goal,
            "{errors:?} goal {goal}"
        );
        if !trained.final_goal_met {
            assert_eq!(
                errors.len(),
                bound,
                "only the bound stops it short of its goal"
            );
        }
        met += usize::from(trained.final_goal_met);
        let error = 100.0 * trained.model.error_rate(&all_images, &all_labels, 1000);
        assert_eq!(error, *last, "the model returned is the last final epoch's");
    }
    assert!(met > 0, "the goal is reachable on this data");
}

#[test]
fn choosing_on_validation_needs_up_down_epochs() {
    let train = noisy_halves(20, 1, "training images");
    let mut recipe = validated_recipe(2);
    recipe.updown = None;
    let error = recipe
        .fit_with_validation(&train, &train, &device())
        .unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<DbnConfigError>(),
            Some(DbnConfigError::ValidationWithoutUpDown)
        ),
        "{error}"
    );
}

#[test]
fn the_final_phase_needs_a_choice_on_validation() {
    let train = noisy_halves(20, 1, "training images");
    let error = validated_recipe(2)
        .with_final_phase(3)
        .fit(&train, &device())
        .unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<DbnConfigError>(),
            Some(DbnConfigError::FinalPhaseWithoutValidation)
        ),
        "{error}"
    );
}

/// The validation images are checked before any training: their width,
/// that there are some, and that their labels are among the classes.
#[test]
fn the_validated_generative_recipe_checks_its_validation_images_first() {
    let device = device();
    let train = noisy_halves(20, 1, "training images");
    let mut endless = validated_recipe(2);
    endless.lower_training = endless.lower_training.clone().with_epochs(100_000);
    let narrow = LabelledImages::new(vec![0.0; 10], vec![0, 1], 5, 2, "narrow").unwrap();
    let empty = LabelledImages::new(Vec::new(), Vec::new(), 12, 2, "empty").unwrap();
    let three = LabelledImages::new(vec![0.0; 24], vec![0, 2], 12, 3, "three classes").unwrap();
    for (valid, expected) in [
        (&narrow, "validation images: expected 12 columns, found 5"),
        (&empty, "validation images: the data set is empty"),
        (&three, "validation images: class 2 at row 1"),
    ] {
        let error = endless
            .fit_with_validation(&train, valid, &device)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
}

/// Up-down's class-balanced batches are checked against the labels before
/// the greedy layers train (here, a hundred thousand epochs of them that a
/// late check would wait for): HOT's 10 of each class need 10 of class 1,
/// which has 5.
#[test]
fn the_generative_recipe_checks_its_balanced_batches_before_training() {
    let device = device();
    let labels: Vec<u8> = (0..40).map(|i| u8::from(i >= 35)).collect();
    let pixels = labels
        .iter()
        .flat_map(|&l| [l, l, l, 1 - l, 1 - l, 1 - l].map(f32::from))
        .collect();
    let images = LabelledImages::new(pixels, labels, 6, 2, "toy images").unwrap();
    let endless = TrainConfig::new().with_epochs(100_000).with_batch_size(10);
    let rates = crate::generative::greedy::UpDownRates {
        learning_rate: 0.03,
        momentum: 0.9,
        weight_decay: 2e-4,
    };
    let error = GenerativeRecipe::new(&[6, 4], 8, 2)
        .with_lower_training(endless.clone())
        .with_top_training(endless)
        .with_updown(crate::generative::greedy::hot_updown(1, 2, rates, 1))
        .fit(&images, &device)
        .unwrap_err()
        .to_string();
    assert!(error.contains("class-balanced batches of 20"), "{error}");
    assert!(error.contains("class 1 has 5"), "{error}");
}

#[test]
fn loading_a_generative_dbn_checks_that_its_layers_chain() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.safetensors");
    let mut model = toy_generative(&device);
    // Up and down copies made different (as up-down leaves them), so that a
    // swap or a shared tensor on save or load would show.
    model.down[0].weight = model.down[0].weight.clone().map(|w| w.add_scalar(1.0));
    model.up[0].hidden_bias = model.up[0].hidden_bias.clone().map(|b| b.add_scalar(-0.5));
    save_generative(&model, &path).unwrap();
    let loaded = load_generative(&path, &device).unwrap();
    for (what, a, b) in [
        (
            "up weight",
            host(model.up[0].weight.val()),
            host(loaded.up[0].weight.val()),
        ),
        (
            "down weight",
            host(model.down[0].weight.val()),
            host(loaded.down[0].weight.val()),
        ),
        (
            "top weight",
            host(model.top.weight.val()),
            host(loaded.top.weight.val()),
        ),
        (
            "up hidden bias",
            host1(model.up[0].hidden_bias.val()),
            host1(loaded.up[0].hidden_bias.val()),
        ),
        (
            "down visible bias",
            host1(model.down[0].visible_bias.val()),
            host1(loaded.down[0].visible_bias.val()),
        ),
        (
            "top visible bias",
            host1(model.top.visible_bias.val()),
            host1(loaded.top.visible_bias.val()),
        ),
        (
            "top hidden bias",
            host1(model.top.hidden_bias.val()),
            host1(loaded.top.hidden_bias.val()),
        ),
    ] {
        // Bit for bit (NaN would fail: it is not equal to itself).
        assert!(
            a.iter().zip(&b).all(|(x, y)| x == y) && a.len() == b.len(),
            "{what} changed on the round trip"
        );
    }
    assert_ne!(
        host(loaded.up[0].weight.val()),
        host(loaded.down[0].weight.val())
    );
    // A second lower layer whose visible units do not match the first's hidden.
    let extra = RbmConfig::new(5, 6).init(&device, 3);
    model.up.push(extra.clone());
    model.down.push(extra);
    save_generative(&model, &path).unwrap();
    let error = load_generative(&path, &device).unwrap_err().to_string();
    assert!(
        error.contains("g.safetensors") && error.contains("layer 0 has 6 hidden units"),
        "{error}"
    );
}

#[test]
fn loading_a_stack_checks_that_its_layers_chain() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.safetensors");
    let stack = RbmStack::new(vec![
        RbmConfig::new(12, 6).init(&device, 1),
        RbmConfig::new(5, 3).init(&device, 2),
    ]);
    save_stack(&stack, &path).unwrap();
    let error = load_stack(&path, &device).unwrap_err().to_string();
    assert!(
        error.contains("s.safetensors") && error.contains("layer 1 has 5 visible units"),
        "{error}"
    );
}

mod infinite_sbn_statements {
    use super::*;
    use crate::theory::infinite_sbn::{TiedNet, total_variation};

    /// An 8 x 6 RBM with N(0, 1) weights and N(0, 0.5^2) biases.
    fn random_net(seed: u64) -> TiedNet {
        let mut sampler = Sampler::new(seed);
        let as_f64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
        let weight = as_f64(sampler.normal_vec(48));
        let visible = as_f64(sampler.normal_vec(8))
            .iter()
            .map(|b| 0.5 * b)
            .collect::<Vec<_>>();
        let hidden = as_f64(sampler.normal_vec(6))
            .iter()
            .map(|b| 0.5 * b)
            .collect::<Vec<_>>();
        TiedNet::from_parameters(8, 6, &weight, &visible, &hidden)
    }

    fn point_mass(states: usize, at: usize) -> Vec<f64> {
        let mut p = vec![0.0; states];
        p[at] = 1.0;
        p
    }

    #[test]
    fn the_bottom_of_the_tied_net_approaches_the_rbm_marginal() {
        let net = random_net(1);
        let target = net.rbm_visible();
        for top in [
            vec![1.0 / 256.0; 256],
            point_mass(256, 0),
            point_mass(256, 255),
        ] {
            // Even numbers of layers: the bottom is the top times a Markov
            // kernel on v that leaves p(v) invariant, so total variation
            // cannot increase (a property of any such kernel).
            let distances: Vec<f64> = (0..=200)
                .step_by(2)
                .map(|layers| total_variation(&net.generate(&top, layers), &target))
                .collect();
            for pair in distances.windows(2) {
                assert!(pair[1] <= pair[0] + 1e-12, "{pair:?}");
            }
            assert!(
                distances[1] > 1e-3,
                "not converged at once: {}",
                distances[1]
            );
            // Geometric convergence; 1e-9 leaves room for f64 rounding of sums of 256 terms.
            assert!(
                distances[100] < 1e-9,
                "after 200 layers: {}",
                distances[100]
            );
        }
    }

    #[test]
    fn the_infinite_nets_posterior_is_the_rbms_factorial_posterior() {
        let net = random_net(2);
        // With the prior over h0 that infinitely many layers above generate
        // (the RBM's p(h)), the directed posterior equals p(h | v) to rounding.
        let prior = net.rbm_hidden();
        for v in 0..256 {
            let directed = net.directed_posterior(&prior, v);
            let factorial = net.posterior(v);
            let worst = directed
                .iter()
                .zip(factorial)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-12, "v = {v}: {worst}");
        }
        // With finitely many layers above, it is not (yet) factorial.
        let shallow = net.generate_hidden(&point_mass(256, 0), 0);
        let directed = net.directed_posterior(&shallow, 3);
        let worst = directed
            .iter()
            .zip(net.posterior(3))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst > 1e-3, "one layer above already agrees: {worst}");
        let deep = net.generate_hidden(&point_mass(256, 0), 100);
        let directed = net.directed_posterior(&deep, 3);
        let worst = directed
            .iter()
            .zip(net.posterior(3))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-9, "201 layers above: {worst}");
    }

    #[test]
    fn the_sbn_rule_summed_over_tied_layers_is_the_boltzmann_gradient() {
        let net = random_net(3);
        // Data: four patterns with unequal weights.
        let mut data = vec![0.0; 256];
        for (state, p) in [
            (0b1111_0000, 0.4),
            (0b0000_1111, 0.3),
            (0b1010_1010, 0.2),
            (0b0101_0101, 0.1),
        ] {
            data[state] = p;
        }
        let exact = net.boltzmann_gradient(&data);
        let error = |layers| {
            net.sbn_gradient(&data, layers)
                .iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        };
        assert!(
            error(1) > 1e-3,
            "one layer is not the whole gradient: {}",
            error(1)
        );
        assert!(error(400) < 1e-9, "400 layers: {}", error(400));
    }

    #[test]
    fn the_tied_net_of_a_saved_rbm_matches_its_parameters() {
        let device = device();
        let rbm = RbmConfig::new(4, 3).with_init_std(1.0).init(&device, 5);
        let net = TiedNet::from_rbm(&rbm).unwrap();
        // p(v) from the tied net equals the enumeration in the rbm crate.
        let log_z = rbm::exact_log_partition(&rbm).unwrap();
        let all: Vec<f32> = (0..16)
            .flat_map(|v| (0..4).map(move |i| ((v >> i) & 1) as f32))
            .collect();
        let free = host(
            rbm.free_energy(rbm::tensor_from_rows(&all, 4, &device))
                .unsqueeze_dim(1),
        );
        for (v, p) in net.rbm_visible().iter().enumerate() {
            let expected = (-(free[v] as f64) - log_z).exp();
            assert!((p - expected).abs() < 1e-5, "v = {v}: {p} vs {expected}");
        }
        let too_big = RbmConfig::new(13, 2).init(&device, 1);
        assert!(TiedNet::from_rbm(&too_big).is_err());
    }
}

/// Pre-activations from the extremes of f32's exp to 0, both signs.
const EXTREME_INPUTS: [f32; 13] = [
    -1e4, -200.0, -100.0, -88.8, -88.0, -50.0, 0.0, 50.0, 88.0, 88.8, 100.0, 200.0, 1e4,
];

#[test]
fn every_unit_activation_and_its_gradient_are_finite_at_extreme_inputs() {
    let device = Device::flex().autodiff();
    for units in [
        UnitKind::Bernoulli,
        UnitKind::Gaussian,
        UnitKind::SteppedSigmoid { copies: 10 },
        UnitKind::NoisyRectified,
        UnitKind::BinaryWithSoftmax { group: 3 },
    ] {
        let x = Tensor::<2>::from_data(TensorData::new(EXTREME_INPUTS.to_vec(), [1, 13]), &device)
            .require_grad();
        let y = units.mean(x.clone());
        let forward = host(y.clone());
        assert!(
            forward.iter().all(|v| v.is_finite()),
            "{}: {forward:?}",
            units.name()
        );
        let grads = y.sum().backward();
        let gradient = host(x.grad(&grads).expect("x is tracked"));
        assert!(
            gradient.iter().all(|v| v.is_finite()),
            "{}: gradient {gradient:?}",
            units.name()
        );
    }
}

#[test]
fn the_logistic_gradient_is_s_times_one_minus_s_from_minus_200_to_200() {
    // The backward of `1 / (1 + exp(-x))` written with four ops is
    // 0 x inf = NaN below about -88; the classifier must use s (1 - s).
    let device = Device::flex().autodiff();
    let inputs: Vec<f32> = (-200..=200).map(|i| i as f32).collect();
    let x = Tensor::<2>::from_data(TensorData::new(inputs.clone(), [1, inputs.len()]), &device)
        .require_grad();
    let s = UnitKind::Bernoulli.mean(x.clone());
    let grads = s.clone().sum().backward();
    let gradient = host(x.grad(&grads).expect("x is tracked"));
    for ((x, g), s) in inputs.iter().zip(&gradient).zip(host(s)) {
        let expected = s * (1.0 - s);
        // Both are f32 products of the same s: within a few ulps of 0.25 at most.
        assert!(
            (g - expected).abs() <= 1e-7,
            "x = {x}: gradient {g}, s(1 - s) = {expected}"
        );
    }
}

#[test]
fn a_classifier_with_saturated_pretrained_units_has_a_finite_gradient() {
    // One hidden unit driven to -200 and one to +200: the loss's gradient
    // must stay finite (it was NaN with the four-op logistic).
    let device = Device::flex().autodiff();
    let mut classifier = ClassifierConfig::new(vec![2, 2], 2).init(&device, 1);
    classifier.hidden[0].weight = classifier.hidden[0].weight.clone().map(|w| {
        Tensor::from_data(
            TensorData::new(vec![-200.0f32, 0.0, 0.0, 200.0], [2, 2]),
            &w.device(),
        )
        .require_grad()
    });
    let images = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 1.0, 1.0, 0.0], [2, 2]),
        &device,
    );
    let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &device);
    let output =
        classifier.forward_classification(finetune::batch::ClassificationBatch { images, targets });
    let grads = output.loss.backward();
    let gradient = host(classifier.hidden[0].weight.grad(&grads).expect("tracked"));
    assert!(gradient.iter().all(|g| g.is_finite()), "{gradient:?}");
}

/// A layer's parameters on the host in f64: `w` is `[nv, nh]` row-major.
#[derive(Clone)]
struct HostLayer {
    w: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    nv: usize,
    nh: usize,
}

impl HostLayer {
    fn of(rbm: &rbm::Rbm) -> Self {
        let f = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
        Self {
            w: f(host(rbm.weight.val())),
            b: f(host1(rbm.visible_bias.val())),
            c: f(host1(rbm.hidden_bias.val())),
            nv: rbm.n_visible(),
            nh: rbm.n_hidden(),
        }
    }

    fn zeros_like(&self) -> Self {
        Self {
            w: vec![0.0; self.w.len()],
            b: vec![0.0; self.b.len()],
            c: vec![0.0; self.c.len()],
            ..self.clone()
        }
    }

    /// `v W + c` for `rows` rows.
    fn up_input(&self, v: &[f64], rows: usize) -> Vec<f64> {
        let mut out = vec![0.0; rows * self.nh];
        for r in 0..rows {
            for j in 0..self.nh {
                out[r * self.nh + j] = self.c[j]
                    + (0..self.nv)
                        .map(|i| v[r * self.nv + i] * self.w[i * self.nh + j])
                        .sum::<f64>();
            }
        }
        out
    }

    /// `h W^T + b` for `rows` rows.
    fn down_input(&self, h: &[f64], rows: usize) -> Vec<f64> {
        let mut out = vec![0.0; rows * self.nv];
        for r in 0..rows {
            for i in 0..self.nv {
                out[r * self.nv + i] = self.b[i]
                    + (0..self.nh)
                        .map(|j| h[r * self.nh + j] * self.w[i * self.nh + j])
                        .sum::<f64>();
            }
        }
        out
    }
}

fn sigmoid64(x: &[f64]) -> Vec<f64> {
    x.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect()
}

fn bernoulli64(p: &[f64], uniforms: &mut Sampler) -> Vec<f64> {
    let u = uniforms.uniform_vec(p.len());
    p.iter()
        .zip(u)
        .map(|(p, u)| if (u as f64) < *p { 1.0 } else { 0.0 })
        .collect()
}

/// `a^T b` of `[rows, n]` and `[rows, m]`: `[n, m]`.
fn outer_sum(a: &[f64], n: usize, b: &[f64], m: usize, rows: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * m];
    for r in 0..rows {
        for i in 0..n {
            for j in 0..m {
                out[i * m + j] += a[r * n + i] * b[r * m + j];
            }
        }
    }
    out
}

fn column_sums(a: &[f64], n: usize, rows: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (0..rows).map(|r| a[r * n + i]).sum())
        .collect()
}

/// `p += v = momentum v + change`.
fn move_by64(p: &mut [f64], v: &mut [f64], change: &[f64], momentum: f64) {
    for ((p, v), d) in p.iter_mut().zip(v.iter_mut()).zip(change) {
        *v = momentum * *v + d;
        *p += *v;
    }
}

/// The generative DBN's parameters and velocities on the host.
struct HostDbn {
    up: Vec<HostLayer>,
    down: Vec<HostLayer>,
    top: HostLayer,
    velocity: (Vec<HostLayer>, Vec<HostLayer>, HostLayer),
    labels: usize,
}

impl HostDbn {
    fn of(model: &GenerativeDbn) -> Self {
        let up: Vec<HostLayer> = model.up.iter().map(HostLayer::of).collect();
        let down: Vec<HostLayer> = model.down.iter().map(HostLayer::of).collect();
        let top = HostLayer::of(&model.top);
        let velocity = (
            up.iter().map(HostLayer::zeros_like).collect(),
            down.iter().map(HostLayer::zeros_like).collect(),
            top.zeros_like(),
        );
        Self {
            up,
            down,
            top,
            velocity,
            labels: model.n_labels(),
        }
    }

    /// One up-down step as HOT's appendix B with mean-field labels, the
    /// uniforms drawn in the library's order.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        images: &[f64],
        targets: &[f64],
        rows: usize,
        gibbs: usize,
        lr: f64,
        weight_decay: f64,
        momentum: f64,
        uniforms: &mut Sampler,
    ) {
        let layers = self.up.len();
        let rate = lr / rows as f64;
        let decay = lr * weight_decay;
        // Wake: sampled states bottom-up through the recognition copies.
        let mut wake = vec![images.to_vec()];
        for layer in &self.up {
            let p = sigmoid64(&layer.up_input(wake.last().unwrap(), rows));
            wake.push(bernoulli64(&p, uniforms));
        }
        let nf = self.up[layers - 1].nh;
        let nl = self.labels;
        let top = &self.top;
        let join = |features: &[f64], labels: &[f64]| -> Vec<f64> {
            (0..rows)
                .flat_map(|r| {
                    features[r * nf..(r + 1) * nf]
                        .iter()
                        .chain(&labels[r * nl..(r + 1) * nl])
                        .copied()
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let positive = join(wake.last().unwrap(), targets);
        let positive_hidden = sigmoid64(&top.up_input(&positive, rows));
        let mut hidden = bernoulli64(&positive_hidden, uniforms);
        let (mut negative, mut negative_hidden) = (Vec::new(), Vec::new());
        for step in 1..=gibbs {
            let input = top.down_input(&hidden, rows); // [rows, nf + nl]
            let mut feature_p = Vec::new();
            let mut label_p = Vec::new();
            for r in 0..rows {
                let row = &input[r * (nf + nl)..(r + 1) * (nf + nl)];
                feature_p.extend(sigmoid64(&row[..nf]));
                let max = row[nf..].iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = row[nf..].iter().map(|x| (x - max).exp()).collect();
                let total: f64 = e.iter().sum();
                label_p.extend(e.iter().map(|x| x / total));
            }
            let features = bernoulli64(&feature_p, uniforms);
            negative = join(&features, &label_p);
            negative_hidden = sigmoid64(&top.up_input(&negative, rows));
            if step < gibbs {
                hidden = bernoulli64(&negative_hidden, uniforms);
            }
        }
        let nv_top = nf + nl;
        let top_dw: Vec<f64> = outer_sum(&positive, nv_top, &positive_hidden, top.nh, rows)
            .iter()
            .zip(outer_sum(&negative, nv_top, &negative_hidden, top.nh, rows))
            .map(|(p, n)| rate * (p - n))
            .collect();
        let top_db: Vec<f64> = column_sums(&positive, nv_top, rows)
            .iter()
            .zip(column_sums(&negative, nv_top, rows))
            .map(|(p, n)| rate * (p - n))
            .collect();
        let top_dc: Vec<f64> = column_sums(&positive_hidden, top.nh, rows)
            .iter()
            .zip(column_sums(&negative_hidden, top.nh, rows))
            .map(|(p, n)| rate * (p - n))
            .collect();
        // Sleep: from the negative phase's features down the generative
        // copies, sampled except the pixels (probabilities).
        let mut sleep = vec![
            (0..rows)
                .flat_map(|r| negative[r * nv_top..r * nv_top + nf].to_vec())
                .collect::<Vec<f64>>(),
        ];
        for (index, layer) in self.down.iter().enumerate().rev() {
            let p = sigmoid64(&layer.down_input(sleep.last().unwrap(), rows));
            sleep.push(if index == 0 {
                p
            } else {
                bernoulli64(&p, uniforms)
            });
        }
        sleep.reverse();
        // Generative copies learn to predict each wake layer from the one above.
        for i in 0..layers {
            let layer = &self.down[i];
            let predicted = sigmoid64(&layer.down_input(&wake[i + 1], rows));
            let error: Vec<f64> = wake[i].iter().zip(&predicted).map(|(a, b)| a - b).collect();
            let dw: Vec<f64> = outer_sum(&error, layer.nv, &wake[i + 1], layer.nh, rows)
                .iter()
                .zip(&layer.w)
                .map(|(g, w)| rate * g - decay * w)
                .collect();
            let db: Vec<f64> = column_sums(&error, layer.nv, rows)
                .iter()
                .map(|g| rate * g)
                .collect();
            let (layer, moving) = (&mut self.down[i], &mut self.velocity.1[i]);
            move_by64(&mut layer.w, &mut moving.w, &dw, momentum);
            move_by64(&mut layer.b, &mut moving.b, &db, momentum);
        }
        // Recognition copies learn to predict each sleep layer from the one below.
        for i in 0..layers {
            let layer = &self.up[i];
            let predicted = sigmoid64(&layer.up_input(&sleep[i], rows));
            let error: Vec<f64> = sleep[i + 1]
                .iter()
                .zip(&predicted)
                .map(|(a, b)| a - b)
                .collect();
            let dw: Vec<f64> = outer_sum(&sleep[i], layer.nv, &error, layer.nh, rows)
                .iter()
                .zip(&layer.w)
                .map(|(g, w)| rate * g - decay * w)
                .collect();
            let dc: Vec<f64> = column_sums(&error, layer.nh, rows)
                .iter()
                .map(|g| rate * g)
                .collect();
            let (layer, moving) = (&mut self.up[i], &mut self.velocity.0[i]);
            move_by64(&mut layer.w, &mut moving.w, &dw, momentum);
            move_by64(&mut layer.c, &mut moving.c, &dc, momentum);
        }
        let dw: Vec<f64> = top_dw
            .iter()
            .zip(&self.top.w)
            .map(|(g, w)| g - decay * w)
            .collect();
        let moving = &mut self.velocity.2;
        move_by64(&mut self.top.w, &mut moving.w, &dw, momentum);
        move_by64(&mut self.top.b, &mut moving.b, &top_db, momentum);
        move_by64(&mut self.top.c, &mut moving.c, &top_dc, momentum);
    }
}

#[test]
fn two_up_down_steps_match_a_hand_computation_in_f64() {
    // Two lower layers (6-4-3: a sampled sleep layer between the top and
    // the pixels), a top RBM over [3 features, 2 labels] with 4 hidden
    // units, mean-field labels, 2 Gibbs steps, momentum 0.5 and weight
    // decay, on 5 rows: every parameter of every copy against appendix B
    // written out in f64 from the same uniforms. f32 rounding is ~1e-7 on
    // values of order 1, far below the tolerance 1e-5; a uniform falling
    // between the f32 and f64 probability (~1e-7 per unit) would show as a
    // much larger difference, and this seed has none.
    let device = device();
    let lower = RbmStack::new(vec![
        RbmConfig::new(6, 4).with_init_std(0.8).init(&device, 1),
        RbmConfig::new(4, 3).with_init_std(0.8).init(&device, 2),
    ]);
    let top = RbmConfig::new(3 + 2, 4)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 })
        .with_init_std(0.8)
        .init(&device, 3);
    let mut model = GenerativeDbn::from_greedy(&lower, top).unwrap();
    let mut expected = HostDbn::of(&model);
    let pixels: Vec<f32> = vec![
        1., 0., 1., 0., 1., 0., //
        1., 1., 1., 0., 0., 0., //
        0., 0., 1., 1., 0., 1., //
        0., 1., 0., 1., 0., 1., //
        1., 1., 0., 0., 1., 1., //
    ];
    let classes = [0usize, 1, 1, 0, 1];
    let images = rbm::tensor_from_rows(&pixels, 6, &device);
    let targets = one_hot_rows(&classes, 2, &device).unwrap();
    let images64: Vec<f64> = pixels.iter().map(|&x| f64::from(x)).collect();
    let targets64: Vec<f64> = classes
        .iter()
        .flat_map(|&c| [f64::from(u8::from(c == 0)), f64::from(u8::from(c == 1))])
        .collect();
    let step = UpDownStep {
        gibbs_steps: 2,
        learning_rate: 0.4,
        weight_decay: 0.01,
        momentum: 0.5,
        negative_labels: NegativeLabels::MeanField,
        top_statistics: TopStatistics::Probabilities,
    };
    let mut velocity = model.zero_velocity();
    for seed in [11, 12] {
        model
            .up_down_step(
                &mut velocity,
                images.clone(),
                targets.clone(),
                &step,
                &mut Sampler::new(seed),
            )
            .unwrap();
        expected.step(
            &images64,
            &targets64,
            5,
            2,
            0.4,
            0.01,
            0.5,
            &mut Sampler::new(seed),
        );
    }
    let compare = |what: &str, found: Vec<f32>, want: &[f64]| {
        assert_eq!(found.len(), want.len(), "{what}");
        for (k, (f, w)) in found.iter().zip(want).enumerate() {
            assert!(
                (f64::from(*f) - w).abs() <= 1e-5, // NaN fails too
                "{what}[{k}] = {f}, by hand {w}"
            );
        }
    };
    for i in 0..2 {
        compare(
            &format!("up[{i}].weight"),
            host(model.up[i].weight.val()),
            &expected.up[i].w,
        );
        compare(
            &format!("up[{i}].hidden_bias"),
            host1(model.up[i].hidden_bias.val()),
            &expected.up[i].c,
        );
        compare(
            &format!("down[{i}].weight"),
            host(model.down[i].weight.val()),
            &expected.down[i].w,
        );
        compare(
            &format!("down[{i}].visible_bias"),
            host1(model.down[i].visible_bias.val()),
            &expected.down[i].b,
        );
    }
    compare("top.weight", host(model.top.weight.val()), &expected.top.w);
    compare(
        "top.visible_bias",
        host1(model.top.visible_bias.val()),
        &expected.top.b,
    );
    compare(
        "top.hidden_bias",
        host1(model.top.hidden_bias.val()),
        &expected.top.c,
    );
    // Every copy moved, and up and down apart.
    let moved = |a: &[f64], b: &[f64]| a.iter().zip(b).any(|(x, y)| (x - y).abs() > 1e-3);
    let start = HostDbn::of(
        &GenerativeDbn::from_greedy(
            &lower,
            RbmConfig::new(5, 4)
                .with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 })
                .with_init_std(0.8)
                .init(&device, 3),
        )
        .unwrap(),
    );
    for i in 0..2 {
        assert!(
            moved(&expected.up[i].w, &start.up[i].w),
            "up[{i}] did not move"
        );
        assert!(
            moved(&expected.down[i].w, &start.down[i].w),
            "down[{i}] did not move"
        );
    }
    assert!(moved(&expected.top.w, &start.top.w), "top did not move");
}
