//! The generative DBN of Hinton, Osindero & Teh (2006): the greedy recipe
//! ([`greedy`]), the model with its
//! sampling and free-energy classifier ([`model`]), its contrastive
//! wake-sleep fine-tuning ([`updown`]), and HOT's schedule of it with the
//! choice on validation and the final phase ([`schedule`]).

pub mod greedy;
pub mod model;
pub mod schedule;
pub mod updown;
