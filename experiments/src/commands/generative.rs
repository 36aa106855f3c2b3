//! The generative DBN of Hinton, Osindero & Teh (2006) on MNIST: greedy
//! layers without labels, a top RBM over [features, 10 softmax labels],
//! contrastive wake-sleep (up-down), generation and free-energy classification.
//!
//! cargo run --release -- generative --preset quick --out runs/generative-quick
use std::path::PathBuf;

use clap::ArgMatches;
use dbn::{DownPass, NegativeLabels, SampleStart, TopStatistics};

use crate::cli::{Invocation, RunArgs};
use crate::data::DataSpec;
use crate::runs::generative::{
    GenerativeRecipe, GenerativeRunConfig, Preset, TopPcd, train_generative,
};
use crate::runs::pretrain::PretrainedSource;

/// The command-line spelling of [`SampleStart`].
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StartArg {
    /// Penultimate features on with probability 1/2.
    RandomFeatures,
    /// An up-pass from a random binary image (HOT 2006, figure 9).
    NoiseImage,
}

impl From<StartArg> for SampleStart {
    fn from(start: StartArg) -> Self {
        match start {
            StartArg::RandomFeatures => SampleStart::RandomFeatures,
            StartArg::NoiseImage => SampleStart::NoiseImage,
        }
    }
}

/// The command-line spelling of [`DownPass`].
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DownPassArg {
    /// Probabilities all the way down from the penultimate units' means.
    MeanField,
    /// The penultimate units' sampled states, each hidden layer sampled
    /// on the way down, pixel probabilities (HOT 2006, section 7).
    Sampled,
}

impl From<DownPassArg> for DownPass {
    fn from(pass: DownPassArg) -> Self {
        match pass {
            DownPassArg::MeanField => DownPass::MeanField,
            DownPassArg::Sampled => DownPass::Sampled,
        }
    }
}

/// The command-line spelling of [`TopStatistics`].
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum TopStatisticsArg {
    /// Hidden probabilities (CD's lower-variance choice).
    Probabilities,
    /// Sampled binary states (HOT 2006, appendix B's code).
    SampledStates,
}

impl From<TopStatisticsArg> for TopStatistics {
    fn from(statistics: TopStatisticsArg) -> Self {
        match statistics {
            TopStatisticsArg::Probabilities => TopStatistics::Probabilities,
            TopStatisticsArg::SampledStates => TopStatistics::SampledStates,
        }
    }
}

/// The command-line spelling of [`NegativeLabels`].
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LabelsArg {
    /// Softmax probabilities (HOT 2006, appendix B).
    MeanField,
    /// A one-hot sample at every Gibbs step.
    Sampled,
}

impl From<LabelsArg> for NegativeLabels {
    fn from(labels: LabelsArg) -> Self {
        match labels {
            LabelsArg::MeanField => NegativeLabels::MeanField,
            LabelsArg::Sampled => NegativeLabels::Sampled,
        }
    }
}

/// The greedy top RBM's training: flags shared by `generative` and
/// `updown-sweep`, whose greedy DBN is the preset's.
#[derive(clap::Args, Debug)]
pub struct TopRbmArgs {
    /// CD epochs of the top RBM (510-2000) [quick: 20, paper: 30].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    top_epochs: Option<usize>,
    /// Gibbs steps of the top RBM's CD-k (lower layers use CD-1) [1, as
    /// HOT]. At rate 0.1 with a mean-field reconstruction CD-1 is far
    /// behind CD-5 (greedy validation error 4.23% against 2.38%); at rate
    /// 0.03 with a sampled reconstruction it is about HOT's 2.49%
    /// (docs/RESULTS.md).
    #[arg(long, value_parser = crate::cli::numbers::count)]
    top_cd_k: Option<usize>,
    /// The top RBM's CD learning rate [0.03, chosen on validation for
    /// CD-1].
    #[arg(long, value_parser = crate::cli::numbers::rate)]
    top_cd_lr: Option<f64>,
    /// The top RBM's negative-phase visible units sampled, the label group
    /// one-hot (HOT 2006: "exactly one unit was allowed to be active"),
    /// rather than their conditional means [both presets].
    #[arg(long, conflicts_with = "top_mean_field_reconstruction")]
    top_sampled_reconstruction: bool,
    /// The top RBM's negative-phase visible units as their conditional
    /// means [the `quick` preset until 2026-12-05].
    #[arg(long)]
    top_mean_field_reconstruction: bool,
}

