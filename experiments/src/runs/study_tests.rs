//! Tests of the pretraining study and the few-label sweep: the measures
//! separate what differs and not what does not, the label split is exact,
//! and an interrupted study resumes to the same results.

use burn::prelude::*;
use burn::train::Interrupter;
use rbm::{Sampler, TrainConfig};

use crate::run_dir::RunDir;
use crate::runs::few_labels::{MIN_EPOCH_ROWS, balanced_subset, repeated_subset};
use crate::runs::function_space::*;
use crate::runs::study::*;

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
        finetune_epochs: 2,
        batch_size: 10,
        rates: vec![0.1, 0.5],
        grid_seeds: 1,
        momentum_arm: Some(MomentumRecipe {
            batch_size: 50,
            ..MomentumRecipe::default()
        }),
        probe_images: 20,
    }
}

/// Trains the tiny study, stopping (as Ctrl-C would) after `limit` epoch
/// commits; `None` if it stopped.
fn train_tiny(dir: &std::path::Path, limit: usize) -> Option<crate::runs::study_run::StudyUnits> {
    let config = tiny_config();
    config.validate().unwrap();
    let device = Device::flex();
    let location = datasets::MnistLocation::resolve(None);
    let mnist = datasets::ensure_mnist(&location.dir, &datasets::FetchOptions::default()).unwrap();
    let data = StudyData::new(&mnist, &config, &device).unwrap();
    let run = RunDir::create(dir).unwrap();
    let interrupter = Interrupter::new();
    let mut commits = 0;
    let stopper = interrupter.clone();
    let mut say = |line: &str| {
        if line.contains(": epoch ") {
            commits += 1;
            if commits == limit {
                stopper.stop(None);
            }
        }
    };
    let shard = crate::run_dir::shard::Shard::WHOLE;
    let finished =
        crate::runs::study_run::train_study(&run, &config, &data, shard, &interrupter, &mut say)
            .unwrap();
    finished.then(|| {
        crate::runs::study_run::committed_study(&run, &config)
            .unwrap()
            .0
    })
}

/// Every unit of a study, in key order, without wall times.
fn units_of(study: &crate::runs::study_run::StudyUnits) -> Vec<(usize, StudyArm, f64, Vec<Unit>)> {
    study
        .cells
        .iter()
        .map(|(&(depth, arm), (rate, units))| {
            let units = units
                .iter()
                .cloned()
                .map(|mut u| {
                    u.result.seconds = 0.0;
                    u
                })
                .collect();
            (depth, arm, *rate, units)
        })
        .collect()
}

#[test]
fn an_interrupted_study_resumes_to_identical_units() {
    let whole = tempfile::tempdir().unwrap();
    let uninterrupted = units_of(&train_tiny(whole.path(), usize::MAX).unwrap());
    // 2 depths x 3 arms, 2 seeds each.
    assert_eq!(uninterrupted.len(), 6);
    assert!(uninterrupted.iter().all(|(_, _, _, u)| u.len() == 2));
    let parts = tempfile::tempdir().unwrap();
    // Stopped inside a cell (after its first of two epochs), then again later.
    assert!(
        train_tiny(parts.path(), 3).is_none(),
        "stopped after 3 epoch commits"
    );
    assert!(train_tiny(parts.path(), 4).is_none(), "stopped again");
    let resumed = units_of(&train_tiny(parts.path(), usize::MAX).unwrap());
    assert_eq!(resumed, uninterrupted);
    // A unit's trajectory: the epoch-0 vector and one per epoch, 20 x 10
    // each, rows of probabilities.
    let unit = &resumed[0].3[0];
    assert_eq!(unit.trajectory.len(), 3);
    assert!(unit.trajectory.iter().all(|v| v.len() == 200));
    let row_sum: f32 = unit.trajectory[2][..10].iter().sum();
    assert!((row_sum - 1.0).abs() < 1e-4);
    // The momentum arm trains at its recipe's rate, the others at a grid rate.
    for (_, arm, rate, _) in &resumed {
        match arm {
            StudyArm::RandomGlorot4Momentum => assert_eq!(*rate, 0.1),
            _ => assert!([0.1, 0.5].contains(rate)),
        }
    }
}

