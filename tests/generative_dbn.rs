//! The generative DBN: softmax label groups, free-energy classification,
//! up-down, and the variational bound that greedy training improves.
//! On Flex, fixed seeds; tolerances are stated where they are used.

mod common;

use std::ops::ControlFlow;

use burn::prelude::*;
use common::{all_states, host1, host2};
use dbn::{
    DownPass, GenerativeDbn, PretrainOutcome, RbmStack, SamplePlan, SampleStart, StackConfig,
    pretrain, sampled_variational_bound, transposed, variational_bound,
};
use rbm::{
    CdTrainer, RbmConfig, Sampler, TrainConfig, UnitKind, exact_log_likelihood, math::log_sum_exp,
    tensor_from_rows,
};

fn device() -> Device {
    Device::flex()
}

/// A random RBM with binary+softmax(`group`) visible units.
fn joint_rbm(features: usize, group: usize, hidden: usize, seed: u64, device: &Device) -> rbm::Rbm {
    let mut rbm = common::random_rbm(features + group, hidden, 0.7, 0.7, seed, device);
    rbm.visible_units = UnitKind::BinaryWithSoftmax { group };
    rbm
}

#[test]
fn softmax_samples_are_one_hot_with_the_right_frequencies() {
    let device = device();
    let units = UnitKind::BinaryWithSoftmax { group: 4 };
    let n = 20_000;
    let logits = [0.3f32, 1.0, 0.0, -1.0, 2.0];
    let input = tensor_from_rows(&logits, 5, &device).repeat_dim(0, n);
    let mean = units.mean(input.clone());
    let samples = host2(units.sample(input, mean.clone(), &mut Sampler::new(1)));
    let mean = host2(mean.slice(0..1));
    let softmax: Vec<f64> = {
        let e: Vec<f64> = logits[1..].iter().map(|&x| (x as f64).exp()).collect();
        e.iter().map(|v| v / e.iter().sum::<f64>()).collect()
    };
    for k in 0..4 {
        assert!((mean[1 + k] as f64 - softmax[k]).abs() < 1e-6);
    }
    let mut counts = [0usize; 5];
    for row in samples.chunks(5) {
        assert_eq!(
            row[1..].iter().filter(|&&v| v == 1.0).count(),
            1,
            "one-hot: {row:?}"
        );
        assert!(row.iter().all(|&v| v == 0.0 || v == 1.0));
        for (c, &v) in counts.iter_mut().zip(row) {
            *c += v as usize;
        }
    }
    // Frequencies within 5 binomial standard errors of their probabilities.
    let expected = [
        1.0 / (1.0 + (-0.3f64).exp()),
        softmax[0],
        softmax[1],
        softmax[2],
        softmax[3],
    ];
    for (count, p) in counts.iter().zip(expected) {
        let f = *count as f64 / n as f64;
        assert!(
            (f - p).abs() < 5.0 * (p * (1.0 - p) / n as f64).sqrt(),
            "{f} vs {p}"
        );
    }
}

#[test]
fn softmax_free_energies_match_brute_force() {
    let device = device();
    let rbm = joint_rbm(3, 3, 4, 2, &device);
    // F(v) for valid visible states, against -log sum_h exp(-E(v, h)).
    let hidden = all_states(4, &device);
    let mut visible_states = Vec::new();
    for bits in 0..8usize {
        for label in 0..3 {
            let mut v: Vec<f32> = (0..3).map(|i| ((bits >> i) & 1) as f32).collect();
            v.extend((0..3).map(|k| if k == label { 1.0 } else { 0.0 }));
            visible_states.push(v);
        }
    }
    let visible = tensor_from_rows(&visible_states.concat(), 6, &device);
    let free = host1(rbm.free_energy(visible.clone()));
    for (row, f) in free.iter().enumerate() {
        let v = visible.clone().slice(row..row + 1).repeat_dim(0, 16);
        let energies = host1(rbm.energy(v, hidden.clone()));
        let brute = -log_sum_exp(&energies.iter().map(|e| -e).collect::<Vec<_>>());
        assert!((f - brute).abs() < 1e-4, "row {row}: {f} vs {brute}");
    }
    // F(h) sums over the 8 x 3 valid visible states only (one label on).
    let hidden_free = host1(rbm.hidden_free_energy(hidden.clone()));
    for (row, f) in hidden_free.iter().enumerate() {
        let h = hidden.clone().slice(row..row + 1).repeat_dim(0, 24);
        let energies = host1(rbm.energy(visible.clone(), h));
        let brute = -log_sum_exp(&energies.iter().map(|e| -e).collect::<Vec<_>>());
        assert!((f - brute).abs() < 1e-4, "hidden row {row}: {f} vs {brute}");
    }
}