impl TopRbmArgs {
    /// The recipe's top RBM with these flags' values where given.
    pub fn amend(&self, recipe: &mut GenerativeRecipe) {
        recipe.top_epochs = self.top_epochs.unwrap_or(recipe.top_epochs);
        recipe.top_cd_k = self.top_cd_k.unwrap_or(recipe.top_cd_k);
        recipe.top_cd_lr = self.top_cd_lr.unwrap_or(recipe.top_cd_lr);
        if self.top_sampled_reconstruction {
            recipe.top_sampled_reconstruction = true;
        }
        if self.top_mean_field_reconstruction {
            recipe.top_sampled_reconstruction = false;
        }
    }
}

/// Train the generative DBN of Hinton, Osindero & Teh (2006) on MNIST (or --data).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recipe (minutes or hours; below). Flags below override its values.
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// CD epochs of each lower layer (784-500, 500-500) [quick: 10, paper: 30].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    lower_epochs: Option<usize>,
    #[command(flatten)]
    top: TopRbmArgs,
    /// The top RBM by persistent CD (Tieleman 2008: its negative phase
    /// from chains kept across updates, --top-cd-k steps each) instead of
    /// CD from the data: a model whose long Gibbs chains, what sampling
    /// runs, are trained as well as its data's neighbourhood.
    #[arg(long)]
    top_persistent: bool,
    /// Epochs of persistent CD-1 for the top RBM after up-down and the
    /// final phase, before sampling: this crate's extra phase for more
    /// recognisable samples, not HOT's [quick: 20, paper: 0; with
    /// --resume: the run's, unless given].
    #[arg(long)]
    top_pcd_epochs: Option<usize>,
    /// Its learning rate [0.001; with --resume: the run's, unless given].
    #[arg(long, value_parser = crate::cli::numbers::rate)]
    top_pcd_lr: Option<f64>,
    /// The rate of its last epoch, reached linearly by epoch (positive,
    /// at most --top-pcd-lr), or `constant` [quick: 0.00005, paper:
    /// constant; with --resume: the run's, unless given].
    #[arg(long, value_parser = final_rate)]
    top_pcd_final_lr: Option<FinalRate>,
    /// Up-down epochs (with --resume: continue a finished or interrupted
    /// run up to this many, keeping its Gibbs schedule) [quick: 10, paper:
    /// 300].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    updown_epochs: Option<usize>,
    /// Up-down epochs on the training images in use and the validation
    /// images together (all 60,000 of MNIST unless --train-rows leaves some
    /// out) after the best validation epoch, at most: HOT 2006's final net,
    /// trained until its training error on all of them is as low as the
    /// chosen epoch's on its training images [quick: 0, paper: 100].
    #[arg(long)]
    final_epochs: Option<usize>,
    /// Up-down learning rate [both presets: 0.03].
    #[arg(long, value_parser = crate::cli::numbers::rate)]
    updown_lr: Option<f64>,
    /// Up-down momentum, in [0, 1) [both presets: 0.9].
    #[arg(long, value_parser = crate::cli::numbers::momentum)]
    updown_momentum: Option<f64>,
    /// Up-down weight decay (L2 penalty times the learning rate) [both presets: 2e-4].
    #[arg(long, value_parser = crate::cli::numbers::penalty)]
    updown_weight_decay: Option<f64>,
    /// The label group in up-down's negative phase: softmax probabilities
    /// (HOT 2006, appendix B) or a one-hot sample per Gibbs step.
    #[arg(long, value_enum, default_value_t = LabelsArg::MeanField)]
    updown_labels: LabelsArg,
    /// The top RBM's hidden values in up-down's contrastive statistics:
    /// probabilities (this crate's default) or sampled states, as HOT 2006's
    /// appendix B code.
    #[arg(long, value_enum, default_value_t = TopStatisticsArg::Probabilities)]
    updown_top_statistics: TopStatisticsArg,
    /// Gibbs steps per generated sample [quick and paper: 5,000 (HOT
    /// 2006 ran 1,000 between consecutive samples of one chain); with
    /// --resume: the run's, unless given].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    sample_steps: Option<usize>,
    /// Where the sampling chains start [default: random-features; with
    /// --resume: the run's, unless given].
    #[arg(long, value_enum)]
    sample_start: Option<StartArg>,
    /// How each sample's image is read off its chain's last state
    /// [quick: mean-field, paper: sampled; with --resume: the run's,
    /// unless given].
    #[arg(long, value_enum)]
    down_pass: Option<DownPassArg>,
    /// Samples per class in samples.png.
    #[arg(long, default_value_t = 10, value_parser = crate::cli::numbers::count)]
    samples_per_class: usize,
    /// Take the lower layers from this stack (e.g. mnist-classify's
    /// `pretrained.safetensors`; its first two layers, 784-500-500) instead
    /// of training them.
    #[arg(long, conflicts_with = "lower_epochs")]
    pretrained_lower: Option<PathBuf>,
    /// A classifier from mnist-classify (its model.safetensors) that also
    /// labels the clamped samples; recorded in the run (file and SHA-256),
    /// so `--resume` uses it unless given another.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Use only the first N of the 50,000 training images.
    #[arg(long)]
    train_rows: Option<usize>,
    /// Of those, only the first N of each class (HOT 2006: 4,400 per digit,
    /// 44,000 in all) [quick: all, paper: 4400].
    #[arg(long, value_parser = crate::cli::numbers::count)]
    train_per_class: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// With --resume, only --updown-epochs, --final-epochs, --sample-steps,
    /// --sample-start, --down-pass, --top-pcd-epochs, --top-pcd-lr,
    /// --top-pcd-final-lr and --classifier may be given.
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