#[test]
fn the_rate_chosen_is_the_one_with_the_lowest_mean_validation_error() {
    use crate::runs::study_run::choose_rate;
    assert_eq!(
        choose_rate(&[vec![5.0, 7.0], vec![4.0, 6.0], vec![9.0, 1.0]]),
        1
    );
    assert_eq!(choose_rate(&[vec![3.0], vec![2.0], vec![2.5]]), 1);
    // Ties go to the first (the smaller rate as grids are written).
    assert_eq!(choose_rate(&[vec![2.0], vec![2.0]]), 0);
    assert_eq!(choose_rate(&[vec![9.0], vec![8.0], vec![1.0]]), 2);
}

fn broken(change: impl Fn(&mut StudyConfig)) -> StudyConfigError {
    let mut config = tiny_config();
    config.validate().unwrap();
    change(&mut config);
    config.validate().unwrap_err()
}

#[test]
fn a_depth_of_zero_or_no_depth_is_refused() {
    assert_eq!(
        broken(|c| c.depths = vec![1, 0]),
        StudyConfigError::Depths(vec![1, 0])
    );
    assert_eq!(
        broken(|c| c.depths = vec![]),
        StudyConfigError::Depths(vec![])
    );
}

#[test]
fn a_repeated_depth_is_refused() {
    let error = broken(|c| c.depths = vec![1, 2, 1]);
    assert_eq!(error, StudyConfigError::RepeatedDepths(vec![1, 2, 1]));
    assert!(error.to_string().contains("--depths"), "{error}");
}

#[test]
fn a_repeated_rate_is_refused() {
    let error = broken(|c| c.rates = vec![0.1, 0.3, 0.1]);
    assert_eq!(error, StudyConfigError::RepeatedRates(vec![0.1, 0.3, 0.1]));
    assert!(error.to_string().contains("--rates"), "{error}");
}

#[test]
fn fewer_than_two_seeds_or_repeated_seeds_are_refused() {
    assert_eq!(
        broken(|c| c.seeds = vec![]),
        StudyConfigError::TooFewSeeds(0)
    );
    assert_eq!(
        broken(|c| c.seeds = vec![3]),
        StudyConfigError::TooFewSeeds(1)
    );
    assert_eq!(
        broken(|c| c.seeds = vec![3, 3]),
        StudyConfigError::RepeatedSeeds(vec![3, 3])
    );
}

#[test]
fn a_rate_that_is_not_positive_and_finite_is_refused() {
    for rate in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        let error = broken(|c| c.rates = vec![0.1, rate]);
        assert!(matches!(error, StudyConfigError::Rate(r) if r.to_bits() == rate.to_bits()));
        assert!(error.to_string().contains("--rates"));
    }
    assert_eq!(broken(|c| c.rates = vec![]), StudyConfigError::NoRates);
}

#[test]
fn grid_seeds_outside_the_seeds_are_refused() {
    assert_eq!(
        broken(|c| c.grid_seeds = 0),
        StudyConfigError::GridSeeds { found: 0, seeds: 2 }
    );
    assert_eq!(
        broken(|c| c.grid_seeds = 3),
        StudyConfigError::GridSeeds { found: 3, seeds: 2 }
    );
}

#[test]
fn a_batch_larger_than_the_training_set_is_refused() {
    assert_eq!(
        broken(|c| c.batch_size = 401),
        StudyConfigError::BatchSize {
            found: 401,
            train_rows: 400
        }
    );
    assert_eq!(
        broken(|c| c.batch_size = 0),
        StudyConfigError::BatchSize {
            found: 0,
            train_rows: 400
        }
    );
}

#[test]
fn zero_epochs_too_many_rows_and_a_bad_momentum_arm_are_refused() {
    assert_eq!(
        broken(|c| c.finetune_epochs = 0),
        StudyConfigError::NoEpochs
    );
    assert!(matches!(
        broken(|c| c.train_rows = 60_000),
        StudyConfigError::Rows {
            train_rows: 60_000,
            ..
        }
    ));
    assert!(matches!(
        broken(|c| c.momentum_arm.as_mut().unwrap().momentum = 1.0),
        StudyConfigError::MomentumArm(_)
    ));
}
