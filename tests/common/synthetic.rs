//! A small synthetic labelled set of 6x5 images in 3 classes, as arrays and
//! as IDX files, for the tests that run the `deepbelief` command on data
//! other than MNIST.

use std::path::Path;

pub const HEIGHT: usize = 6;
pub const WIDTH: usize = 5;
pub const CLASSES: usize = 3;

/// Class `c` lights the pixels `p` with `p % 3 == c`, with seeded noise
/// (an easy set: a linear classifier separates it).
pub fn synthetic(rows: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut pixels = Vec::with_capacity(rows * HEIGHT * WIDTH);
    let mut labels = Vec::with_capacity(rows);
    for row in 0..rows {
        let class = row % CLASSES;
        labels.push(class as u8);
        for p in 0..HEIGHT * WIDTH {
            let base: u8 = if p % CLASSES == class { 220 } else { 20 };
            pixels.push(base.saturating_add((next() % 30) as u8));
        }
    }
    (pixels, labels)
}

fn idx(magic: u32, dims: &[usize], body: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for &d in dims {
        bytes.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

pub fn write_idx_set(dir: &Path) {
    for (name, rows, seed) in [("train", 600, 1), ("t10k", 30, 2)] {
        let (pixels, labels) = synthetic(rows, seed);
        std::fs::write(
            dir.join(format!("{name}-images-idx3-ubyte")),
            idx(2051, &[rows, HEIGHT, WIDTH], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{name}-labels-idx1-ubyte")),
            idx(2049, &[rows], &labels),
        )
        .unwrap();
    }
}