pub fn run(args: Args, matches: &ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    // Flags, configuration and run directory are checked before any data is read.
    let device = args.common.device.select()?;
    // Hashed now: a missing file fails before anything else.
    let classifier = args
        .classifier
        .as_deref()
        .map(PretrainedSource::from_path)
        .transpose()?;
    let resumable = [
        "updown_epochs",
        "final_epochs",
        "sample_steps",
        "sample_start",
        "down_pass",
        "top_pcd_epochs",
        "top_pcd_lr",
        "top_pcd_final_lr",
        "classifier",
    ];
    let (run, config, set, line) = Invocation::new::<Args>("generative", matches)
        .resumable_with(&resumable)
        .open_with_data_amended(
            &args.run,
            &args.common.data,
            |data| config_from_args(&args, data, classifier.clone()),
            |config| amend(&args, config, classifier.clone()),
        )?;
    println!("{line}");
    train_generative(&run, &config, &set, &device, &mut |line| println!("{line}"))?
        .announce_interruption();
    Ok(())
}

/// What the resumable flags change in a resumed run's configuration (a
/// classifier given now replaces the recorded one; none given keeps it).
fn amend(args: &Args, config: &mut GenerativeRunConfig, classifier: Option<PretrainedSource>) {
    if classifier.is_some() {
        config.classifier = classifier;
    }
    if let Some(epochs) = args.updown_epochs {
        config.updown.epochs = epochs;
    }
    if let Some(steps) = args.sample_steps {
        config.sample_steps = steps;
    }
    if let Some(epochs) = args.final_epochs {
        config.final_epochs = epochs;
    }
    if let Some(start) = args.sample_start {
        config.sample_start = start.into();
    }
    if let Some(pass) = args.down_pass {
        config.down_pass = pass.into();
    }
    amend_top_pcd(args, &mut config.top_pcd);
}

/// What --top-pcd-epochs, --top-pcd-lr and --top-pcd-final-lr change.
fn amend_top_pcd(args: &Args, top_pcd: &mut TopPcd) {
    top_pcd.epochs = args.top_pcd_epochs.unwrap_or(top_pcd.epochs);
    top_pcd.learning_rate = args.top_pcd_lr.unwrap_or(top_pcd.learning_rate);
    if let Some(FinalRate(last)) = args.top_pcd_final_lr {
        top_pcd.final_learning_rate = last;
    }
}

/// --top-pcd-final-lr: a rate to fall to, or none (`constant`). A newtype,
/// as clap reads `Option<Option<_>>` as a flag whose value may be left out.
#[derive(Debug, Clone, Copy)]
struct FinalRate(Option<f64>);

