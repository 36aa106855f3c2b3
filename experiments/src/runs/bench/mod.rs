//! The benchmarks behind `deepbelief bench`: each times the project's own
//! training path and reports samples per second through a callback (never
//! a timed assertion).

pub mod cd;
pub mod finetune;
pub mod products;
pub mod updown;

use burn::prelude::Device;

/// Says what multiplies matrices on Flex (OpenBLAS and its kernels and
/// threads, or Flex's own GEMM): the figures depend on it.
fn say_matmul_engine(device: &Device, say: &mut dyn FnMut(&str)) {
    if rbm::host_ops::on_flex(device) {
        say(&format!(
            "matrix products on flex: {}",
            rbm::host_ops::matmul_engine()
        ));
    }
}