fn tiny_dbn(device: &Device) -> GenerativeDbn {
    let lower = common::random_rbm(6, 4, 0.8, 0.5, 3, device);
    let top = joint_rbm(4, 3, 5, 4, device);
    GenerativeDbn::from_greedy(&RbmStack::new(vec![lower]), top).unwrap()
}

#[test]
fn free_energy_classification_equals_brute_force() {
    let device = device();
    let model = tiny_dbn(&device);
    let images = Sampler::new(5).bernoulli(Tensor::full([30, 6], 0.5, &device));
    let predicted: Vec<i64> = model
        .classify(images.clone())
        .into_data()
        .try_into_vec_as::<i64>()
        .unwrap();
    // Brute force: p(features, label) by summing exp(-E) over all 2^5 top
    // hidden states; the predicted label maximises it.
    let features = model.features(images);
    let hidden = all_states(5, &device);
    for (row, predicted) in predicted.iter().enumerate() {
        let scores: Vec<f64> = (0..3)
            .map(|label| {
                let mut v = host2(features.clone().slice(row..row + 1));
                v.extend((0..3).map(|k| if k == label { 1.0 } else { 0.0 }));
                let v = tensor_from_rows(&v, 7, &device).repeat_dim(0, 32);
                let energies = host1(model.top.energy(v, hidden.clone()));
                log_sum_exp(&energies.iter().map(|e| -e).collect::<Vec<_>>())
            })
            .collect();
        let best = (0..3)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap();
        assert_eq!(*predicted as usize, best, "row {row}: scores {scores:?}");
    }
}

/// `sum log p(wake_i | wake_{i+1})` under the generative weights.
fn generative_log_likelihood(model: &GenerativeDbn, wake: &[Tensor<2>]) -> f64 {
    let layer = &model.down[0];
    let input = layer.visible_input(wake[1].clone());
    host1(
        layer
            .visible_units
            .log_probability(wake[0].clone(), input)
            .unwrap(),
    )
    .iter()
    .sum()
}

#[test]
fn an_up_down_step_stays_finite_and_improves_the_generative_objective() {
    let device = device();
    let mut model = tiny_dbn(&device);
    let images = Sampler::new(6).bernoulli(Tensor::full([40, 6], 0.4, &device));
    let labels =
        dbn::one_hot_rows(&(0..40).map(|i| i % 3).collect::<Vec<_>>(), 3, &device).unwrap();
    // The step's wake phase draws the first hidden layer first from its
    // sampler; drawing it here from the same seed gives the same states.
    let wake_hidden = model.up[0].sample_hidden(images.clone(), &mut Sampler::new(7));
    let wake = [images.clone(), wake_hidden];
    let before = generative_log_likelihood(&model, &wake);
    // A small step of gradient ascent on this concave objective must raise it.
    let mut velocity = model.zero_velocity();
    let step = dbn::UpDownStep {
        gibbs_steps: 3,
        learning_rate: 0.05,
        weight_decay: 0.0,
        momentum: 0.0,
        negative_labels: dbn::NegativeLabels::MeanField,
        top_statistics: dbn::TopStatistics::Probabilities,
    };
    let (wake_error, sleep_error) = model
        .up_down_step(&mut velocity, images, labels, &step, &mut Sampler::new(7))
        .unwrap();
    let after = generative_log_likelihood(&model, &wake);
    assert!(after > before, "{after} !> {before}");
    for x in [
        wake_error.into_scalar::<f32>(),
        sleep_error.into_scalar::<f32>(),
    ] {
        assert!(x.is_finite());
    }
    for w in [
        &model.up[0].weight,
        &model.down[0].weight,
        &model.top.weight,
    ] {
        assert!(host2(w.val()).iter().all(|v| v.is_finite()));
    }
    // The untied copies now differ: recognition and generation learn apart.
    let up = host2(model.up[0].weight.val());
    let down = host2(model.down[0].weight.val());
    assert!(up.iter().zip(&down).any(|(a, b)| a != b));
}

