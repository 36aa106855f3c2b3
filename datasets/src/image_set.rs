//! The labelled image set types, whatever their source: splits of images
//! with their labels, and the checks every source must pass (the image
//! size and the number of classes come from the data).

use std::path::Path;

use crate::binarize::Binarization;
use crate::error::DataError;

/// Pixel intensities of a split, as the source stores them.
#[derive(Debug, Clone, PartialEq)]
pub enum Intensities {
    /// 0..=255 per pixel (IDX files, `uint8` arrays); intensity `byte / 255`.
    Bytes(Vec<u8>),
    /// Intensities already in [0, 1] (float arrays, checked on load).
    Unit(Vec<f32>),
}

impl Intensities {
    fn slice(&self, start: usize, end: usize) -> Intensities {
        match self {
            Intensities::Bytes(b) => Intensities::Bytes(b[start..end].to_vec()),
            Intensities::Unit(v) => Intensities::Unit(v[start..end].to_vec()),
        }
    }

    /// These intensities followed by `other`'s; bytes beside floats become
    /// floats (`byte / 255`, the value either gives as a pixel).
    fn followed_by(&self, other: &Intensities) -> Intensities {
        match (self, other) {
            (Intensities::Bytes(a), Intensities::Bytes(b)) => {
                Intensities::Bytes([&a[..], b].concat())
            }
            (a, b) => Intensities::Unit([a.unit(), b.unit()].concat()),
        }
    }

    fn unit(&self) -> Vec<f32> {
        match self {
            Intensities::Bytes(b) => b.iter().map(|&b| b as f32 / 255.0).collect(),
            Intensities::Unit(v) => v.clone(),
        }
    }
}

/// One split of a labelled image set: `len()` images of `height x width`
/// pixels, row-major, and one class label per image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSplit {
    /// `len() * height * width` intensities.
    pub intensities: Intensities,
    /// One class per image, below the set's `classes`.
    pub labels: Vec<u8>,
    pub height: usize,
    pub width: usize,
}

