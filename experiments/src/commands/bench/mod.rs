//! `deepbelief bench cd|finetune|products|updown`: throughput benchmarks that print
//! samples per second (never timed assertions).

use clap::Subcommand;

pub mod cd;
pub mod finetune;
pub mod products;
pub mod updown;

/// The benchmarks.
#[derive(Subcommand, Debug)]
pub enum Bench {
    /// Contrastive-divergence updates per second (CD-k or PCD-k).
    Cd(cd::Args),
    /// One fine-tuning epoch of 784-500-500-2000-10 (samples per second).
    Finetune(finetune::Args),
    /// The matrix products of one fine-tuning step, alone (ms per step).
    Products(products::Args),
    /// Up-down epochs of the paper's generative DBN (samples per second).
    Updown(updown::Args),
}

impl Bench {
    pub fn run(self) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Bench::Cd(args) => cd::run(args),
            Bench::Finetune(args) => finetune::run(args),
            Bench::Products(args) => products::run(args),
            Bench::Updown(args) => updown::run(args),
        }
    }
}