fn final_rate(text: &str) -> Result<FinalRate, String> {
    if text == "constant" {
        return Ok(FinalRate(None));
    }
    crate::cli::numbers::rate(text)
        .map(|rate| FinalRate(Some(rate)))
        .map_err(|e| format!("{e} (or `constant`)"))
}

/// The preset's recipe with the flags' values, as a validated configuration.
fn config_from_args(
    args: &Args,
    data: &DataSpec,
    classifier: Option<PretrainedSource>,
) -> Result<GenerativeRunConfig, Box<dyn std::error::Error>> {
    let mut recipe = args.preset.recipe();
    recipe.classifier = classifier;
    let set = |value: Option<usize>, field: &mut usize| *field = value.unwrap_or(*field);
    set(args.lower_epochs, &mut recipe.lower_epochs);
    args.top.amend(&mut recipe);
    set(args.updown_epochs, &mut recipe.updown_epochs);
    set(args.final_epochs, &mut recipe.final_epochs);
    set(args.sample_steps, &mut recipe.sample_steps);
    let rates = &mut recipe.updown_rates;
    rates.learning_rate = args.updown_lr.unwrap_or(rates.learning_rate);
    rates.momentum = args.updown_momentum.unwrap_or(rates.momentum);
    rates.weight_decay = args.updown_weight_decay.unwrap_or(rates.weight_decay);
    recipe.updown_negative_labels = args.updown_labels.into();
    recipe.updown_top_statistics = args.updown_top_statistics.into();
    if args.train_per_class.is_some() {
        recipe.train_per_class = args.train_per_class;
    }
    recipe.top_persistent = args.top_persistent;
    amend_top_pcd(args, &mut recipe.top_pcd);
    recipe.sample_start = args.sample_start.map(Into::into).unwrap_or_default();
    if let Some(pass) = args.down_pass {
        recipe.down_pass = pass.into();
    }
    recipe.samples_per_class = args.samples_per_class;
    recipe.train_rows = args.train_rows;
    recipe.seed = args.seed;
    recipe.pretrained_lower = args
        .pretrained_lower
        .as_deref()
        .map(PretrainedSource::from_path)
        .transpose()?;
    recipe.config(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags `words` (after the subcommand's name) as parsed.
    fn parse(words: &[&str]) -> Result<Args, clap::Error> {
        let all: Vec<&str> = ["generative"].iter().chain(words).copied().collect();
        crate::cli::parse_subcommand(&all)
    }

    /// The greedy top RBM's CD settings that `flags` give.
    fn top_cd(flags: &[&str]) -> (usize, f64, bool) {
        let words: Vec<&str> = ["--out", "unused"].iter().chain(flags).copied().collect();
        let args = parse(&words).unwrap();
        let config = config_from_args(&args, &DataSpec::mnist(), None).unwrap();
        let train = &config.top.layers[0].train;
        (
            train.k,
            train.learning_rate,
            train.mean_field_reconstruction,
        )
    }

    #[test]
    fn top_rbm_flags_override_either_preset_in_both_directions() {
        assert_eq!(top_cd(&["--preset", "paper"]), (1, 0.03, false));
        assert_eq!(top_cd(&["--preset", "quick"]), (1, 0.03, false));
        let paper_before = [
            "--preset",
            "paper",
            "--top-cd-k",
            "5",
            "--top-cd-lr",
            "0.1",
            "--top-mean-field-reconstruction",
        ];
        assert_eq!(top_cd(&paper_before), (5, 0.1, true));
        // The `quick` preset's top RBM until 2026-12-05, and one flag alone.
        let quick_before = [
            "--preset",
            "quick",
            "--top-cd-k",
            "5",
            "--top-cd-lr",
            "0.1",
            "--top-mean-field-reconstruction",
        ];
        assert_eq!(top_cd(&quick_before), (5, 0.1, true));
        assert_eq!(
            top_cd(&["--preset", "quick", "--top-mean-field-reconstruction"]),
            (1, 0.03, true)
        );
    }

    #[test]
    fn the_two_top_reconstruction_flags_conflict() {
        let words = [
            "--out",
            "unused",
            "--top-sampled-reconstruction",
            "--top-mean-field-reconstruction",
        ];
        let error = parse(&words).err().unwrap().to_string();
        assert!(error.contains("--top-sampled-reconstruction"), "{error}");
        assert!(error.contains("--top-mean-field-reconstruction"), "{error}");
    }
}
