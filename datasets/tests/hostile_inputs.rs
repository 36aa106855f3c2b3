//! Hostile IDX, npy and PNG bytes: typed errors, never a panic, never an
//! allocation that a header asks for. The property tests run 256 cases by
//! default; `PROPTEST_CASES=1000000` runs the long version.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use datasets::{
    DataError, MAX_IMAGE_PIXELS, decode_grey_png, parse_idx_images, parse_idx_labels,
    parse_npy_images, parse_npy_labels, parse_npy_rows,
};
use proptest::prelude::*;

/// Records the largest single allocation of the current thread while on.
struct Tracking;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
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

fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, LARGEST.with(|l| l.get()))
}

fn idx_images(count: u32, rows: u32, cols: u32, pixels: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for v in [2051u32, count, rows, cols] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend(std::iter::repeat_n(7u8, pixels));
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = 2049u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out
}

/// A grey 8-bit PNG whose header says `width x height`, with a tiny IDAT.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8 bits, grey, deflate, no filter/interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    // zlib stream of nothing: far too short for the image, as a bomb's is.
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// A valid 3x2 grey PNG made with the png crate.
fn valid_png() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 3, 2);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&[0, 50, 100, 150, 200, 250])
            .unwrap();
    }
    out
}

#[test]
fn idx_header_sizes_that_overflow_are_errors() {
    let bytes = idx_images(u32::MAX, u32::MAX, u32::MAX, 10);
    let (result, largest) = largest_allocation(|| parse_idx_images(Path::new("x.idx"), bytes));
    assert!(matches!(result, Err(DataError::Truncated { .. })));
    assert!(largest < 1 << 16);
    let good = parse_idx_images(Path::new("x"), idx_images(2, 3, 3, 18)).unwrap();
    assert_eq!(
        (good.count, good.rows, good.cols, good.pixels.len()),
        (2, 3, 3, 18)
    );
}

#[test]
fn a_png_claiming_100000_squared_pixels_is_refused_from_its_header() {
    let bytes = png_claiming(100_000, 100_000);
    let (result, largest) = largest_allocation(|| decode_grey_png(Path::new("bomb.png"), &bytes));
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("bomb.png") && error.contains("100000x100000"),
        "{error}"
    );
    assert!(error.contains(&MAX_IMAGE_PIXELS.to_string()), "{error}");
    assert!(largest < 1 << 20, "allocated {largest} bytes");
    let image = decode_grey_png(Path::new("ok.png"), &valid_png()).unwrap();
    assert_eq!((image.width, image.height), (3, 2));
}

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

/// The bound on any single allocation of a reader given `len` bytes: the
/// input's size times a small factor plus the decoders' fixed buffers.
fn bound(len: usize) -> usize {
    64 * len + (1 << 20)
}

/// A valid float32 `.npy` array of shape [2, 3] (written by the crate's writer).
fn valid_npy() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    datasets::write_npy_f32(&path, &[2, 3], &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5]).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn an_npy_header_promising_huge_shapes_is_refused_before_allocating() {
    let base = valid_npy();
    // The same header length: the longer shape takes the place of padding.
    let (small, large) = (&b"(2, 3, ), }"[..], &b"(4294967296, 4294967296, ), }"[..]);
    let at = base
        .windows(small.len())
        .position(|w| w == small)
        .expect("the writer's header spells the shape as (2, 3, )");
    let mut huge = base.clone();
    huge[at..at + large.len()].copy_from_slice(large);
    assert!(
        base[at + small.len()..at + large.len()]
            .iter()
            .all(|&b| b == b' ')
    );
    let (result, largest) = largest_allocation(|| parse_npy_images(Path::new("h.npy"), &huge));
    assert!(
        matches!(result, Err(DataError::Truncated { .. })),
        "{result:?}"
    );
    assert!(largest < 1 << 16, "allocated {largest} bytes");
}

proptest! {
    #[test]
    fn idx_images_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let len = bytes.len();
        let (result, largest) = largest_allocation(|| parse_idx_images(Path::new("x"), bytes));
        prop_assert!(largest <= bound(len));
        if let Ok(images) = result {
            prop_assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
        }
    }

    #[test]
    fn idx_images_mutated(bytes in mutated(idx_images(3, 4, 5, 60))) {
        let len = bytes.len();
        let (result, largest) = largest_allocation(|| parse_idx_images(Path::new("x"), bytes));
        prop_assert!(largest <= bound(len));
        if let Ok(images) = result {
            prop_assert_eq!(images.pixels.len() + 16, len);
        }
    }

    #[test]
    fn idx_labels_mutated(bytes in mutated(idx_labels(&[0, 1, 2, 3, 9, 8]))) {
        let len = bytes.len();
        let (result, largest) = largest_allocation(|| parse_idx_labels(Path::new("x"), bytes));
        prop_assert!(largest <= bound(len));
        if let Ok(labels) = result {
            // Every byte after the 8-byte header is a label (any value: the
            // MNIST loader checks for digits, other sets have other classes).
            prop_assert_eq!(labels.len() + 8, len);
        }
    }

    #[test]
    fn png_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (_, largest) = largest_allocation(|| decode_grey_png(Path::new("x"), &bytes));
        prop_assert!(largest <= bound(bytes.len()));
    }

    #[test]
    fn png_mutated(bytes in mutated(valid_png())) {
        let (result, largest) = largest_allocation(|| decode_grey_png(Path::new("x"), &bytes));
        prop_assert!(largest <= bound(bytes.len()));
        if let Ok(image) = result {
            prop_assert_eq!(image.pixels.len(), image.width * image.height);
        }
    }

    #[test]
    fn png_headers_of_any_size(width in 1u32..=u32::MAX >> 1, height in 1u32..=u32::MAX >> 1) {
        let bytes = png_claiming(width, height);
        let (_, largest) = largest_allocation(|| decode_grey_png(Path::new("x"), &bytes));
        // A legitimate image may need its pixels; a header may not ask for more.
        let claimed = (width as usize).saturating_mul(height as usize);
        prop_assert!(largest <= bound(bytes.len()) + 4 * claimed.min(MAX_IMAGE_PIXELS as usize));
    }

    #[test]
    fn npy_mutated(bytes in mutated(valid_npy())) {
        let path = Path::new("m.npy");
        let ((), largest) = largest_allocation(|| {
            let _ = parse_npy_images(path, &bytes);
            let _ = parse_npy_rows(path, &bytes);
            let _ = parse_npy_labels(path, &bytes);
        });
        prop_assert!(largest <= bound(bytes.len()), "allocated {} for {} bytes", largest, bytes.len());
    }

    #[test]
    fn npy_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let path = Path::new("a.npy");
        let ((), largest) = largest_allocation(|| {
            let _ = parse_npy_images(path, &bytes);
            let _ = parse_npy_labels(path, &bytes);
        });
        prop_assert!(largest <= bound(bytes.len()), "allocated {} for {} bytes", largest, bytes.len());
    }
}
