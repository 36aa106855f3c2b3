//! Greedy stacking: the stack's configuration ([`config`]), the stack of
//! trained RBMs ([`model`]) and layer-wise pretraining ([`pretrain`]).

pub mod config;
pub mod model;
pub mod pretrain;
