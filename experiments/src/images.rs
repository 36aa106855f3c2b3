//! Grids of small grey images written as PNG (filters, samples, reconstructions).

use std::path::Path;

/// Tiles `images` (each `height * width` values, row-major) into a grid of
/// `columns` columns with a 1-pixel dark border. With `normalise_each`,
/// every tile is min-max scaled (for filters); otherwise values are clamped
/// to [0, 1] (for probabilities and samples).
pub fn tile(
    images: &[Vec<f32>],
    height: usize,
    width: usize,
    columns: usize,
    normalise_each: bool,
) -> (Vec<u8>, usize, usize) {
    let columns = columns.max(1);
    let rows = images.len().div_ceil(columns).max(1);
    let grid_w = columns * (width + 1) + 1;
    let grid_h = rows * (height + 1) + 1;
    let mut pixels = vec![32u8; grid_w * grid_h];
    for (index, image) in images.iter().enumerate() {
        let (low, high) = if normalise_each {
            let low = image.iter().copied().fold(f32::INFINITY, f32::min);
            let high = image.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            (low, if high > low { high } else { low + 1.0 })
        } else {
            (0.0, 1.0)
        };
        let top = 1 + (index / columns) * (height + 1);
        let left = 1 + (index % columns) * (width + 1);
        for y in 0..height {
            for x in 0..width {
                let value = ((image[y * width + x] - low) / (high - low)).clamp(0.0, 1.0);
                pixels[(top + y) * grid_w + left + x] = (value * 255.0).round() as u8;
            }
        }
    }
    (pixels, grid_w, grid_h)
}

/// Writes an 8-bit greyscale PNG.
/// Errors name the file.
pub fn write_grey_png(
    path: &Path,
    pixels: &[u8],
    width: usize,
    height: usize,
) -> std::io::Result<()> {
    encode_grey_png(path, pixels, width, height)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn encode_grey_png(path: &Path, pixels: &[u8], width: usize, height: usize) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(pixels)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

/// Tiles and writes in one go; tiles smaller than 16 pixels are drawn
/// 4x larger (nearest neighbour), so that 8x8 filters can be seen.
pub fn write_grid(
    path: &Path,
    images: &[Vec<f32>],
    height: usize,
    width: usize,
    columns: usize,
    normalise_each: bool,
) -> std::io::Result<()> {
    let (pixels, w, h) = tile(images, height, width, columns, normalise_each);
    let factor = if height.max(width) < 16 { 4 } else { 1 };
    let (pixels, w, h) = upscale(&pixels, w, h, factor);
    write_grey_png(path, &pixels, w, h)
}

/// Each pixel repeated `factor` times in both directions.
pub fn upscale(
    pixels: &[u8],
    width: usize,
    height: usize,
    factor: usize,
) -> (Vec<u8>, usize, usize) {
    let (w, h) = (width * factor, height * factor);
    let out = (0..h)
        .flat_map(|y| (0..w).map(move |x| pixels[(y / factor) * width + x / factor]))
        .collect();
    (out, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_land_where_expected() {
        let images = vec![vec![1.0; 4], vec![0.0; 4], vec![0.5; 4]];
        let (pixels, w, h) = tile(&images, 2, 2, 2, false);
        assert_eq!((w, h), (7, 7));
        assert_eq!(pixels[w + 1], 255); // first tile, top-left
        assert_eq!(pixels[w + 4], 0); // second tile
        assert_eq!(pixels[4 * w + 1], 128); // third tile, second row
        assert_eq!(pixels[0], 32); // border
    }
}
