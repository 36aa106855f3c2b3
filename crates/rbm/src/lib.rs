//! Restricted Boltzmann machines, written once for every Burn backend.
//!
//! Tensors carry no backend type in Burn 0.22: the [`burn::prelude::Device`]
//! that a model is created on decides where it runs (Flex on the CPU, wgpu,
//! CUDA, ...). This crate depends on Burn without any backend; the program
//! that uses it compiles in the backends it wants.
//!
//! # Example: train and measure
//! ```
//! use burn::prelude::*;
//! use rbm::{CdTrainer, RbmConfig, TrainConfig, exact_log_likelihood, tensor_from_rows};
//!
//! let device = Device::flex();
//! // 1. Data: the 14 bars-and-stripes patterns of a 3x3 grid.
//! let patterns: Vec<f32> = datasets_like_patterns();
//! let data = tensor_from_rows(&patterns, 9, &device);
//! // 2. Model and trainer, both validated up front.
//! let rbm = RbmConfig::new(9, 8).with_init_std(0.1).init(&device, 1);
//! let before = exact_log_likelihood(&rbm, &data)?; // about 9 ln(1/2) = -6.24 nats
//! let config = TrainConfig::new()
//!     .with_epochs(150)
//!     .with_batch_size(2)
//!     .with_k(5) // CD-5
//!     .with_learning_rate(0.3)
//!     .with_final_learning_rate(Some(0.003)) // annealed linearly
//!     .with_weight_decay(0.0);
//! let mut trainer = CdTrainer::new(rbm, config)?;
//! // 3. Train; the callback sees every batch and every epoch.
//! let metrics = trainer.fit(&data, None, |_progress| {})?;
//! assert_eq!(metrics.len(), 150);
//! // 4. Measure: exact log-likelihood (8 hidden units can be enumerated).
//! let after = exact_log_likelihood(trainer.rbm(), &data)?;
//! // Training raised it, and no model exceeds the uniform distribution
//! // over the 14 patterns, ln(1/14) = -2.64.
//! assert!(after > before + 1.0 && after <= -(14f64.ln()) + 1e-6, "{before} -> {after}");
//! # fn datasets_like_patterns() -> Vec<f32> {
//! #     let mut out = Vec::new();
//! #     for mask in 0u32..8 { for i in 0..9 { out.push(((mask >> (i / 3)) & 1) as f32); } }
//! #     for mask in 1u32..7 { for i in 0..9 { out.push(((mask >> (i % 3)) & 1) as f32); } }
//! #     out
//! # }
//! # Ok::<(), rbm::RbmError>(())
//! ```

mod ais;
mod checkpoint;
mod data;
mod error;
mod exact;
pub mod fused_update;
mod gradient;
mod host_kernels;
pub mod host_ops;
pub mod math;
mod model;
mod sampler;
mod store;
mod subnormals;
pub mod train;
mod units;

pub use ais::{
    AisConfig, AisEstimate, AisSide, ais_log_partition, ais_log_partition_from_data,
    base_model_biases, base_rate_biases, mean_log_likelihood,
};
pub use checkpoint::{load_trainer_state, save_trainer_state};
pub use data::{check_data, check_shape, tensor_from_rows};
pub use error::{ConfigError, RbmError};
pub use exact::{
    MAX_ENUMERATED_UNITS, data_statistics, enumerated_units, exact_log_likelihood,
    exact_log_likelihood_gradient, exact_log_partition, exact_model_statistics,
};
pub use gradient::{ParameterTensors, contrastive_statistics, statistics};
pub use model::{GibbsState, MAX_UNITS, MAX_WEIGHTS, Rbm, RbmConfig, SigmaConfig};
pub use sampler::Sampler;
pub use store::{
    CONFIG_METADATA_KEY, MAX_WEIGHTS_FILE_BYTES, WeightsFile, check_capacity, inspect_weights,
    load_inspected, load_rbm, load_rbm_config, load_tensors, missing_metadata_entry, parse_weights,
    read_metadata, save_rbm, save_tensors,
};
pub use subnormals::{set_flush_subnormals, subnormals_flushed};
pub use train::cd::{CdEstimate, contrastive_divergence};
pub use train::config::{SparsityConfig, TrainConfig};
pub use train::metrics::{
    DIVERGENCE_FACTOR, DIVERGENCE_FLOOR, DIVERGENCE_WARMUP_UPDATES, EpochMetrics, MAX_ABS_WEIGHT,
    Progress, check_divergence,
};
pub use train::trainer::{CdTrainer, DriveError, DriveEvent, TrainerState};
pub use units::UnitKind;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