#[test]
fn a_second_layer_raises_the_variational_bound_from_the_exact_log_likelihood() {
    let device = device();
    let patterns = datasets::bars_and_stripes(3);
    let data = tensor_from_rows(&patterns.concat(), 9, &device);
    let train = TrainConfig::new()
        .with_epochs(300)
        .with_batch_size(14)
        .with_learning_rate(0.1)
        .with_seed(1);
    let mut first = CdTrainer::new(RbmConfig::new(9, 8).init(&device, 1), train).unwrap();
    first.fit(&data, None, |_| {}).unwrap();
    let first = first.into_rbm();
    // With layer 2 = layer 1 upside down, the bound equals log p(v) exactly.
    let exact = exact_log_likelihood(&first, &data).unwrap();
    let upper = transposed(&first);
    let before = variational_bound(&first, &upper, &data).unwrap();
    assert!(
        (before - exact).abs() < 1e-3,
        "bound {before} vs exact {exact}"
    );
    // Train layer 2 from there on samples of Q(h | v): 100 per pattern.
    let repeated = data.clone().repeat_dim(0, 100);
    let hidden_samples = first.sample_hidden(repeated, &mut Sampler::new(2));
    let train = TrainConfig::new()
        .with_epochs(30)
        .with_batch_size(50)
        .with_learning_rate(0.02)
        .with_init_visible_bias_from_data(false)
        .with_mean_field_reconstruction(false)
        .with_seed(3);
    let mut second = CdTrainer::new(upper, train).unwrap();
    second.fit(&hidden_samples, None, |_| {}).unwrap();
    let after = variational_bound(&first, second.rbm(), &data).unwrap();
    // The bound is exact (enumerated), so any rise is real; demand 0.05 nats.
    assert!(
        after > before + 0.05,
        "bound after {after} vs before {before} (exact LL {exact})"
    );
}

/// Bars-and-stripes 3x3 and a 9-8 RBM trained on them (300 CD-1 epochs).
fn bars_first_layer(device: &Device) -> (Tensor<2>, rbm::Rbm) {
    let patterns = datasets::bars_and_stripes(3);
    let data = tensor_from_rows(&patterns.concat(), 9, device);
    let train = TrainConfig::new()
        .with_epochs(300)
        .with_batch_size(14)
        .with_learning_rate(0.1)
        .with_seed(1);
    let mut first = CdTrainer::new(RbmConfig::new(9, 8).init(device, 1), train).unwrap();
    first.fit(&data, None, |_| {}).unwrap();
    (data, first.into_rbm())
}

#[test]
fn the_sampled_bound_with_a_transposed_top_is_log_p_v_at_every_sample() {
    // With layer 2 = layer 1 upside down, Q(h | v) is the DBN's exact
    // posterior, so every sampled term log p(v | h) + log p(h) - log Q(h | v)
    // is log p(v) itself: the estimate is the exact log-likelihood with a
    // spread of f32 rounding only (terms of about 10 nats: 1e-4 of slack).
    let device = device();
    let (data, first) = bars_first_layer(&device);
    let upper = transposed(&first);
    let log_z = rbm::exact_log_partition(&upper).unwrap();
    let exact = exact_log_likelihood(&first, &data).unwrap();
    let sampled =
        sampled_variational_bound(&first, &upper, log_z, &data, 50, &mut Sampler::new(5)).unwrap();
    assert!(
        (sampled.mean - exact).abs() < 1e-4,
        "{sampled:?} vs exact {exact}"
    );
    assert!(sampled.standard_error < 1e-4, "{sampled:?}");
}

