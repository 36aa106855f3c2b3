//! The benchmarks behind `deepbelief bench`: each times the project's own
//! training path and reports samples per second through a callback (never
//! a timed assertion).

pub mod cd;
pub mod finetune;
pub mod updown;
