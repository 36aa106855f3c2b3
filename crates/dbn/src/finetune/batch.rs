//! Labelled images for Burn's data loader.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::prelude::*;

use crate::error::DbnError;

/// One image and its class.
#[derive(Debug, Clone)]
pub struct LabelledImage {
    pub pixels: Vec<f32>,
    pub label: u8,
}

/// Images (row-major, `width` values each) with their labels, shared
/// rather than copied by the data loader's workers.
#[derive(Debug, Clone)]
pub struct LabelledImages {
    pixels: Arc<[f32]>,
    labels: Arc<[u8]>,
    width: usize,
}

impl LabelledImages {
    /// Checks that there is one label per row of `width` values, and that
    /// every label is below `classes`.
    pub fn new(
        pixels: Vec<f32>,
        labels: Vec<u8>,
        width: usize,
        classes: usize,
        what: &'static str,
    ) -> Result<Self, DbnError> {
        let images = pixels.len().checked_div(width).unwrap_or(0);
        if width == 0 || images * width != pixels.len() || images != labels.len() {
            return Err(DbnError::LabelCount {
                what,
                images,
                labels: labels.len(),
            });
        }
        if let Some(row) = labels.iter().position(|&l| l as usize >= classes) {
            return Err(DbnError::LabelOutOfRange {
                what,
                row,
                label: labels[row],
                classes,
            });
        }
        Ok(Self {
            pixels: pixels.into(),
            labels: labels.into(),
            width,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    pub fn pixels(&self) -> &[f32] {
        &self.pixels
    }

    /// All images as one `[len, width]` tensor and the labels as `[len]`.
    pub fn tensors(&self, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
        let images = Tensor::from_data(
            TensorData::new(self.pixels.to_vec(), [self.len(), self.width]),
            device,
        );
        let labels: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        let labels = Tensor::from_data(TensorData::new(labels, [self.len()]), device);
        (images, labels)
    }
}

impl Dataset<LabelledImage> for LabelledImages {
    fn get(&self, index: usize) -> Result<LabelledImage, DatasetError> {
        let label = *self.labels.get(index).ok_or_else(|| {
            DatasetError::new(std::io::Error::other(format!(
                "index {index} out of range ({} images)",
                self.labels.len()
            )))
        })?;
        let start = index * self.width;
        Ok(LabelledImage {
            pixels: self.pixels[start..start + self.width].to_vec(),
            label,
        })
    }

    fn len(&self) -> usize {
        LabelledImages::len(self)
    }
}

/// A mini-batch for the classifier.
#[derive(Debug, Clone)]
pub struct ClassificationBatch {
    /// `[batch, width]`
    pub images: Tensor<2>,
    /// `[batch]` class indices.
    pub targets: Tensor<1, Int>,
}

/// Stacks [`LabelledImage`]s into a [`ClassificationBatch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassificationBatcher;

impl Batcher<LabelledImage, ClassificationBatch> for ClassificationBatcher {
    fn batch(&self, items: Vec<LabelledImage>, device: &Device) -> ClassificationBatch {
        let rows = items.len();
        let width = items.first().map_or(0, |i| i.pixels.len());
        let mut pixels = Vec::with_capacity(rows * width);
        let mut targets = Vec::with_capacity(rows);
        for item in items {
            pixels.extend_from_slice(&item.pixels);
            targets.push(item.label as i64);
        }
        ClassificationBatch {
            images: Tensor::from_data(TensorData::new(pixels, [rows, width]), device),
            targets: Tensor::from_data(TensorData::new(targets, [rows]), device),
        }
    }
}