#[test]
fn the_sampled_bound_agrees_with_the_enumerated_one_within_its_standard_error() {
    // An untrained second layer (random weights) leaves Q far from the
    // DBN's posterior, so the terms vary; the estimate must still be
    // unbiased: within 4 of its own standard errors of the enumerated bound
    // (a normal tail of 6e-5), and the error must be real (above 1e-3).
    let device = device();
    let (data, first) = bars_first_layer(&device);
    let upper = common::random_rbm(8, 6, 1.0, 0.5, 9, &device);
    let exact = variational_bound(&first, &upper, &data).unwrap();
    let log_z = rbm::exact_log_partition(&upper).unwrap();
    let sampled =
        sampled_variational_bound(&first, &upper, log_z, &data, 200, &mut Sampler::new(6)).unwrap();
    assert!(sampled.standard_error > 1e-3, "{sampled:?}");
    assert!(
        (sampled.mean - exact).abs() < 4.0 * sampled.standard_error,
        "{sampled:?} vs enumerated {exact}"
    );
    // Layers that do not fit, and no samples, are named errors.
    let wrong = common::random_rbm(7, 6, 1.0, 0.5, 9, &device);
    assert!(matches!(
        sampled_variational_bound(&first, &wrong, log_z, &data, 10, &mut Sampler::new(6)),
        Err(dbn::DbnError::DataWidth {
            expected: 8,
            found: 7,
            ..
        })
    ));
    assert!(matches!(
        sampled_variational_bound(&first, &upper, log_z, &data, 0, &mut Sampler::new(6)),
        Err(dbn::DbnError::EmptyData { .. })
    ));
}

#[test]
fn greedy_pretraining_feeds_a_joint_top_rbm() {
    let device = device();
    let patterns = datasets::bars_and_stripes(3);
    let labels: Vec<usize> = (0..patterns.len()).map(|i| i % 2).collect();
    let data = tensor_from_rows(&patterns.concat(), 9, &device);
    let config = StackConfig::uniform(
        &[9, 6],
        &TrainConfig::new().with_epochs(50).with_batch_size(14),
    );
    let PretrainOutcome::Finished(stack) =
        pretrain(&config, &data, None, None, |_| ControlFlow::Continue(())).unwrap()
    else {
        panic!("stopped")
    };
    let features = stack.features(data);
    let joint = Tensor::cat(
        vec![features, dbn::one_hot_rows(&labels, 2, &device).unwrap()],
        1,
    );
    let top_config =
        RbmConfig::new(8, 10).with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 });
    let mut trainer = CdTrainer::new(
        top_config.init(&device, 1),
        TrainConfig::new().with_epochs(100).with_batch_size(14),
    )
    .unwrap();
    trainer.fit(&joint, None, |_| {}).unwrap();
    let model = GenerativeDbn::from_greedy(&stack, trainer.into_rbm()).unwrap();
    assert_eq!(model.n_labels(), 2);
    // Samples: pixel probabilities in [0, 1], one row per requested label.
    let samples = model
        .sample(
            &[Some(0), Some(1), None],
            SamplePlan::new(50).with_start(SampleStart::NoiseImage),
            &mut Sampler::new(4),
            10,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(samples.dims(), [3, 9]);
    assert!(host2(samples).iter().all(|p| (0.0..=1.0).contains(p)));
    // A top RBM of the wrong width is a typed error.
    let wrong = RbmConfig::new(9, 4)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: 2 })
        .init(&device, 0);
    assert!(matches!(
        GenerativeDbn::from_greedy(&stack, wrong),
        Err(dbn::DbnError::BadTop(_))
    ));
}

/// An RBM with the given `[n_visible, n_hidden]` weights (row-major) and biases.
fn rbm_with(
    weights: &[f32],
    visible_bias: &[f32],
    hidden_bias: &[f32],
    visible_units: UnitKind,
    device: &Device,
) -> rbm::Rbm {
    let (n_visible, n_hidden) = (visible_bias.len(), hidden_bias.len());
    let mut rbm = RbmConfig::new(n_visible, n_hidden).init(device, 0);
    rbm.weight = rbm
        .weight
        .map(|_| tensor_from_rows(weights, n_hidden, device));
    rbm.visible_bias = rbm
        .visible_bias
        .map(|_| Tensor::from_floats(visible_bias, device));
    rbm.hidden_bias = rbm
        .hidden_bias
        .map(|_| Tensor::from_floats(hidden_bias, device));
    rbm.visible_units = visible_units;
    rbm
}

