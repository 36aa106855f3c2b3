//! Contrastive-divergence training: CD-k and persistent CD, with momentum,
//! L2 weight decay and an optional sparsity target (Hinton 2010, "A
//! practical guide to training restricted Boltzmann machines"). One file
//! per role: the hyperparameters ([`config`]), the gradient estimate
//! ([`cd`]), the trainer ([`trainer`]) and what an epoch measured with the
//! divergence rule ([`metrics`]).

pub mod cd;
pub mod config;
pub mod metrics;
pub mod trainer;