impl ImageSplit {
    /// A split read from an images file and a labels file (named in
    /// errors): `count` images of `height x width` and one label each.
    pub(crate) fn from_files(
        intensities: Intensities,
        (count, height, width): (usize, usize, usize),
        labels: Vec<u8>,
        (images_file, labels_file): (&Path, &Path),
    ) -> Result<ImageSplit, DataError> {
        if count != labels.len() {
            return Err(DataError::CountMismatch {
                images_file: images_file.to_path_buf(),
                labels_file: labels_file.to_path_buf(),
                images: count,
                labels: labels.len(),
            });
        }
        Ok(ImageSplit {
            intensities,
            labels,
            height,
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

    /// Pixels per image (`height * width`; 784 for MNIST).
    pub fn dim(&self) -> usize {
        self.height * self.width
    }

    /// Intensities scaled to [0, 1] (or binarised), `len() * dim()` values, row-major.
    pub fn pixels(&self, binarization: Binarization) -> Vec<f32> {
        match &self.intensities {
            Intensities::Bytes(bytes) => binarization.apply(bytes),
            Intensities::Unit(values) => binarization.apply_unit(values),
        }
    }

    /// The first `n` images (all if fewer).
    pub fn head(&self, n: usize) -> ImageSplit {
        self.range(0, n)
    }

    /// Images `start..end` (clamped to the split), as a new split.
    pub fn range(&self, start: usize, end: usize) -> ImageSplit {
        let end = end.min(self.len());
        let start = start.min(end);
        ImageSplit {
            intensities: self.intensities.slice(start * self.dim(), end * self.dim()),
            labels: self.labels[start..end].to_vec(),
            height: self.height,
            width: self.width,
        }
    }
}

impl ImageSplit {
    /// These images followed by `other`'s (two parts of one split, say),
    /// or `None` when their image sizes differ.
    pub fn followed_by(&self, other: &ImageSplit) -> Option<ImageSplit> {
        if (self.height, self.width) != (other.height, other.width) {
            return None;
        }
        Some(ImageSplit {
            intensities: self.intensities.followed_by(&other.intensities),
            labels: [&self.labels[..], &other.labels].concat(),
            height: self.height,
            width: self.width,
        })
    }

    /// The first `per_class` images of each of the `classes` classes, in
    /// their order in the split (HOT 2006's balanced training set: 4,400 of
    /// each digit). `what` names the split in errors.
    ///
    /// # Errors
    /// [`DataError::TooFewOfClass`] for a class with fewer images.
    pub fn first_per_class(
        &self,
        per_class: usize,
        classes: usize,
        what: &'static str,
    ) -> Result<ImageSplit, DataError> {
        let mut taken = vec![0usize; classes];
        let mut rows = Vec::with_capacity(per_class * classes);
        for (row, &label) in self.labels.iter().enumerate() {
            let class = label as usize;
            if class < classes && taken[class] < per_class {
                taken[class] += 1;
                rows.push(row);
            }
        }
        if let Some((class, &found)) = taken.iter().enumerate().find(|(_, n)| **n < per_class) {
            return Err(DataError::TooFewOfClass {
                what,
                class,
                found,
                wanted: per_class,
            });
        }
        let dim = self.dim();
        let intensities = match &self.intensities {
            Intensities::Bytes(b) => Intensities::Bytes(
                rows.iter()
                    .flat_map(|&r| &b[r * dim..(r + 1) * dim])
                    .copied()
                    .collect(),
            ),
            Intensities::Unit(v) => Intensities::Unit(
                rows.iter()
                    .flat_map(|&r| &v[r * dim..(r + 1) * dim])
                    .copied()
                    .collect(),
            ),
        };
        Ok(ImageSplit {
            intensities,
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            height: self.height,
            width: self.width,
        })
    }
}

/// A labelled image set: a training and a test split of the same image
/// size, with `classes` classes (labels `0..classes`).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub train: ImageSplit,
    pub test: ImageSplit,
    pub classes: usize,
}

impl ImageSet {
    /// Pixels per image.
    pub fn dim(&self) -> usize {
        self.train.dim()
    }

    /// Image height and width, for pictures.
    pub fn image_size(&self) -> (usize, usize) {
        (self.train.height, self.train.width)
    }

    /// Checks what every source must satisfy: non-empty splits of one image
    /// size, labels of at least two classes, and no test label that the
    /// training labels lack. `files` (training images, training labels,
    /// test images, test labels) name the files in errors.
    pub(crate) fn checked(
        train: ImageSplit,
        test: ImageSplit,
        files: [&Path; 4],
    ) -> Result<ImageSet, DataError> {
        let [train_file, train_labels, test_file, test_labels] = files;
        for (split, file) in [(&train, train_file), (&test, test_file)] {
            if split.is_empty() || split.dim() == 0 {
                return Err(DataError::EmptySplit {
                    file: file.to_path_buf(),
                });
            }
        }
        if (test.height, test.width) != (train.height, train.width) {
            return Err(DataError::WrongImageSize {
                file: test_file.to_path_buf(),
                rows: test.height,
                cols: test.width,
                expected_rows: train.height,
                expected_cols: train.width,
            });
        }
        // Classes come from the training labels: a test label that no
        // training image has could only ever be misclassified (and would
        // silently widen the softmax head).
        let mut seen = [false; 256];
        for &label in &train.labels {
            seen[label as usize] = true;
        }
        if let Some((index, &label)) = test
            .labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| !seen[l as usize])
        {
            return Err(DataError::UnseenTestLabel {
                file: test_labels.to_path_buf(),
                index,
                label,
                train_file: train_labels.to_path_buf(),
            });
        }
        let classes = seen.iter().rposition(|&s| s).map_or(0, |last| last + 1);
        if classes < 2 {
            return Err(DataError::TooFewClasses {
                file: train_labels.to_path_buf(),
                classes,
            });
        }
        Ok(ImageSet {
            train,
            test,
            classes,
        })
    }
}
