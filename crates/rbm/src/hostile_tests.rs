//! Hostile weights files and sizes: typed errors, never a panic, never an
//! allocation that a header or a flag asks for. The property tests run
//! 256 cases by default; `PROPTEST_CASES=1000000` runs the long version.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use burn::prelude::*;
use proptest::prelude::*;

use crate::{
    ConfigError, MAX_UNITS, MAX_WEIGHTS, RbmConfig, RbmError, TrainConfig, load_rbm, parse_weights,
    save_rbm,
};

/// Records the largest single allocation of the current thread while
/// tracking is on, so a test can bound what a parser asked for.
struct Tracking;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // try_with: the thread-locals may be gone while a thread exits.
        let _ = TRACKING.try_with(|on| {
            if on.get() {
                let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
            }
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` and returns its result with the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, LARGEST.with(|l| l.get()))
}

/// A valid small RBM file's bytes.
fn valid_file() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let config = RbmConfig::new(6, 4);
    save_rbm(&config.init(&Device::flex(), 1), &config, &path).unwrap();
    std::fs::read(path).unwrap()
}

/// A safetensors file with the given header JSON and data bytes.
fn file_with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn write(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join("hostile.safetensors");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn message(error: RbmError) -> String {
    error.to_string()
}

#[test]
fn metadata_claiming_a_huge_model_is_refused_before_allocation() {
    // 6x4 tensors, but the metadata claims 10^12 hidden units.
    let dir = tempfile::tempdir().unwrap();
    let mut config = RbmConfig::new(6, 4);
    let path = dir.path().join("m.safetensors");
    save_rbm(&config.init(&Device::flex(), 1), &config, &path).unwrap();
    let text = std::fs::read(&path).unwrap();
    config.n_hidden = 1_000_000_000_000;
    let hostile_json = serde_json::to_string(&config).unwrap();
    let file = crate::inspect_weights(&path).unwrap();
    // Rebuild the header with the hostile metadata and the same tensors.
    let header_len = u64::from_le_bytes(text[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&text[8..8 + header_len]).unwrap();
    header["__metadata__"]["rbm_config"] = serde_json::Value::String(hostile_json);
    let bytes = file_with_header(&header.to_string(), &text[8 + header_len..]);
    let hostile = write(dir.path(), &bytes);
    assert_eq!(file.tensors.len(), 3);
    let (result, largest) = largest_allocation(|| load_rbm(&hostile, &Device::flex()));
    let error = message(result.unwrap_err());
    assert!(error.contains("above the limit"), "{error}");
    assert!(largest < 1 << 20, "allocated {largest} bytes");

    // Within the unit limit but more than the file holds.
    config.n_hidden = 4000;
    header["__metadata__"]["rbm_config"] =
        serde_json::Value::String(serde_json::to_string(&config).unwrap());
    let bytes = file_with_header(&header.to_string(), &text[8 + header_len..]);
    let hostile = write(dir.path(), &bytes);
    let error = message(load_rbm(&hostile, &Device::flex()).unwrap_err());
    assert!(
        error.contains("needs") && error.contains("the file holds"),
        "{error}"
    );
}

#[test]
fn other_dtypes_and_non_finite_values_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    // One f64 tensor of 2 values.
    let header = r#"{"weight":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#;
    let path = write(dir.path(), &file_with_header(header, &[0u8; 16]));
    let error = message(crate::inspect_weights(&path).unwrap_err());
    assert!(error.contains("F64") && error.contains("weight"), "{error}");
    assert!(
        error.contains("hostile.safetensors"),
        "names the file: {error}"
    );
    // An f32 tensor holding a NaN.
    let mut data = 1.0f32.to_le_bytes().to_vec();
    data.extend_from_slice(&f32::NAN.to_le_bytes());
    let header = r#"{"weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let path = write(dir.path(), &file_with_header(header, &data));
    let error = message(crate::inspect_weights(&path).unwrap_err());
    assert!(error.contains("NaN or infinite"), "{error}");
}

#[test]
fn rule_too_many_units() {
    let error = RbmConfig::new(784, MAX_UNITS + 1).validate().unwrap_err();
    assert!(matches!(
        error,
        ConfigError::TooManyUnits {
            layer: "n_hidden",
            ..
        }
    ));
    let error = RbmConfig::new(MAX_UNITS + 1, 10).validate().unwrap_err();
    assert!(matches!(
        error,
        ConfigError::TooManyUnits {
            layer: "n_visible",
            ..
        }
    ));
}

#[test]
fn rule_too_many_weights() {
    let side = (MAX_WEIGHTS as f64).sqrt() as usize + 1;
    let error = RbmConfig::new(side, side).validate().unwrap_err();
    assert!(matches!(error, ConfigError::TooManyWeights { .. }));
    // Just under the limit passes.
    assert!(RbmConfig::new(1 << 15, 1 << 15).validate().is_ok());
}

#[test]
fn a_step_with_a_batch_of_the_wrong_width_is_an_error() {
    let device = Device::flex();
    let mut trainer =
        crate::CdTrainer::new(RbmConfig::new(6, 4).init(&device, 1), TrainConfig::new()).unwrap();
    let batch = Tensor::<2>::zeros([3, 5], &device);
    let error = trainer.step(batch, 0.1, 0.5).unwrap_err();
    assert!(matches!(
        error,
        RbmError::DataWidth {
            expected: 6,
            found: 5,
            ..
        }
    ));
    let empty = Tensor::<2>::zeros([0, 6], &device);
    assert!(matches!(
        trainer.step(empty, 0.1, 0.5).unwrap_err(),
        RbmError::EmptyData { .. }
    ));
}

/// A file mutated at some positions, truncated or extended.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len();
    (
        proptest::collection::vec((0..len, any::<u8>()), 0..8),
        0..=len + 16,
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(move |(edits, cut, tail)| {
            let mut bytes = base.clone();
            for (at, value) in edits {
                bytes[at] = value;
            }
            bytes.truncate(cut);
            bytes.extend(tail);
            bytes
        })
}

proptest! {
    /// Arbitrary bytes: an error or a checked file, never a panic, and no
    /// allocation beyond a small multiple of the input.
    #[test]
    fn arbitrary_bytes_never_panic_or_overallocate(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (_, largest) = largest_allocation(|| parse_weights(Path::new("x"), &bytes));
        prop_assert!(largest <= 64 * bytes.len() + (1 << 16), "{} bytes for {}", largest, bytes.len());
    }

    /// Mutations of a valid file: the same guarantees; a file that still
    /// parses has f32 tensors of finite values.
    #[test]
    fn mutated_files_never_panic_or_overallocate(bytes in mutated(valid_file())) {
        let (result, largest) = largest_allocation(|| parse_weights(Path::new("x"), &bytes));
        prop_assert!(largest <= 64 * bytes.len() + (1 << 16), "{} bytes for {}", largest, bytes.len());
        if let Ok(file) = result {
            prop_assert!(file.total_values() * 4 <= bytes.len());
        }
    }
}

fn healthy_metrics() -> crate::EpochMetrics {
    crate::EpochMetrics {
        epoch: 3,
        learning_rate: 0.1,
        momentum: 0.5,
        reconstruction_error: 0.02,
        trivial_reconstruction_error: 0.1,
        updates: 3 * 600,
        max_abs_weight: 2.0,
        max_abs_bias: 8.0,
        held_out_reconstruction_error: Some(0.03),
        free_energy_train: -80.0,
        free_energy_held_out: Some(-79.0),
        free_energy_gap: Some(1.0),
        mean_hidden_activation: 0.2,
        train_seconds: 1.0,
        samples_per_second: 1.0,
        wall_seconds: 1.0,
    }
}

#[test]
fn divergence_rule_non_finite_metrics() {
    assert!(crate::check_divergence(&healthy_metrics()).is_ok());
    let metrics = crate::EpochMetrics {
        free_energy_held_out: Some(f64::NAN),
        ..healthy_metrics()
    };
    let error = crate::check_divergence(&metrics).unwrap_err();
    assert!(matches!(
        error,
        RbmError::Diverged {
            epoch: 3,
            quantity: "held-out free energy",
            ..
        }
    ));
}

#[test]
fn divergence_rule_reconstruction_far_above_the_trivial_predictor() {
    // 2 x 0.1 + 0.01 = 0.21 is the limit.
    let at_limit = crate::EpochMetrics {
        reconstruction_error: 0.209,
        ..healthy_metrics()
    };
    assert!(crate::check_divergence(&at_limit).is_ok());
    let above = crate::EpochMetrics {
        reconstruction_error: 0.25,
        ..healthy_metrics()
    };
    let error = crate::check_divergence(&above).unwrap_err();
    assert!(matches!(
        error,
        RbmError::Diverged {
            quantity: "reconstruction error",
            ..
        }
    ));
    assert!(
        error.to_string().contains("trivial mean predictor"),
        "{error}"
    );
}

#[test]
fn divergence_rule_reconstruction_waits_for_the_warmup_but_the_others_do_not() {
    // Ten updates of a fresh RBM may reconstruct far worse than the
    // trivial predictor: not a divergence until the warm-up is done.
    let early = crate::EpochMetrics {
        epoch: 1,
        updates: crate::DIVERGENCE_WARMUP_UPDATES - 1,
        reconstruction_error: 0.25,
        ..healthy_metrics()
    };
    assert!(crate::check_divergence(&early).is_ok());
    let done = crate::EpochMetrics {
        updates: crate::DIVERGENCE_WARMUP_UPDATES,
        ..early.clone()
    };
    assert!(matches!(
        crate::check_divergence(&done).unwrap_err(),
        RbmError::Diverged {
            quantity: "reconstruction error",
            ..
        }
    ));
    // A non-finite value or an exploded weight is a divergence at once.
    for broken in [
        crate::EpochMetrics {
            reconstruction_error: f64::NAN,
            ..early.clone()
        },
        crate::EpochMetrics {
            max_abs_weight: 2e3,
            ..early.clone()
        },
    ] {
        assert!(crate::check_divergence(&broken).is_err());
    }
}

#[test]
fn epoch_metrics_count_the_updates_so_far() {
    // 10 rows in batches of 4: 3 updates an epoch (the last batch of 2).
    let device = Device::flex();
    let values: Vec<f32> = (0..10 * 6).map(|i| (i % 3 == 0) as u8 as f32).collect();
    let data = crate::tensor_from_rows(&values, 6, &device);
    let config = TrainConfig::new().with_batch_size(4).with_epochs(2);
    let mut trainer = crate::CdTrainer::new(RbmConfig::new(6, 3).init(&device, 1), config).unwrap();
    let metrics = trainer.fit(&data, None, |_| {}).unwrap();
    let updates: Vec<usize> = metrics.iter().map(|m| m.updates).collect();
    assert_eq!(updates, vec![3, 6]);
}

#[test]
fn divergence_rule_weight_magnitude() {
    let metrics = crate::EpochMetrics {
        max_abs_weight: 2e3,
        ..healthy_metrics()
    };
    let error = crate::check_divergence(&metrics).unwrap_err();
    assert!(matches!(
        error,
        RbmError::Diverged {
            quantity: "largest weight",
            ..
        }
    ));
}

#[test]
fn divergence_rule_bias_magnitude() {
    // Biases carry no weight decay: they can explode while weights stay
    // small and the reconstruction error stays near the trivial predictor's.
    let at_limit = crate::EpochMetrics {
        max_abs_bias: 1e3,
        ..healthy_metrics()
    };
    assert!(crate::check_divergence(&at_limit).is_ok());
    let metrics = crate::EpochMetrics {
        max_abs_bias: 4.9e3,
        ..healthy_metrics()
    };
    let error = crate::check_divergence(&metrics).unwrap_err();
    assert!(matches!(
        error,
        RbmError::Diverged {
            epoch: 3,
            quantity: "largest bias",
            ..
        }
    ));
    assert!(error.to_string().contains("epoch 3"), "{error}");
}

#[test]
fn an_exploding_learning_rate_stops_training_at_the_first_epoch() {
    // Bars-and-stripes 3x3 at a learning rate of 10^4: an update moves a
    // weight by 10^4 times a difference of statistics; at initialisation
    // the differences are small (the model reconstructs the data means), so
    // the rule breaks in epoch 1 or 2 (measured: 2, largest weight ~7,800).
    let device = Device::flex();
    let mut values = Vec::new();
    for mask in 0u32..8 {
        for i in 0..9 {
            values.push(((mask >> (i / 3)) & 1) as f32);
        }
    }
    let data = crate::tensor_from_rows(&values, 9, &device);
    let config = TrainConfig::new()
        .with_learning_rate(1e4)
        .with_batch_size(8)
        .with_epochs(3);
    let mut trainer = crate::CdTrainer::new(RbmConfig::new(9, 6).init(&device, 1), config).unwrap();
    let error = trainer.fit(&data, None, |_| {}).unwrap_err();
    let RbmError::Diverged { epoch, .. } = error else {
        panic!("{error}");
    };
    assert!(epoch <= 2, "{epoch}");
    assert_eq!(
        trainer.epochs_done(),
        epoch - 1,
        "the diverged epoch does not count"
    );
}