#[test]
fn clamped_samples_draw_their_labels_pattern() {
    let device = device();
    // Pixels 0, 1 belong to feature 0, pixels 2, 3 to feature 1.
    let lower = rbm_with(
        &[6.0, 0.0, 6.0, 0.0, 0.0, 6.0, 0.0, 6.0],
        &[-3.0; 4],
        &[0.0; 2],
        UnitKind::Bernoulli,
        &device,
    );
    // Top RBM over [feature 0, feature 1, label 0, label 1]: hidden unit j
    // joins feature j and label j. Enumerating the four feature states with
    // label 0 clamped gives p(feature 0 on) = 0.91 and p(feature 1 on) =
    // 0.09 (and the mirror image for label 1); through the lower layer's
    // sigmoid(6 m - 3) the mean pixel of the label's pair is about 0.87 and
    // of the other pair about 0.14. 200 chains per label put the averages'
    // standard errors near 0.03, so 0.7 / 0.3 are > 5 of them away. Label
    // 1's bias of 4 (a constant while clamped) would pull unclamped label-0
    // chains over to label 1 within a few steps.
    let top = rbm_with(
        &[6.0, 0.0, 0.0, 6.0, 6.0, 0.0, 0.0, 6.0],
        &[-3.0, -3.0, 0.0, 4.0],
        &[-6.0; 2],
        UnitKind::BinaryWithSoftmax { group: 2 },
        &device,
    );
    let stack = RbmStack {
        layers: vec![lower],
    };
    let model = GenerativeDbn::from_greedy(&stack, top).unwrap();
    let chains = 200;
    let requested: Vec<Option<usize>> = (0..2).flat_map(|l| vec![Some(l); chains]).collect();
    // Both chain starts reach the same conditional distribution, and both
    // down passes show it: through the lower layer's sigmoid(6 m - 3) a
    // feature sampled on or off gives pixels of sigmoid(+-3) = 0.95 / 0.05
    // (the sampled pass), its probability a value between (mean-field); the
    // means over chains are the same 0.87 / 0.14.
    let plans = [SampleStart::RandomFeatures, SampleStart::NoiseImage]
        .into_iter()
        .flat_map(|start| {
            [DownPass::MeanField, DownPass::Sampled].map(|down_pass| {
                SamplePlan::new(100)
                    .with_start(start)
                    .with_down_pass(down_pass)
            })
        });
    for plan in plans {
        let mut frames = 0;
        let pixels = host2(
            model
                .sample(&requested, plan, &mut Sampler::new(4), 25, |_, frame| {
                    assert_eq!(frame.dims(), [2 * chains, 4]);
                    frames += 1;
                })
                .unwrap(),
        );
        assert_eq!(frames, 4);
        let two_values = pixels
            .iter()
            .all(|&p| (p - 0.9526).abs() < 1e-3 || (p - 0.0474).abs() < 1e-3);
        assert_eq!(two_values, plan.down_pass == DownPass::Sampled, "{plan:?}");
        for label in 0..2 {
            let rows = &pixels[label * chains * 4..(label + 1) * chains * 4];
            let mean = |cols: [usize; 2]| {
                rows.chunks(4)
                    .map(|r| (r[cols[0]] + r[cols[1]]) as f64 / 2.0)
                    .sum::<f64>()
                    / chains as f64
            };
            let (own, other) = if label == 0 {
                ([0, 1], [2, 3])
            } else {
                ([2, 3], [0, 1])
            };
            assert!(
                mean(own) > 0.7,
                "{plan:?}, label {label}: own pixels {}",
                mean(own)
            );
            assert!(
                mean(other) < 0.3,
                "{plan:?}, label {label}: other pixels {}",
                mean(other)
            );
        }
    }
    // Free labels: valid probabilities.
    let free = host2(
        model
            .sample(
                &[None; 10],
                SamplePlan::new(20),
                &mut Sampler::new(5),
                0,
                |_, _| {},
            )
            .unwrap(),
    );
    assert!(free.iter().all(|p| (0.0..=1.0).contains(p)));
}
