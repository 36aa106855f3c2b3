//! Shared plumbing for the experiment binaries: device selection, MNIST on
//! the device, run directories and PNG output. Model code lives in the
//! `rbm` and `dbn` crates and knows nothing of this.

pub mod device;
pub mod images;
pub mod mnist;
pub mod rbm_run;
pub mod run_dir;

pub use device::{DeviceError, available_backends, select_device};
