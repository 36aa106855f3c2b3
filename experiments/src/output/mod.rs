//! What runs show a person: PNG grids and plots, and Burn's training
//! dashboard (or plain lines when no terminal is attached).

pub mod dashboard;
pub mod images;
pub mod plots;
