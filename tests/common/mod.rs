//! Helpers shared by the workspace tests.
#![allow(dead_code)]

pub mod synthetic;

use burn::prelude::*;
use rbm::{Rbm, RbmConfig, Sampler};

/// The environment variable that makes a missing Vulkan driver a test
/// failure instead of a skip (CI sets it: it installs lavapipe and must run
/// the wgpu tests).
pub const REQUIRE_WGPU: &str = "DEEPBELIEF_REQUIRE_WGPU";

/// Every backend compiled into this test build that can run here (`flex`
/// always; `wgpu` when built with `--features wgpu` and a Vulkan driver is
/// installed, e.g. Mesa's lavapipe).
///
/// Without a Vulkan driver on Linux, wgpu would fall back to OpenGL on
/// llvmpipe and the tests would run for many minutes: the wgpu cases are
/// skipped with one message on stderr per test process, or, with
/// `DEEPBELIEF_REQUIRE_WGPU=1`, the test panics at once with what to
/// install.
pub fn backends() -> Vec<(&'static str, Device)> {
    let mut names = experiments::available_backends();
    if cfg!(target_os = "linux")
        && names.contains(&"wgpu")
        && experiments::vulkan_driver_manifests().is_empty()
    {
        let advice = "no Vulkan driver is installed (no ICD manifest in the loader's \
                      vulkan/icd.d directories or VK_DRIVER_FILES / VK_ICD_FILENAMES): \
                      install Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`) to run them";
        if std::env::var_os(REQUIRE_WGPU).is_some_and(|v| !v.is_empty() && v != "0") {
            panic!(
                "{REQUIRE_WGPU} is set and the tests were built with --features wgpu, but {advice}"
            );
        }
        static SKIPPED: std::sync::Once = std::sync::Once::new();
        SKIPPED.call_once(|| {
            say_once_per_run(&format!(
                "wgpu tests skipped: {advice} ({REQUIRE_WGPU}=1 makes this a failure)"
            ))
        });
        names.retain(|&name| name != "wgpu");
    }
    names
        .into_iter()
        .map(|name| (name, experiments::select_device(name).expect("compiled in")))
        .collect()
}

/// Writes `line` to stderr once per test run: the test binaries of one
/// `cargo test` share their parent process (cargo), whose id names a marker
/// file; written straight to the stream, which the test harness does not
/// capture (it captures `eprintln!`).
fn say_once_per_run(line: &str) {
    use std::io::Write;
    #[cfg(unix)]
    let run = std::os::unix::process::parent_id();
    #[cfg(not(unix))]
    let run = std::process::id();
    let marker = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("notice-{run}"));
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)
        .is_ok()
    {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// An RBM with N(0, weight_std^2) weights and N(0, bias_std^2) biases.
pub fn random_rbm(
    n_visible: usize,
    n_hidden: usize,
    weight_std: f64,
    bias_std: f64,
    seed: u64,
    device: &Device,
) -> Rbm {
    let mut sampler = Sampler::new(seed);
    let mut rbm = RbmConfig::new(n_visible, n_hidden)
        .with_init_std(weight_std)
        .init(device, seed);
    rbm.visible_bias = rbm
        .visible_bias
        .map(|_| sampler.normal([n_visible], 0.0, bias_std, device));
    rbm.hidden_bias = rbm
        .hidden_bias
        .map(|_| sampler.normal([n_hidden], 0.0, bias_std, device));
    rbm
}

/// All 2^n binary vectors as a `[2^n, n]` tensor, in binary counting order
/// (bit i of the index is unit i).
pub fn all_states(n: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..1usize << n)
        .flat_map(|s| (0..n).map(move |i| ((s >> i) & 1) as f32))
        .collect();
    Tensor::from_data(TensorData::new(values, [1 << n, n]), device)
}

pub fn host1(x: Tensor<1>) -> Vec<f64> {
    x.into_data()
        .try_into_vec_as::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

pub fn host2(x: Tensor<2>) -> Vec<f32> {
    x.into_data().try_into_vec_as::<f32>().unwrap()
}
