//! Pretrains a DBN on MNIST or any labelled images (`--data`; greedy CD),
//! fine-tunes it as a classifier with Burn's Learner, and reports the test
//! error (the run itself: `crate::runs::classify::train_classifier`).
//!
//! cargo run --release -- classify --preset quick --out runs/classify-quick
use std::path::PathBuf;

use clap::ArgMatches;
use dbn::{ClassifierConfig, DecayScope, StackConfig};

use crate::cli::{Invocation, RunArgs};
use crate::data::{DataSpec, PretrainImages};
use crate::runs::classify::{
    ClassifyPreset, ClassifyRunConfig, FirstUnits, KeptEpoch, PretrainRecipe, train_classifier,
};

/// Pretrain a DBN on MNIST (or --data), fine-tune it with backprop, report the test error.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Recipe: `quick` (784-500-500, < 10 min), `paper` (784-500-500-2000,
    /// Hinton & Salakhutdinov 2006's net, deepnet's long pretraining,
    /// dropout fine-tuning) or `hs` (that net pretrained and fine-tuned as
    /// H&S did). Flags below override its values.
    #[arg(long, value_enum, default_value_t = ClassifyPreset::Quick)]
    preset: ClassifyPreset,
    /// Hidden layer sizes, comma-separated (e.g. 500,500,2000).
    #[arg(long, value_delimiter = ',', value_parser = crate::cli::numbers::count)]
    hidden: Option<Vec<usize>>,
    /// Start from this pretrained stack (a `pretrained.safetensors`) instead
    /// of pretraining; its sizes must match --hidden.
    #[arg(long, conflicts_with_all = ["no_pretrain", "pretrain_recipe", "cd_epochs", "cd_lr", "cd_k", "cd_weight_decay", "cd_sparsity_target", "sampled_propagation"])]
    pretrained: Option<PathBuf>,
    /// Skip pretraining: the same network from a random initialisation (baseline).
    #[arg(long, conflicts_with_all = ["pretrain_recipe", "cd_epochs", "cd_lr", "cd_k", "cd_weight_decay", "cd_sparsity_target", "sampled_propagation"])]
    no_pretrain: bool,
    /// Pretraining recipe in place of the preset's: `rbm-m` (H&S's `rbm.m`:
    /// 50 CD-1 epochs a layer at 0.1, weight decay 2e-4; the `hs`
    /// preset's, and `paper`'s until 2026-12-05) or `deepnet` (1,000 epochs
    /// at 0.01, weight decay 1e-3, sparsity target 0.1; `paper`'s). The
    /// --cd-* flags override its values.
    #[arg(long, value_enum)]
    pretrain_recipe: Option<PretrainRecipe>,
    /// CD epochs per layer.
    #[arg(long, value_parser = crate::cli::numbers::count)]
    cd_epochs: Option<usize>,
    /// CD learning rate.
    #[arg(long, value_parser = crate::cli::numbers::rate)]
    cd_lr: Option<f64>,
    /// Gibbs steps of CD-k.
    #[arg(long, value_parser = crate::cli::numbers::count)]
    cd_k: Option<usize>,
    /// L2 weight cost of pretraining, on the weights (the presets':
    /// `rbm.m`'s 2e-4; Srivastava et al.'s `deepnet` DBN example: 1e-3).
    #[arg(long, value_parser = crate::cli::numbers::penalty)]
    cd_weight_decay: Option<f64>,
    /// Sparsity target of pretraining: the mean activation each hidden unit
    /// is pulled towards (Hinton's guide, section 11; `deepnet`: 0.1).
    /// Off unless given; needs --cd-sparsity-cost.
    #[arg(long, value_parser = crate::cli::numbers::probability, requires = "cd_sparsity_cost")]
    cd_sparsity_target: Option<f64>,
    /// Weight of the sparsity penalty (times the learning rate) on the
    /// hidden biases and weights, `cost * (q - target)`. `deepnet` divides
    /// by q (1 - q) as well: its 0.01 is about 0.11 here at q = 0.1.
    #[arg(long, value_parser = crate::cli::numbers::penalty, requires = "cd_sparsity_target")]
    cd_sparsity_cost: Option<f64>,
    /// Decay of the running mean activation q that the sparsity penalty
    /// uses (`deepnet`: 0.9).
    #[arg(long, default_value_t = 0.9, value_parser = crate::cli::numbers::decay, requires = "cd_sparsity_target")]
    cd_sparsity_decay: f64,
    /// The images pretraining learns from: `training` (the training images
    /// in use; the validation images held out) or `all` (those and the
    /// validation images: all 60,000 of MNIST, as Hinton & Salakhutdinov
    /// pretrained; fine-tuning still chooses its epoch on the validation
    /// labels, which pretraining never sees).
    #[arg(long, value_enum, default_value_t = PretrainImages::Training, conflicts_with_all = ["pretrained", "no_pretrain"])]
    pretrain_images: PretrainImages,
    /// Unit type of the first layer: binary, nrelu, stepped or gaussian.
    #[arg(long, value_enum, default_value_t = FirstUnits::Binary)]
    first_units: FirstUnits,
    /// Train layer 2 and up on sampled binary states instead of probabilities.
    #[arg(long)]
    sampled_propagation: bool,
    /// Most fine-tuning epochs.
    #[arg(long, value_parser = crate::cli::numbers::count)]
    finetune_epochs: Option<usize>,
    /// Fine-tuning learning rate of the first epoch.
    #[arg(long, value_parser = crate::cli::numbers::rate_at_most_one)]
    finetune_lr: Option<f64>,
    /// Factor by which the fine-tuning learning rate shrinks per epoch.
    #[arg(long, value_parser = crate::cli::numbers::rate_decay)]
    finetune_lr_decay: Option<f64>,
    /// Fine-tuning momentum.
    #[arg(long, value_parser = crate::cli::numbers::momentum)]
    finetune_momentum: Option<f64>,
    /// Fine-tuning L2 penalty.
    #[arg(long, value_parser = crate::cli::numbers::penalty)]
    finetune_weight_decay: Option<f64>,
    /// The parameters the fine-tuning L2 penalty reaches.
    #[arg(long, value_enum, default_value_t = DecayScopeArg::All)]
    finetune_weight_decay_on: DecayScopeArg,
    /// Fine-tuning mini-batch size.
    #[arg(long, value_parser = crate::cli::numbers::count)]
    finetune_batch: Option<usize>,
    /// Epochs that train only the softmax head before fine-tuning all layers.
    #[arg(long)]
    head_epochs: Option<usize>,
    /// Fine-tuning dropout probability of the input pixels.
    #[arg(long, value_parser = crate::cli::numbers::dropout)]
    input_dropout: Option<f64>,
    /// Fine-tuning dropout probability of the hidden units.
    #[arg(long, value_parser = crate::cli::numbers::dropout)]
    hidden_dropout: Option<f64>,
    /// Fine-tune by conjugate gradients (Hinton & Salakhutdinov's
    /// `backpropclassify.m`) with this many line searches on each batch,
    /// instead of SGD; the `hs` preset's is 3.
    #[arg(long, value_parser = crate::cli::numbers::count)]
    line_searches: Option<usize>,
    /// Stop after this many epochs without a better validation error (0: never).
    #[arg(long)]
    patience: Option<usize>,
    /// The fine-tuning epoch that goes on to the final pass (or the test):
    /// `best` on validation, or `last` (no choice on validation, as H&S;
    /// needs --patience 0). Default: the preset's (last for hs, best for
    /// quick and paper).
    #[arg(long, value_enum)]
    finetune_keep: Option<KeptEpoch>,
    /// After early stopping, train the chosen model this many more epochs on
    /// the training images in use and the validation images together (all
    /// 60,000 of MNIST unless --train-rows leaves some out), at the learning
    /// rate of the chosen epoch; the result is the last epoch's model.
    /// Default: the preset's (10 for paper, 195 for hs, 0 for quick).
    #[arg(long)]
    final_epochs: Option<usize>,
    /// Use only the first N training images (of 50,000 for MNIST: the last
    /// sixth of the training split is kept for validation).
    #[arg(long)]
    train_rows: Option<usize>,
    /// Seed of all initialisation, shuffling and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    common: crate::cli::CommonArgs,
}

