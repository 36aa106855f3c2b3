//! Pretrains a DBN on MNIST or any labelled images (`--data`; greedy CD), fine-tunes it as a classifier with
//! Burn's Learner, and reports the test error.
//!
//! cargo run --release -p experiments --bin mnist-classify -- --preset quick --out runs/classify-quick
use std::path::PathBuf;
use std::time::Instant;

use burn::train::Interrupter;
use clap::Parser;

use dbn::learner::{
    FINAL_PASS_PHASE, FINETUNE_PHASE, HEAD_PHASE, Selection, finetune, last_checkpoint,
};
use dbn::{ClassifierConfig, DbnClassifier, StackConfig, save_classifier};
use experiments::classify_run::{ClassifyPreset, ClassifyRunConfig, FirstUnits};
use experiments::dashboard::dashboard;
use experiments::data::{DataSpec, labelled, train_and_valid};
use experiments::pretrain_run::pretrain_with_checkpoints;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Pretrain a DBN on MNIST (or --data), fine-tune it with backprop, report the test error"
)]
struct Args {
    /// Recipe: `quick` (784-500-500, < 10 min) or `paper` (784-500-500-2000,
    /// Hinton & Salakhutdinov 2006). Flags below override its values.
    #[arg(long, value_enum, default_value_t = ClassifyPreset::Quick)]
    preset: ClassifyPreset,
    /// Hidden layer sizes, comma-separated (e.g. 500,500,2000).
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Start from this pretrained stack (a `pretrained.safetensors`) instead
    /// of pretraining; its sizes must match --hidden.
    #[arg(long, conflicts_with_all = ["no_pretrain", "pretrain_epochs", "pretrain_lr", "cd_k", "sampled_propagation"])]
    pretrained: Option<PathBuf>,
    /// Skip pretraining: the same network from a random initialisation (baseline).
    #[arg(long, conflicts_with_all = ["pretrain_epochs", "pretrain_lr", "cd_k", "sampled_propagation"])]
    no_pretrain: bool,
    /// CD epochs per layer.
    #[arg(long)]
    pretrain_epochs: Option<usize>,
    /// CD learning rate.
    #[arg(long)]
    pretrain_lr: Option<f64>,
    /// Gibbs steps of CD-k.
    #[arg(long)]
    cd_k: Option<usize>,
    /// Unit type of the first layer: binary, nrelu, stepped or gaussian.
    #[arg(long, value_enum, default_value_t = FirstUnits::Binary)]
    first_units: FirstUnits,
    /// Train layer 2 and up on sampled binary states instead of probabilities.
    #[arg(long)]
    sampled_propagation: bool,
    /// Most fine-tuning epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Fine-tuning learning rate of the first epoch.
    #[arg(long)]
    lr: Option<f64>,
    /// Factor by which the fine-tuning learning rate shrinks per epoch.
    #[arg(long)]
    lr_decay: Option<f64>,
    /// Fine-tuning momentum.
    #[arg(long)]
    momentum: Option<f64>,
    /// Fine-tuning L2 penalty.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Fine-tuning mini-batch size.
    #[arg(long)]
    batch: Option<usize>,
    /// Epochs that train only the softmax head before fine-tuning all layers.
    #[arg(long)]
    head_epochs: Option<usize>,
    /// Fine-tuning dropout probability of the input pixels.
    #[arg(long)]
    input_dropout: Option<f64>,
    /// Fine-tuning dropout probability of the hidden units.
    #[arg(long)]
    hidden_dropout: Option<f64>,
    /// Stop after this many epochs without a better validation error (0: never).
    #[arg(long)]
    patience: Option<usize>,
    /// After early stopping, train the chosen model this many more epochs on
    /// all training images (validation included), at the learning
    /// rate of the chosen epoch; the result is the last epoch's model.
    /// Default: the preset's (10 for paper, 0 for quick).
    #[arg(long)]
    final_epochs: Option<usize>,
    /// Use only the first N training images (of 50,000 for MNIST: the last
    /// sixth of the training split is kept for validation).
    #[arg(long)]
    train_rows: Option<usize>,
    /// Seed of all initialisation, shuffling and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "runs/mnist-classify")]
    out: PathBuf,
    /// Continue the run in --out from its checkpoints with its config.json
    /// (flags that would change it are refused).
    #[arg(long)]
    resume: bool,
    /// Delete the run in --out first (a fresh run refuses a non-empty --out).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

const BINARY: &str = "mnist-classify";

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let (args, matches) = experiments::cli::parse::<Args>();
    experiments::report(run(args, &matches))
}

fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    // Flags, configuration and run directory are checked before any data is read.
    let device = args.common.device.select()?;
    let (run, config, set, line) = experiments::cli::open_data_run::<Args, ClassifyRunConfig, _>(
        matches,
        BINARY,
        &args.out,
        args.resume,
        args.overwrite,
        &[],
        &args.common.data,
        |data| config_from_args(&args, data),
        ClassifyRunConfig::validate,
        |config| &config.data,
    )?;
    println!("{line}");
    let classes = set.classes;
    let total = set.train.len();
    let (train, valid) = train_and_valid(&set, config.train_rows, config.valid_rows)?;
    let test = labelled(&set.test, classes, "test images")?;

    let interrupter = Interrupter::new();
    let (mut renderer, records) = dashboard(&interrupter, Some((run.clone(), "metrics.jsonl")));
    let classifier = match &config.stack {
        Some(stack_config) => {
            if let Some(source) = &config.pretrained
                && experiments::pretrain_run::adopt_pretrained(&run, source, stack_config, &device)?
            {
                println!("pretrained stack from {}", source.path.display());
            }
            let (data, _) = train.tensors(&device);
            let (held_out, _) = valid.tensors(&device);
            let Some(stack) = pretrain_with_checkpoints(
                &run,
                stack_config,
                &data,
                Some(&held_out),
                renderer.as_mut(),
                &interrupter,
            )?
            else {
                println!("interrupted during pretraining; continue with --resume");
                return Ok(());
            };
            println!(
                "pretraining done after {:.1} min",
                started.elapsed().as_secs_f64() / 60.0
            );
            DbnClassifier::from_stack(&stack, classes, config.seed)?
        }
        None => {
            let mut classifier = ClassifierConfig::new(config.layer_sizes.clone(), classes);
            // The baseline has the pretrained net's activations.
            let mut stack = StackConfig::uniform(&config.layer_sizes, &rbm::TrainConfig::new());
            config.first_units.apply(&mut stack);
            classifier.hidden_units = stack.layers.iter().map(|l| l.rbm.hidden_units).collect();
            classifier.validate()?;
            classifier.init(&device, config.seed)
        }
    };
    // A fresh run's directory was empty: any Learner checkpoint is this run's.
    let resume_from = last_checkpoint(&run.file("learner"));
    let (classifier, renderer) = if config.finetune.head_epochs > 0 && resume_from.is_none() {
        // The head alone first, at the first epoch's rate, without decay.
        let head_config = dbn::FinetuneConfig {
            max_epochs: config.finetune.head_epochs,
            lr_decay: 1.0,
            patience: None,
            ..config.finetune.clone()
        };
        let dir = run.file("learner-head");
        let resume_head = last_checkpoint(&dir);
        let head = finetune(
            classifier.with_head_only(true),
            &head_config,
            train.clone(),
            valid.clone(),
            &dir,
            resume_head,
            renderer,
            &records,
            &interrupter,
            HEAD_PHASE,
            Selection::Last,
        )?;
        (head.best.with_head_only(false), head.renderer)
    } else {
        (classifier, renderer)
    };
    let mut outcome = finetune(
        classifier,
        &config.finetune,
        train,
        valid.clone(),
        &run.file("learner"),
        resume_from,
        renderer,
        &records,
        &interrupter,
        FINETUNE_PHASE,
        Selection::BestValidation,
    )?;
    let mut result_extra = serde_json::json!({});
    let finetune_epochs = outcome.epochs_done;
    if config.final_epochs > 0 && !outcome.interrupted {
        let chosen_error = outcome.best_valid_error;
        let final_config = dbn::FinetuneConfig {
            max_epochs: config.final_epochs,
            learning_rate: config.finetune.learning_rate_at(outcome.best_epoch),
            patience: None,
            ..config.finetune.clone()
        };
        let all = labelled(&set.train.range(0, total), classes, "all training images")?;
        println!(
            "final pass: {} epochs on all {} training images from epoch {} (lr {:.4})",
            final_config.max_epochs,
            all.len(),
            outcome.best_epoch,
            final_config.learning_rate
        );
        let dir = run.file("learner-final");
        let resume_final = last_checkpoint(&dir);
        let best_epoch = outcome.best_epoch;
        outcome = finetune(
            outcome.best,
            &final_config,
            all,
            valid,
            &dir,
            resume_final,
            outcome.renderer,
            &records,
            &interrupter,
            FINAL_PASS_PHASE,
            Selection::Last,
        )?;
        result_extra = serde_json::json!({
            "final_pass_epochs": outcome.epochs_done,
            "chosen_epoch_before_final_pass": best_epoch,
            "valid_error_percent_before_final_pass": 100.0 * chosen_error,
        });
        outcome.best_valid_error = chosen_error;
        outcome.best_epoch = best_epoch;
    }
    drop(outcome.renderer); // closes the TUI before the summary lines
    save_classifier(&outcome.best, &run.file("model.safetensors"))?;
    let (images, labels) = test.tensors(&device);
    let test_error = 100.0 * outcome.best.error_rate(&images, &labels, 1000);
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let result = serde_json::json!({
        "best_epoch": outcome.best_epoch, "epochs_done": finetune_epochs,
        "valid_error_percent": 100.0 * outcome.best_valid_error,
        "test_error_percent": test_error, "wall_minutes": minutes,
        "interrupted": outcome.interrupted, "final_pass": result_extra,
    });
    run.write_json("result.json", &result)?;
    if let Err(e) = experiments::plots::write_learning_curves(
        &run,
        "mnist-classify: pretraining and fine-tuning",
    ) {
        eprintln!("warning: learning curves not drawn: {e}");
    }
    println!(
        "chosen epoch {} of {} (validation error {:.2}%){}; {:.1} min; wrote {}",
        outcome.best_epoch,
        finetune_epochs,
        100.0 * outcome.best_valid_error,
        if config.final_epochs > 0 {
            format!(", then {} epochs on all {total}", config.final_epochs)
        } else {
            String::new()
        },
        minutes,
        run.path.display()
    );
    println!("test_error={test_error:.2}");
    Ok(())
}

