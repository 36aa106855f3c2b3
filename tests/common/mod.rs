//! Helpers shared by the workspace tests.
#![allow(dead_code)]

use burn::prelude::*;
use rbm::{Rbm, RbmConfig, Sampler};

/// Every backend compiled into this test build (`flex` always; `wgpu` when
/// built with `--features wgpu`, which CI runs on Mesa's lavapipe).
///
/// # Panics
/// At once, with what to install, when wgpu is compiled in on Linux and no
/// Vulkan driver is installed: wgpu would fall back to OpenGL on llvmpipe
/// and the tests would run for many minutes instead of failing.
pub fn backends() -> Vec<(&'static str, Device)> {
    let names = experiments::available_backends();
    if cfg!(target_os = "linux")
        && names.contains(&"wgpu")
        && experiments::vulkan_driver_manifests().is_empty()
    {
        panic!(
            "the tests were built with --features wgpu, but no Vulkan driver is installed \
             (no ICD manifest in the loader's vulkan/icd.d directories or VK_DRIVER_FILES / \
             VK_ICD_FILENAMES): install Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`) \
             or run the tests without --features wgpu"
        );
    }
    names
        .into_iter()
        .map(|name| (name, experiments::select_device(name).expect("compiled in")))
        .collect()
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
