//! The lecture's reasons, measured exactly on small models: the variational
//! bound gained by stacking ([`bound`]) and the RBM as an infinite sigmoid
//! belief net with tied weights ([`infinite_sbn`]).

pub mod bound;
pub mod infinite_sbn;
