//! `.npy` files as NumPy writes them (made by `fixtures/make_npy_fixtures.py`
//! with NumPy 2.4.6): int64 and big-endian labels, float64 and big-endian
//! images, and a Fortran-ordered array, which is refused with its reason.

use std::path::PathBuf;

use datasets::{DataError, Intensities, read_npy_images, read_npy_labels};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The script's images: (0..16 mod 5) / 4, as 4 images of 2x2.
fn expected_intensities() -> Vec<f32> {
    (0..16).map(|i| (i % 5) as f32 / 4.0).collect()
}

#[test]
fn integer_labels_of_any_width_and_byte_order_read_alike() {
    for name in [
        "labels_int64.npy",
        "labels_int64_be.npy",
        "labels_uint8.npy",
    ] {
        assert_eq!(
            read_npy_labels(&fixture(name)).unwrap(),
            vec![0, 1, 2, 1],
            "{name}"
        );
    }
}

#[test]
fn float_images_of_either_width_and_byte_order_read_exactly() {
    for name in [
        "images_float64.npy",
        "images_float64_be.npy",
        "images_float32_be.npy",
    ] {
        let images = read_npy_images(&fixture(name)).unwrap();
        assert_eq!(
            (images.count, images.height, images.width),
            (4, 2, 2),
            "{name}"
        );
        assert_eq!(
            images.intensities,
            Intensities::Unit(expected_intensities()),
            "{name}"
        );
    }
    let bytes = read_npy_images(&fixture("images_uint8.npy")).unwrap();
    assert_eq!(
        bytes.intensities,
        Intensities::Bytes((0..16).map(|i| (i % 5) as u8).collect())
    );
}

#[test]
fn a_fortran_ordered_array_is_refused_with_its_reason() {
    match read_npy_images(&fixture("images_fortran.npy")) {
        Err(DataError::BadNpy { file, reason }) => {
            assert!(file.ends_with("images_fortran.npy"));
            assert!(reason.contains("Fortran"), "{reason}");
        }
        other => panic!("expected BadNpy naming Fortran order, got {other:?}"),
    }
}