/// The command-line spelling of [`DecayScope`].
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DecayScopeArg {
    /// Every parameter, biases too (Burn's SGD weight decay).
    All,
    /// The weight matrices only, not the biases (Hinton's `rbm.m`,
    /// Srivastava et al.'s `deepnet`).
    Weights,
}

impl From<DecayScopeArg> for DecayScope {
    fn from(scope: DecayScopeArg) -> Self {
        match scope {
            DecayScopeArg::All => DecayScope::All,
            DecayScopeArg::Weights => DecayScope::Weights,
        }
    }
}

pub fn run(args: Args, matches: &ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    // Flags, configuration and run directory are checked before any data is read.
    let device = args.common.device.select()?;
    let (run, config, set, line) = Invocation::new::<Args>("classify", matches).open_with_data(
        &args.run,
        &args.common.data,
        |data| config_from_args(&args, data),
    )?;
    println!("{line}");
    train_classifier(&run, &config, &set, &device, &mut |line| println!("{line}"))?
        .announce_interruption();
    Ok(())
}
/// The run's configuration: the preset, then the flags, validated.
fn config_from_args(
    args: &Args,
    data: &DataSpec,
) -> Result<ClassifyRunConfig, Box<dyn std::error::Error>> {
    let preset = args.preset;
    let hidden = args.hidden.clone().unwrap_or_else(|| preset.hidden_sizes());
    let layer_sizes = data.layer_sizes(&hidden);
    ClassifierConfig::new(layer_sizes.clone(), data.classes).validate()?;
    let mut train = args
        .pretrain_recipe
        .map_or_else(|| preset.pretrain(), PretrainRecipe::train_config)
        .with_seed(args.seed);
    if let Some(epochs) = args.cd_epochs {
        train = train.with_epochs(epochs);
    }
    if let Some(lr) = args.cd_lr {
        train = train.with_learning_rate(lr);
    }
    if let Some(k) = args.cd_k {
        train = train.with_k(k);
    }
    if let Some(weight_decay) = args.cd_weight_decay {
        train = train.with_weight_decay(weight_decay);
    }
    if let (Some(target), Some(cost)) = (args.cd_sparsity_target, args.cd_sparsity_cost) {
        train = train.with_sparsity(Some(rbm::SparsityConfig {
            target,
            cost,
            decay: args.cd_sparsity_decay,
        }));
    }
    let mut stack = StackConfig::uniform(&layer_sizes, &train);
    args.first_units.apply(&mut stack);
    if args.sampled_propagation {
        stack.propagation = dbn::Propagation::Sampled { seed: args.seed };
    }
    stack.validate()?;
    let mut finetune = preset.finetune();
    finetune.seed = args.seed;
    finetune.max_epochs = args.finetune_epochs.unwrap_or(finetune.max_epochs);
    finetune.learning_rate = args.finetune_lr.unwrap_or(finetune.learning_rate);
    finetune.lr_decay = args.finetune_lr_decay.unwrap_or(finetune.lr_decay);
    finetune.momentum = args.finetune_momentum.unwrap_or(finetune.momentum);
    finetune.weight_decay = args.finetune_weight_decay.unwrap_or(finetune.weight_decay);
    finetune.weight_decay_scope = args.finetune_weight_decay_on.into();
    finetune.batch_size = args.finetune_batch.unwrap_or(finetune.batch_size);
    finetune.head_epochs = args.head_epochs.unwrap_or(finetune.head_epochs);
    finetune.dropout.input = args.input_dropout.unwrap_or(finetune.dropout.input);
    finetune.dropout.hidden = args.hidden_dropout.unwrap_or(finetune.dropout.hidden);
    if let Some(patience) = args.patience {
        finetune.patience = (patience > 0).then_some(patience);
    }
    if let Some(line_searches) = args.line_searches {
        finetune.method = dbn::FinetuneMethod::ConjugateGradient { line_searches };
    }
    if args.train_rows == Some(0) {
        return Err("--train-rows must be at least 1".into());
    }
    let pretrained = args
        .pretrained
        .as_deref()
        .map(crate::runs::pretrain::PretrainedSource::from_path)
        .transpose()?;
    let config = ClassifyRunConfig {
        data: data.clone(),
        preset,
        first_units: args.first_units,
        stack: (!args.no_pretrain).then_some(stack),
        pretrain_images: args.pretrain_images,
        layer_sizes,
        finetune,
        train_rows: data.train_rows_flag(args.train_rows)?,
        final_epochs: args.final_epochs.unwrap_or(preset.final_epochs()),
        keep: args.finetune_keep.unwrap_or(preset.keep()),
        valid_rows: data.valid_rows(),
        seed: args.seed,
        device: args.common.device.device.clone(),
        pretrained,
    };
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags `words` (after the subcommand's name) as parsed.
    fn parse(words: &[&str]) -> Result<Args, clap::Error> {
        let all: Vec<&str> = ["classify"].iter().chain(words).copied().collect();
        crate::cli::parse_subcommand(&all)
    }

    /// The pretraining of every layer that `flags` give.
    fn pretraining(flags: &[&str]) -> Vec<rbm::TrainConfig> {
        let words: Vec<&str> = ["--out", "unused"].iter().chain(flags).copied().collect();
        let args = parse(&words).unwrap();
        let config = config_from_args(&args, &DataSpec::mnist()).unwrap();
        let stack = config.stack.expect("a pretrained stack");
        stack.layers.into_iter().map(|layer| layer.train).collect()
    }

    /// The `paper` preset pretrains as the `deepnet-stack` runs that chose
    /// its recipe (`scripts/headline-runs.sh`: `rbm.m`'s recipe with
    /// deepnet's flags), so their figures are the preset's; `--pretrain-recipe
    /// rbm-m` gives back its pretraining before 2026-12-05, the `hs` preset's.
    #[test]
    fn the_paper_preset_pretrains_as_the_deepnet_stack_runs() {
        let paper = pretraining(&["--preset", "paper", "--seed", "3"]);
        let deepnet_stack_runs = pretraining(&[
            "--preset",
            "paper",
            "--seed",
            "3",
            "--pretrain-recipe",
            "rbm-m",
            "--cd-epochs",
            "1000",
            "--cd-lr",
            "0.01",
            "--cd-weight-decay",
            "0.001",
            "--cd-sparsity-target",
            "0.1",
            "--cd-sparsity-cost",
            "0.11",
        ]);
        assert_eq!(paper.len(), 3);
        assert_eq!(paper, deepnet_stack_runs);
        let first = &paper[0];
        assert_eq!(
            (first.epochs, first.k, first.learning_rate),
            (1000, 1, 0.01)
        );
        assert_eq!(first.weight_decay, 1e-3);
        assert_eq!(first.sparsity.as_ref().map(|s| s.target), Some(0.1));

        let before = pretraining(&["--preset", "paper", "--pretrain-recipe", "rbm-m"]);
        assert_eq!(before, pretraining(&["--preset", "hs"]));
        assert_eq!((before[0].epochs, before[0].learning_rate), (50, 0.1));
        assert_eq!(before[0].sparsity, None);
        assert_eq!(pretraining(&["--preset", "quick"])[0].epochs, 5);
    }

    /// A recipe for a stack that is given or skipped would be ignored:
    /// refused, naming both flags.
    #[test]
    fn a_pretraining_recipe_without_pretraining_is_refused() {
        for other in [
            &["--pretrained", "stack.safetensors"][..],
            &["--no-pretrain"],
        ] {
            let words: Vec<&str> = ["--out", "unused", "--pretrain-recipe", "deepnet"]
                .into_iter()
                .chain(other.iter().copied())
                .collect();
            let error = parse(&words).err().unwrap().to_string();
            assert!(error.contains("--pretrain-recipe"), "{error}");
            assert!(error.contains(other[0]), "{error}");
        }
    }
}
