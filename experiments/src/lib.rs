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
            for line in error_lines(error.as_ref()) {
                eprintln!("{line}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// The lines [`report`] prints for `error`: the error, then each cause
/// whose text the lines before do not already hold (an error that quotes
/// its source in its own message does not repeat it).
pub fn error_lines(error: &dyn std::error::Error) -> Vec<String> {
    let mut shown = error.to_string();
    let mut lines = vec![format!("error: {shown}")];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !shown.contains(&text) {
            lines.push(format!("  caused by: {text}"));
            shown.push('\n');
            shown.push_str(&text);
        }
        source = cause.source();
    }
    lines
}

#[cfg(test)]
mod report_tests {
    use super::error_lines;

    #[derive(Debug)]
    struct Wrapper {
        message: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    /// A cause is printed once: not again when the error quotes it.
    #[test]
    fn a_cause_the_error_already_quotes_is_not_repeated() {
        let quoting = Wrapper {
            message: "epoch 3 failed: disk full; the checkpoint is kept".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(
            error_lines(&quoting),
            ["error: epoch 3 failed: disk full; the checkpoint is kept"]
        );
        let terse = Wrapper {
            message: "epoch 3 failed".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(
            error_lines(&terse),
            ["error: epoch 3 failed", "  caused by: disk full"]
        );
    }
}
