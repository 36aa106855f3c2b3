//! deepbelief: the workspace root. Its documentation is the README, whose
//! Rust example is compiled and run as a documentation test.
#![doc = include_str!("../README.md")]
