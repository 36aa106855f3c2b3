//! Tests of the pretraining study and the few-label sweep: the measures
//! separate what differs and not what does not, the label split is exact,
//! and an interrupted study resumes to the same results.

use burn::prelude::*;
use burn::train::Interrupter;
use rbm::{Sampler, TrainConfig};

use crate::output::dashboard::dashboard;
use crate::run_dir::RunDir;
use crate::runs::few_labels::{MIN_EPOCH_ROWS, balanced_subset, repeated_subset};
use crate::runs::function_space::*;
use crate::runs::study::*;
use crate::runs::sweep::Arm;

/// `count` trajectories of 6 points in 50 dimensions: each a random walk
/// from its own start, all ending near `centre` (noise sd 0.5 per axis).
fn trajectories(count: usize, centre: f32, seed: u64) -> Vec<Vec<Vec<f32>>> {
    let mut sampler = Sampler::new(seed);
    (0..count)
        .map(|_| {
            let noise = sampler.normal_vec(6 * 50);
            (0..6)
                .map(|step| {
                    (0..50)
                        .map(|d| centre * step as f32 / 5.0 + 0.5 * noise[step * 50 + d])
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[test]
fn purity_and_tsne_separate_separated_sets() {
    let a = trajectories(8, 5.0, 1);
    let b = trajectories(8, -5.0, 2);
    let finals: Vec<Vec<f32>> = a.iter().chain(&b).map(|t| t[5].clone()).collect();
    let labels: Vec<bool> = (0..16).map(|i| i < 8).collect();
    assert_eq!(nearest_neighbour_purity(&finals, &labels), 100.0);
    // Within-set distances (sd 0.5 in 50 dimensions: about 0.5 sqrt(100) = 5)
    // are far below the distance between the sets (10 sqrt(50) = 71).
    let (pa, pb): (Vec<&Vec<f32>>, Vec<&Vec<f32>>) =
        (finals[..8].iter().collect(), finals[8..].iter().collect());
    assert!(mean_pairwise_distance(&pa) < 10.0 && mean_pairwise_distance(&pb) < 10.0);
    assert!(distance(&finals[0], &finals[8]) > 50.0);
    // The t-SNE picture keeps them apart too.
    let points: Vec<Vec<f32>> = a.iter().chain(&b).flatten().cloned().collect();
    let embedded = tsne_2d(&points, 10.0, 500, 3);
    let finals_2d: Vec<Vec<f32>> = (0..16).map(|m| embedded[m * 6 + 5].to_vec()).collect();
    assert_eq!(nearest_neighbour_purity(&finals_2d, &labels), 100.0);
}

#[test]
fn purity_does_not_separate_one_distribution() {
    // 40 final points from one distribution, labels alternating: a point's
    // nearest neighbour shares its label with probability 19/39 (0.49); the
    // purity of 40 such points has a standard deviation of about
    // sqrt(0.25 / 40) = 8 points, so 75% is more than 3 deviations above.
    let points: Vec<Vec<f32>> = trajectories(40, 0.0, 7)
        .into_iter()
        .map(|t| t[5].clone())
        .collect();
    let labels: Vec<bool> = (0..40).map(|i| i % 2 == 0).collect();
    let purity = nearest_neighbour_purity(&points, &labels);
    assert!(purity < 75.0, "{purity}");
}

#[test]
fn the_few_label_split_holds_exactly_n_balanced_labels() {
    let labels: Vec<u8> = (0..5000).map(|i| ((i * 7) % 10) as u8).collect();
    for n in [100, 600, 1000] {
        let subset = balanced_subset(&labels, n, 10, 1).unwrap();
        assert_eq!(subset.len(), n);
        let mut unique = subset.clone();
        unique.dedup();
        assert_eq!(unique.len(), n, "no image twice");
        for class in 0..10u8 {
            assert_eq!(
                subset.iter().filter(|&&i| labels[i] == class).count(),
                n / 10
            );
        }
        assert_eq!(
            subset,
            balanced_subset(&labels, n, 10, 1).unwrap(),
            "seeded"
        );
        assert_ne!(subset, balanced_subset(&labels, n, 10, 2).unwrap());
    }
    assert!(balanced_subset(&labels, 105, 10, 1).is_err());
    assert!(
        balanced_subset(&labels, 5010, 10, 1).is_err(),
        "a class runs out"
    );
    // The repeated epoch holds only those images' labels, at least 10,000 rows.
    let pixels: Vec<f32> = (0..5000 * 4).map(|i| (i % 5000) as f32).collect();
    let all = dbn::LabelledImages::new(pixels, labels.clone(), 4, 10, "toy").unwrap();
    let subset = balanced_subset(&labels, 100, 10, 3).unwrap();
    let repeated = repeated_subset(&all, &subset, 10).unwrap();
    assert!(repeated.len() >= MIN_EPOCH_ROWS);
    let mut seen: Vec<u8> = repeated.labels().to_vec();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 10);
    for row in 0..repeated.len() {
        let original = subset[row % subset.len()];
        assert_eq!(repeated.labels()[row], labels[original]);
    }
}

fn tiny_config() -> StudyConfig {
    StudyConfig {
        data: crate::data::DataSpec::mnist(),
        depths: vec![1, 2],
        width: 16,
        seeds: vec![1, 2],
        train_rows: 400,
        valid_rows: 100,
        pretrain: TrainConfig::new()
            .with_epochs(1)
            .with_batch_size(50)
            .with_monitor_rows(100),
        finetune: dbn::FinetuneConfig {
            max_epochs: 2,
            batch_size: 50,
            patience: None,
            ..dbn::FinetuneConfig::default()
        },
        probe_images: 20,
    }
}

/// Runs the tiny study's units in order, stopping after `limit` units.
fn run_study(dir: &std::path::Path, limit: usize) -> Vec<Unit> {
    let config = tiny_config();
    config.validate().unwrap();
    let device = Device::flex();
    let location = datasets::MnistLocation::resolve(None);
    let mnist = datasets::ensure_mnist(&location.dir, &datasets::FetchOptions::default()).unwrap();
    let data = StudyData::new(&mnist, &config, &device).unwrap();
    let run = RunDir::create(dir).unwrap();
    let interrupter = Interrupter::new();
    let (mut renderer, records) = dashboard(&interrupter, None);
    let mut units = Vec::new();
    let mut trained = 0;
    for &seed in &config.seeds {
        let stack = pretrained_stack(&run, &config, seed, &data, renderer.as_mut(), &interrupter)
            .unwrap()
            .unwrap();
        for &depth in &config.depths {
            for arm in Arm::BOTH {
                let name = unit_name(depth, seed, arm);
                if let Some(unit) = load_unit(&run, &name).unwrap() {
                    units.push(unit);
                    continue;
                }
                if trained == limit {
                    return units;
                }
                let from = (arm == Arm::Pretrained).then_some(&stack);
                let (unit, back) = run_unit(
                    &run,
                    &config,
                    depth,
                    seed,
                    from,
                    false,
                    &data,
                    renderer,
                    &records,
                    &interrupter,
                )
                .unwrap();
                renderer = back;
                assert!(unit.is_some(), "not interrupted");
                // As committed (JSON floats need not round-trip to the last bit).
                units.push(load_unit(&run, &name).unwrap().unwrap());
                trained += 1;
            }
        }
    }
    units
}

#[test]
fn an_interrupted_study_resumes_to_the_same_results() {
    let whole = tempfile::tempdir().unwrap();
    let uninterrupted = run_study(whole.path(), usize::MAX);
    assert_eq!(uninterrupted.len(), 8);
    let parts = tempfile::tempdir().unwrap();
    assert_eq!(run_study(parts.path(), 3).len(), 3, "stopped after 3 units");
    let resumed = run_study(parts.path(), usize::MAX);
    // Everything but the wall time.
    let without_time = |units: &[Unit]| -> Vec<Unit> {
        units
            .iter()
            .cloned()
            .map(|mut u| {
                u.result.seconds = 0.0;
                u
            })
            .collect()
    };
    assert_eq!(without_time(&resumed), without_time(&uninterrupted));
    // A unit's trajectory: the epoch-0 vector and one per epoch, 20 x 10 each,
    // rows of probabilities.
    let unit = &resumed[0];
    assert_eq!(unit.trajectory.len(), 3);
    assert!(unit.trajectory.iter().all(|v| v.len() == 200));
    let row_sum: f32 = unit.trajectory[2][..10].iter().sum();
    assert!((row_sum - 1.0).abs() < 1e-4);
}
