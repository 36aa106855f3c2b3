//! Natural-image patches: reading the vendored PNGs, errors, whitening.

use crate::*;

#[test]
fn vendored_images_read_as_grey_in_unit_range() {
    let images = read_grey_pngs(&natural_images_dir()).unwrap();
    assert_eq!(images.len(), 7);
    let chelsea = images
        .iter()
        .find(|i| i.path.ends_with("chelsea.png"))
        .unwrap();
    assert_eq!((chelsea.width, chelsea.height), (451, 300));
    for image in &images {
        assert!(image.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
        // A photograph, not a blank: real spread of intensities.
        let mean = image.pixels.iter().sum::<f32>() / image.pixels.len() as f32;
        let var = image.pixels.iter().map(|p| (p - mean).powi(2)).sum::<f32>()
            / image.pixels.len() as f32;
        assert!(var > 1e-3, "{}: variance {var}", image.path.display());
    }
}

/// The images built into the binary are the directory's, file for file
/// and pixel for pixel, in the same order; the directory holds no PNG
/// that the binary lacks.
#[test]
fn the_built_in_images_are_the_vendored_directory() {
    let from_dir = read_grey_pngs(&natural_images_dir()).unwrap();
    let built_in = vendored_grey_images().unwrap();
    assert_eq!(from_dir.len(), built_in.len());
    for (file, embedded) in from_dir.iter().zip(&built_in) {
        assert_eq!(file.path.file_name(), embedded.path.file_name());
        assert_eq!((file.width, file.height), (embedded.width, embedded.height));
        assert_eq!(file.pixels, embedded.pixels, "{}", file.path.display());
    }
    assert_eq!(
        png_dir_sha256(&natural_images_dir()).unwrap(),
        vendored_images_sha256()
    );
}

/// An image set's SHA-256 covers its names, their order and every byte,
/// and a name cannot borrow bytes from its neighbour.
#[test]
fn an_image_set_digest_changes_with_any_name_or_byte() {
    let base = named_files_sha256([("a.png", &b"xy"[..]), ("b.png", &b"z"[..])]);
    assert_eq!(base.len(), 64);
    assert_eq!(
        base,
        named_files_sha256([("a.png", &b"xy"[..]), ("b.png", &b"z"[..])])
    );
    for other in [
        named_files_sha256([("a.png", &b"xy"[..]), ("b.png", &b"Z"[..])]),
        named_files_sha256([("a.png", &b"x"[..]), ("b.png", &b"yz"[..])]),
        named_files_sha256([("b.png", &b"z"[..]), ("a.png", &b"xy"[..])]),
        named_files_sha256([("c.png", &b"xy"[..]), ("b.png", &b"z"[..])]),
        named_files_sha256([("a.png", &b"xy"[..])]),
    ] {
        assert_ne!(base, other);
    }
    // A directory: one byte of one file changes its digest.
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in VENDORED_IMAGES.iter().take(2) {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let before = png_dir_sha256(dir.path()).unwrap();
    assert_eq!(
        before,
        named_files_sha256(VENDORED_IMAGES.iter().take(2).copied())
    );
    let (name, bytes) = VENDORED_IMAGES[1];
    let mut changed = bytes.to_vec();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(dir.path().join(name), changed).unwrap();
    assert_ne!(png_dir_sha256(dir.path()).unwrap(), before);
}

#[test]
fn patches_are_seeded_and_errors_name_the_problem() {
    let images = read_grey_pngs(&natural_images_dir()).unwrap();
    let a = random_patches(&images, 8, 100, 3).unwrap();
    assert_eq!(a.len(), 100 * 64);
    assert_eq!(a, random_patches(&images, 8, 100, 3).unwrap());
    assert_ne!(a, random_patches(&images, 8, 100, 4).unwrap());
    assert!(matches!(
        random_patches(&images, 1000, 1, 0),
        Err(ImageError::TooSmall { patch: 1000, .. })
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_grey_pngs(empty.path()),
        Err(ImageError::NoImages(_))
    ));
    let bad = empty.path().join("bad.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let error = read_grey_png(&bad).unwrap_err();
    assert!(
        matches!(error, ImageError::Decode { .. }) && error.to_string().contains("bad.png"),
        "{error}"
    );
}

#[test]
fn symmetric_eigen_decomposes_a_symmetric_matrix() {
    let m = [4.0, 1.0, 2.0, 1.0, 3.0, 0.5, 2.0, 0.5, 5.0];
    let (values, vectors) = symmetric_eigen(&m, 3);
    // A v = lambda v for each eigenpair, and the trace is kept.
    for k in 0..3 {
        for i in 0..3 {
            let av: f64 = (0..3).map(|j| m[i * 3 + j] * vectors[j * 3 + k]).sum();
            assert!((av - values[k] * vectors[i * 3 + k]).abs() < 1e-9);
        }
    }
    assert!((values.iter().sum::<f64>() - 12.0).abs() < 1e-9);
}

fn covariance(rows: &[f32], dim: usize) -> Vec<f64> {
    let n = rows.len() / dim;
    let mut c = vec![0.0; dim * dim];
    for row in rows.chunks(dim) {
        for i in 0..dim {
            for j in 0..dim {
                c[i * dim + j] += row[i] as f64 * row[j] as f64 / n as f64;
            }
        }
    }
    c
}

#[test]
fn zca_whitening_decorrelates_and_standardising_scales() {
    let images = read_grey_pngs(&natural_images_dir()).unwrap();
    let patches = random_patches(&images, 4, 20_000, 1).unwrap();
    // ZCA with a tiny floor: the covariance of the whitened training
    // patches is the identity on the 15 directions left after removing
    // each patch's mean (that direction has variance 0).
    let white = PatchTransform::fit(&patches, 16, Whitening::Zca { epsilon: 1e-6 }).apply(&patches);
    let c = covariance(&white, 16);
    let trace: f64 = (0..16).map(|i| c[i * 16 + i]).sum();
    assert!((trace - 15.0).abs() < 1e-3, "trace {trace}");
    let off = (0..16).flat_map(|i| (0..16).filter(move |&j| j != i).map(move |j| (i, j)));
    // Off-diagonals: only the mean-removal's projection, -1/16 each.
    for (i, j) in off {
        assert!(
            (c[i * 16 + j] + 1.0 / 16.0).abs() < 1e-3,
            "c[{i},{j}] = {}",
            c[i * 16 + j]
        );
    }
    let standard = PatchTransform::fit(&patches, 16, Whitening::Standardise).apply(&patches);
    let c = covariance(&standard, 16);
    let mean_variance: f64 = (0..16).map(|i| c[i * 16 + i]).sum::<f64>() / 16.0;
    assert!((mean_variance - 1.0).abs() < 1e-4, "{mean_variance}");
}
