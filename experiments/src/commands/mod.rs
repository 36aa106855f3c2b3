//! The `deepbelief` command's subcommands: one module each, holding its
//! flags (a clap `Args` whose doc comments are the help) and the one call
//! that turns them into a validated configuration and runs it. Shared
//! flags are one struct each, flattened in: [`crate::cli::RunArgs`]
//! (`--out/--resume/--overwrite`), [`crate::data::DataArgs`] (`--data`),
//! [`crate::device::DeviceArgs`] (`--device`).
//!
//! One meaning per flag name across subcommands: `--cd-*` set contrastive
//! divergence (`--cd-epochs`, `--cd-lr`, `--cd-k`, `--cd-batch`, ...),
//! `--finetune-*` backprop fine-tuning, `--updown-*` the generative DBN's
//! up-down phase; `--hidden` is hidden-layer sizes, `--seeds N` means seeds
//! 1..=N, `--train-rows N` the first N training images.

use clap::{ArgMatches, Subcommand};

pub mod bench;
pub mod bound;
pub mod classify;
pub mod few_labels;
pub mod gaussian;
pub mod gaussian_sweeps;
pub mod generative;
pub mod infinite_sbn;
pub mod loglik;
pub mod seeds;
pub mod study;
pub mod top_rbm_sweep;
pub mod train_rbm;
pub mod updown_sweep;

/// Every subcommand of `deepbelief`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pretrain a DBN (greedy CD), fine-tune it as a classifier with
    /// backprop, report the test error (Hinton & Salakhutdinov 2006).
    Classify(classify::Args),
    /// The generative DBN of Hinton, Osindero & Teh (2006): greedy layers,
    /// a top RBM over [features, labels], up-down, samples, free-energy
    /// classification.
    Generative(generative::Args),
    /// One RBM by CD-k or PCD-k, with filters, samples and reconstructions.
    TrainRbm(train_rbm::Args),
    /// AIS estimate of log Z and the test log-likelihood of a trained RBM.
    Loglik(loglik::Args),
    /// A Gaussian-Bernoulli RBM on natural-image patches or your own rows.
    Gaussian(gaussian::Args),
    /// The lecture's claims about Gaussian units: learning rate, sigma vs
    /// hidden units.
    GaussianSweeps(gaussian_sweeps::Args),
    /// The generative DBN's top RBM alone, validation error every N epochs.
    TopRbmSweep(top_rbm_sweep::Args),
    /// The generative DBN's up-down rates chosen on validation: learning
    /// rate x momentum x weight decay from one greedy DBN.
    UpdownSweep(updown_sweep::Args),
    /// The variational bound of a two-layer DBN before and after stacking:
    /// exact on bars-and-stripes, by AIS and sampling on MNIST.
    Bound(bound::Args),
    /// An RBM as an infinite sigmoid belief net with tied weights, exactly.
    InfiniteSbn(infinite_sbn::Args),
    /// Erhan et al.: pretrained vs random networks by depth, trajectories in
    /// function space.
    Study(study::Args),
    /// Pretraining on unlabelled images, fine-tuning with N labels.
    FewLabels(few_labels::Args),
    /// Mean and standard error over finished runs of one recipe (seeds).
    Seeds(seeds::Args),
    /// Throughput of CD, fine-tuning and up-down (samples per second).
    #[command(subcommand)]
    Bench(bench::Bench),
}

impl Command {
    /// Runs the subcommand; `matches` are its own (for `--resume`'s check of
    /// the flags given).
    pub fn run(self, matches: &ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
        match self {
            Command::Classify(args) => classify::run(args, matches),
            Command::Generative(args) => generative::run(args, matches),
            Command::TrainRbm(args) => train_rbm::run(args, matches),
            Command::Loglik(args) => loglik::run(args),
            Command::Seeds(args) => seeds::run(args),
            Command::Gaussian(args) => gaussian::run(args, matches),
            Command::GaussianSweeps(args) => gaussian_sweeps::run(args, matches),
            Command::TopRbmSweep(args) => top_rbm_sweep::run(args),
            Command::UpdownSweep(args) => updown_sweep::run(args, matches),
            Command::Bound(args) => bound::run(args, matches),
            Command::InfiniteSbn(args) => infinite_sbn::run(args),
            Command::Study(args) => study::run(args, matches),
            Command::FewLabels(args) => few_labels::run(args, matches),
            Command::Bench(bench) => bench.run(),
        }
    }
}