/// The run's configuration: the preset, then the flags, validated.
fn config_from_args(
    args: &Args,
    data: &DataSpec,
) -> Result<ClassifyRunConfig, Box<dyn std::error::Error>> {
    let available = data.train_rows();
    let preset = args.preset;
    let hidden = args.hidden.clone().unwrap_or_else(|| preset.hidden_sizes());
    let layer_sizes: Vec<usize> = std::iter::once(data.pixels()).chain(hidden).collect();
    ClassifierConfig::new(layer_sizes.clone(), data.classes).validate()?;
    let mut train = preset.pretrain().with_seed(args.seed);
    if let Some(epochs) = args.pretrain_epochs {
        train = train.with_epochs(epochs);
    }
    if let Some(lr) = args.pretrain_lr {
        train = train.with_learning_rate(lr);
    }
    if let Some(k) = args.cd_k {
        train = train.with_k(k);
    }
    let mut stack = StackConfig::uniform(&layer_sizes, &train);
    args.first_units.apply(&mut stack);
    if args.sampled_propagation {
        stack.propagation = dbn::Propagation::Sampled { seed: args.seed };
    }
    stack.validate()?;
    let mut finetune = preset.finetune();
    finetune.seed = args.seed;
    finetune.max_epochs = args.epochs.unwrap_or(finetune.max_epochs);
    finetune.learning_rate = args.lr.unwrap_or(finetune.learning_rate);
    finetune.lr_decay = args.lr_decay.unwrap_or(finetune.lr_decay);
    finetune.momentum = args.momentum.unwrap_or(finetune.momentum);
    finetune.weight_decay = args.weight_decay.unwrap_or(finetune.weight_decay);
    finetune.batch_size = args.batch.unwrap_or(finetune.batch_size);
    finetune.head_epochs = args.head_epochs.unwrap_or(finetune.head_epochs);
    finetune.dropout.input = args.input_dropout.unwrap_or(finetune.dropout.input);
    finetune.dropout.hidden = args.hidden_dropout.unwrap_or(finetune.dropout.hidden);
    if let Some(patience) = args.patience {
        finetune.patience = (patience > 0).then_some(patience);
    }
    if args.train_rows == Some(0) {
        return Err("--train-rows must be at least 1".into());
    }
    let pretrained = args
        .pretrained
        .as_deref()
        .map(experiments::classify_run::PretrainedSource::from_path)
        .transpose()?;
    let config = ClassifyRunConfig {
        data: data.clone(),
        preset,
        first_units: args.first_units,
        stack: (!args.no_pretrain).then_some(stack),
        layer_sizes,
        finetune,
        train_rows: args.train_rows.unwrap_or(available).min(available),
        final_epochs: args.final_epochs.unwrap_or(preset.final_epochs()),
        valid_rows: data.valid_rows(),
        seed: args.seed,
        device: args.common.device.device.clone(),
        pretrained,
    };
    config.validate()?;
    Ok(config)
}
