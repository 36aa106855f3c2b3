//! Shared plumbing for the experiment binaries: device selection, MNIST on
//! the device, run directories and PNG output. Model code lives in the
//! `rbm` and `dbn` crates and knows nothing of this.

pub mod device;
pub mod images;
pub mod mnist;
pub mod rbm_run;
pub mod run_dir;

/// mimalloc for every binary and test that links this crate: Burn allocates
/// a fresh buffer for most tensor results, and glibc's malloc returns large
/// freed blocks to the OS and faults them in again, which measured ~25% of
/// a CD-1 update on Flex (bench-cd: 7.8k vs 10k samples/s with glibc tuned).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use device::{DeviceArgs, DeviceError, available_backends, select_device};
