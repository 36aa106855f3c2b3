//! AIS estimate of log Z and of the mean test log-likelihood of a saved RBM.
//!
//! cargo run --release -p experiments --bin rbm-loglik -- runs/rbm
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use experiments::data::{BinarizeMode, images_tensor};
use experiments::rbm_run::{RbmRunConfig, model_path};
use rbm::{AisConfig, ais_log_partition, base_rate_biases, load_rbm, mean_log_likelihood};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Estimate an RBM's log partition function by AIS and its MNIST test log-likelihood"
)]
struct Args {
    /// A run directory of train-rbm, or a .safetensors model file.
    model: PathBuf,
    /// Parallel AIS runs.
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// Number of intermediate temperatures, linearly spaced; default: the
    /// 14,500-step schedule of Salakhutdinov & Murray (2008).
    #[arg(long)]
    steps: Option<usize>,
    /// Binarisation of the test images; default: the one in the run's config.json.
    #[arg(long, value_enum)]
    binarize: Option<BinarizeMode>,
    /// Seed of that binarisation (training images; test images use seed + 1).
    #[arg(long)]
    binarize_seed: Option<u64>,
    /// Seed of the AIS runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    experiments::run_on_workers(|| run(args))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The flags and the model file are checked before the data are read.
    match args.steps {
        Some(steps) => AisConfig::linear(args.runs, steps, args.seed),
        None => AisConfig::paper(args.runs, args.seed),
    }
    .validate()?;
    let device = args.common.device.select()?;
    let file = model_path(&args.model);
    load_rbm(&file, &device)?;
    let run = args
        .model
        .is_dir()
        .then(|| RbmRunConfig::load(&args.model))
        .transpose()?;
    // A run directory's own data set unless --data names another.
    let mut data = args.common.data.clone();
    if let Some(run) = &run
        && data.data.is_mnist()
    {
        data.data = run.data.source.clone();
    }
    let (mnist, line) = data.load()?;
    println!("{line}");
    let mode = args
        .binarize
        .or(run.as_ref().map(|r| r.binarize))
        .unwrap_or(BinarizeMode::Stochastic);
    let seed = args
        .binarize_seed
        .or(run.as_ref().map(|r| r.binarize_seed))
        .unwrap_or(0);
    let binarization = mode.with_seed(seed);
    let (rbm, config) = load_rbm(&file, &device)?;
    if config.n_visible != mnist.dim() {
        return Err(format!(
            "{}: the model has {} visible units, the images of {} have {} pixels",
            file.display(),
            config.n_visible,
            data.data,
            mnist.dim()
        )
        .into());
    }
    println!(
        "model {} ({}x{}), test binarisation: {}",
        file.display(),
        config.n_visible,
        config.n_hidden,
        binarization.describe()
    );
    // Training and test images are binarised by one stream, as in training.
    let train = images_tensor(&mnist.train, binarization, &device);
    let test = images_tensor(&mnist.test, mode.with_seed(seed.wrapping_add(1)), &device);
    let ais = match args.steps {
        Some(steps) => AisConfig::linear(args.runs, steps, args.seed),
        None => AisConfig::paper(args.runs, args.seed),
    };
    println!(
        "AIS: {} runs, {} temperatures, base rate from the {} training images",
        ais.runs,
        ais.betas.len(),
        mnist.train.len()
    );
    let started = Instant::now();
    let estimate = ais_log_partition(&rbm, base_rate_biases(&train), &ais)?;
    println!(
        "log Z = {:.3}, 3-sigma band [{:.3}, {:.3}], base-rate log Z_A = {:.3}, {:.1} s",
        estimate.log_z,
        estimate.log_z_low,
        estimate.log_z_high,
        estimate.log_z_base,
        started.elapsed().as_secs_f64()
    );
    let train_loglik = mean_log_likelihood(&rbm, &train, estimate.log_z)?;
    let test_loglik = mean_log_likelihood(&rbm, &test, estimate.log_z)?;
    println!("train_loglik={train_loglik:.3}");
    println!("log_z={:.4}", estimate.log_z);
    println!("test_loglik={test_loglik:.3}");
    Ok(())
}
