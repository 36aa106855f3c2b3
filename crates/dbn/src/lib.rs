//! Deep belief networks built from stacked RBMs.
//!
//! This crate grows with the DBN issues (greedy stacking, the feed-forward
//! classifier with a softmax head, the generative DBN). For now it only
//! re-exports the RBM building block it will stack.

pub use rbm::{Rbm, RbmConfig};
