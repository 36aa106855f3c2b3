//! The experiments behind the `deepbelief` command: one module per
//! subcommand in [`commands`] (flags -> validated configuration -> one
//! call), the runs themselves in [`runs`], and their shared plumbing (run
//! directories, data sets on the device, device choice, pictures). Model
//! code lives in the `rbm` and `dbn` crates and knows nothing of this.

pub mod cli;
pub mod commands;
pub mod data;
pub mod device;
pub mod output;
pub mod patches;
pub mod run_dir;
pub mod runs;

/// Makes mimalloc the global allocator of the binary that invokes it (the
/// library itself sets none): Burn allocates a fresh buffer for most tensor
/// results, and glibc's malloc returns large freed blocks to the OS and
/// faults them in again, which measured ~25% of a CD-1 update on Flex
/// (bench-cd: 7.8k vs 10k samples/s with glibc tuned).
#[macro_export]
macro_rules! use_mimalloc {
    () => {
        #[global_allocator]
        static GLOBAL: $crate::mimalloc::MiMalloc = $crate::mimalloc::MiMalloc;
    };
}

#[doc(hidden)]
pub use mimalloc;

pub use cli::CommonArgs;
pub use device::{
    DeviceArgs, DeviceError, available_backends, burn_default_device, burn_default_device_for,
    pin_burn_default_device, select_device, vulkan_driver_manifests,
};

/// Runs a binary's work on a worker of rayon's global pool and ends the
/// binary with [`report`] of its result.
///
/// Flex's GEMM and large elementwise ops split their work over that pool.
/// Called from `main`'s own thread, each op wakes the workers and parks the
/// caller: three threads on two cores, a context switch per op. Run on a
/// worker, the caller takes its share of each op itself.
pub fn run_on_workers(
    run: impl FnOnce() -> Result<(), Box<dyn std::error::Error>> + Send,
) -> std::process::ExitCode {
    // Workers get the main thread's usual 8 MiB of stack. Building the
    // pool fails only when it already exists; the run then uses that one.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(8 << 20)
        .build_global();
    rayon::scope(|_| report(run()))
}

/// Ends a binary: on error, prints the error and its causes as sentences
/// (not Rust debug output) and exits with status 1.
pub fn report(result: Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            std::process::ExitCode::FAILURE
        }
    }
}
