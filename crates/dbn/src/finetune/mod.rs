//! Discriminative fine-tuning: the stack as a Burn module with a softmax
//! head ([`classifier`]), labelled images for Burn's data loader
//! ([`batch`]), the optimiser and schedule ([`config`], [`optimizer`]) and
//! Burn's `Learner` wired with checkpoints and model choice ([`learner`]),
//! the same schedule without the `Learner`, conjugate gradients included
//! ([`net_recipe`]), and small logistic nets trained by plain SGD side by side, one per core
//! ([`sgd_net`]).

pub mod batch;
pub mod classifier;
pub mod config;
pub mod conjugate;
pub mod learner;
pub mod net_recipe;
pub mod optimizer;
pub mod sgd_net;
