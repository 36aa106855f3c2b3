//! deepbelief: workspace root; see README.md.
