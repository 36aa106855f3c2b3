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

/// Writes grey frames (`frames[i]` holds `height x width` intensities in
/// [0, 1]) as an animated GIF that loops forever, each frame shown for
/// `delay_cs` hundredths of a second, drawn `factor` times larger (nearest
/// neighbour). Errors name the file.
pub fn write_grey_gif(
    path: &Path,
    frames: &[Vec<f32>],
    width: usize,
    height: usize,
    factor: usize,
    delay_cs: u16,
) -> std::io::Result<()> {
    let named =
        |e: &dyn std::fmt::Display| std::io::Error::other(format!("{}: {e}", path.display()));
    let (w, h) = (width * factor, height * factor);
    let (w16, h16) = (
        u16::try_from(w).map_err(|e| named(&e))?,
        u16::try_from(h).map_err(|e| named(&e))?,
    );
    // A palette of 256 greys: index i is (i, i, i).
    let palette: Vec<u8> = (0..=255u8).flat_map(|i| [i, i, i]).collect();
    let file = std::fs::File::create(path).map_err(|e| named(&e))?;
    let mut encoder = gif::Encoder::new(std::io::BufWriter::new(file), w16, h16, &palette)
        .map_err(|e| named(&e))?;
    encoder
        .set_repeat(gif::Repeat::Infinite)
        .map_err(|e| named(&e))?;
    for frame in frames {
        if frame.len() != width * height {
            return Err(named(&format!(
                "a frame of {} values is not {width} x {height}",
                frame.len()
            )));
        }
        let grey: Vec<u8> = frame
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        let (pixels, _, _) = upscale(&grey, width, height, factor);
        let mut gif_frame = gif::Frame::from_indexed_pixels(w16, h16, pixels, None);
        gif_frame.delay = delay_cs;
        encoder.write_frame(&gif_frame).map_err(|e| named(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gif_holds_every_frame_upscaled_with_its_greys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("movie.gif");
        let frames = vec![
            vec![0.0, 1.0, 0.5, 0.25],
            vec![1.0, 0.0, 0.0, 1.0],
            vec![0.2; 4],
        ];
        write_grey_gif(&path, &frames, 2, 2, 3, 10).unwrap();
        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::Indexed);
        let mut decoder = options
            .read_info(std::fs::File::open(&path).unwrap())
            .unwrap();
        let mut decoded = Vec::new();
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert_eq!((frame.width, frame.height, frame.delay), (6, 6, 10));
            decoded.push(frame.buffer.to_vec());
        }
        assert_eq!(decoded.len(), 3);
        // Palette index = grey level; top-left 3x3 block is the first pixel.
        assert_eq!(decoded[0][0], 0);
        assert_eq!(decoded[0][3], 255);
        assert_eq!(decoded[0][6 * 3], 128);
        assert_eq!(decoded[2][35], 51);
        // A frame of the wrong size is an error naming the file.
        let error = write_grey_gif(&path, &[vec![0.0; 3]], 2, 2, 1, 10).unwrap_err();
        assert!(error.to_string().contains("movie.gif"), "{error}");
    }

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
