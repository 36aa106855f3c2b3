//! The generative DBN of Hinton, Osindero & Teh (2006) on MNIST: greedy
//! layers without labels, a top RBM over [features, 10 softmax labels],
//! contrastive wake-sleep (up-down), generation and free-energy classification.
//!
//! cargo run --release -p experiments --bin mnist-generative -- --preset quick --out runs/generative-quick
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use burn::train::Interrupter;
use clap::Parser;

use dbn::{
    GenerativeDbn, SampleStart, StackConfig, UpDownConfig, load_classifier, load_generative,
    one_hot_rows, save_generative,
};
use experiments::classify_run::PretrainedSource;
use experiments::dashboard::dashboard;
use experiments::data::{DataSpec, labelled, train_and_valid};
use experiments::images::write_grid;
use experiments::pretrain_run::pretrain_with_checkpoints;
use experiments::rbm_run::tensor_rows;
use experiments::run_dir::RunDir;
use rbm::{RbmConfig, Sampler, TrainConfig, UnitKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Preset {
    /// 5 CD epochs per lower layer, 10 for the top RBM, 3 epochs of up-down
    /// (Gibbs steps 3, 6, 10); samples after 1,000 Gibbs steps: under 10
    /// minutes on 2 cores.
    Quick,
    /// HOT 2006: 30 CD epochs per layer (the top RBM with CD-5), then 300
    /// epochs of up-down with 3, 6 and then 10 Gibbs steps per update, 10
    /// more on all 60,000 from the best validation epoch; samples after
    /// 5,000 Gibbs steps (many hours on 2 cores).
    Paper,
}

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

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Train the generative DBN of Hinton, Osindero & Teh (2006) on MNIST"
)]
struct Args {
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// CD epochs of each lower layer (784-500, 500-500).
    #[arg(long)]
    lower_epochs: Option<usize>,
    /// CD epochs of the top RBM (510-2000).
    #[arg(long)]
    top_epochs: Option<usize>,
    /// Gibbs steps of the top RBM's CD-k (lower layers use CD-1). Longer
    /// chains give it a much better free-energy classifier: on the paper
    /// run's features, 20 epochs reach 2.38% validation error with CD-5
    /// against 5.26% after 10 epochs (4.23% after 30) with CD-1.
    #[arg(long)]
    top_cd_k: Option<usize>,
    /// Up-down epochs (with --resume: continue a finished or interrupted
    /// run up to this many, keeping its Gibbs schedule).
    #[arg(long)]
    updown_epochs: Option<usize>,
    /// Up-down epochs on all 60,000 training images after the best
    /// validation epoch, as HOT 2006's final net [quick: 0, paper: 10].
    #[arg(long)]
    final_epochs: Option<usize>,
    /// Up-down learning rate.
    #[arg(long, default_value_t = 0.01)]
    updown_lr: f64,
    /// Gibbs steps per generated sample [quick: 1,000, paper: 5,000 (HOT
    /// 2006 ran 1,000 between consecutive samples of one chain); with
    /// --resume: the run's, unless given].
    #[arg(long)]
    sample_steps: Option<usize>,
    /// Where the sampling chains start [default: random-features; with
    /// --resume: the run's, unless given].
    #[arg(long, value_enum)]
    sample_start: Option<StartArg>,
    /// Samples per class in samples.png.
    #[arg(long, default_value_t = 10)]
    samples_per_class: usize,
    /// Take the lower layers from this stack (e.g. mnist-classify's
    /// `pretrained.safetensors`; its first two layers, 784-500-500) instead
    /// of training them.
    #[arg(long, conflicts_with = "lower_epochs")]
    pretrained_lower: Option<PathBuf>,
    /// A classifier from mnist-classify (its model.safetensors) that also
    /// labels the clamped samples.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Use only the first N of the 50,000 training images.
    #[arg(long)]
    train_rows: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "runs/mnist-generative")]
    out: PathBuf,
    /// Continue the run in --out from its checkpoints with its config.json;
    /// only --updown-epochs, --final-epochs, --sample-steps, --sample-start
    /// and --classifier may be given with it.
    #[arg(long)]
    resume: bool,
    /// Delete the run in --out first (a fresh run refuses a non-empty --out).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunConfig {
    /// The data set (left out of the file for MNIST).
    #[serde(default, skip_serializing_if = "DataSpec::is_mnist")]
    data: DataSpec,
    preset: Preset,
    lower: StackConfig,
    top: StackConfig,
    updown: UpDownConfig,
    train_rows: usize,
    sample_steps: usize,
    /// Absent in runs from before it could be chosen.
    #[serde(default)]
    sample_start: SampleStart,
    /// Up-down epochs on all training images (validation ones included)
    /// after the best validation epoch (absent in older runs: none).
    #[serde(default)]
    final_epochs: usize,
    samples_per_class: usize,
    seed: u64,
    /// The lower layers were given (`--pretrained-lower`): file and hash.
    #[serde(default)]
    pretrained_lower: Option<PretrainedSource>,
}

impl RunConfig {
    /// What makes the run this run: everything but what `--resume` may
    /// change (the number of up-down and final epochs and the sampling).
    fn identity(&self) -> RunConfig {
        RunConfig {
            updown: UpDownConfig {
                epochs: 0,
                ..self.updown.clone()
            },
            final_epochs: 0,
            sample_steps: 0,
            sample_start: SampleStart::default(),
            ..self.clone()
        }
    }

    fn validate(&self) -> Result<(), Box<dyn std::error::Error>> {
        self.lower.validate()?;
        self.top.validate()?;
        self.updown.validate()?;
        let pixels = self.data.pixels();
        if self.lower.sizes().first() != Some(&pixels) {
            return Err(format!("the lower layers must start at the {pixels} pixels").into());
        }
        let features = *self.lower.sizes().last().expect("validated: layers");
        let visible = features + self.data.classes;
        if self.top.sizes().first() != Some(&visible) {
            return Err(format!("the top RBM must have {visible} visible units").into());
        }
        if self.sample_steps == 0 {
            return Err("sample_steps must be at least 1".into());
        }
        if self.samples_per_class == 0 {
            return Err("samples_per_class must be at least 1".into());
        }
        let available = self.data.train_rows();
        if self.train_rows == 0 || self.train_rows > available {
            return Err(format!(
                "train_rows must be in 1..={available}, found {}",
                self.train_rows
            )
            .into());
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct UpDownState {
    epochs_done: usize,
    /// The epoch with the lowest validation error so far (its model is
    /// `updown-best.safetensors`); absent in runs from before it was kept.
    #[serde(default)]
    best: Option<BestEpoch>,
    /// Epochs of the final pass on all training images done (model:
    /// `updown-final.safetensors`).
    #[serde(default)]
    final_done: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct BestEpoch {
    epoch: usize,
    valid_error_percent: f64,
}

/// Clamped chains per digit for the clamped-sample accuracy.
const CHECKED_PER_CLASS: usize = 100;

const BINARY: &str = "mnist-generative";
/// The name of up-down's commits.
const UPDOWN: &str = "updown";

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let (args, matches) = experiments::cli::parse::<Args>();
    experiments::report(run(args, &matches))
}

fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    // Flags, configuration and run directory are checked before any data is read.
    let device = args.common.device.select()?;
    let (run, config, data) = if args.resume {
        experiments::cli::reject_on_resume::<Args>(
            matches,
            &[
                "updown_epochs",
                "final_epochs",
                "sample_steps",
                "sample_start",
                "classifier",
            ],
        )?;
        let (mut run, mut config): (RunDir, RunConfig) = RunDir::resume(&args.out, BINARY)?;
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
        config.validate()?;
        run.confirm(BINARY, &config.identity())?;
        run.write_json("config.json", &config)?;
        let data = args.common.data.resumed(&config.data);
        (run, config, data)
    } else {
        let data = args.common.data.prepare()?;
        let config = config_from_args(&args, &data.spec)?;
        let run = RunDir::start(
            &args.out,
            BINARY,
            &config,
            &config.identity(),
            args.overwrite,
        )?;
        (run, config, data)
    };
    let (mnist, line) = data.load()?;
    println!("{line}");
    let classes = mnist.classes;
    let image = mnist.image_size();
    let (train, valid) = train_and_valid(&mnist, config.train_rows, config.data.valid_rows())?;
    let test = labelled(&mnist.test, classes, "test images")?;
    let (train_images, train_labels) = train.tensors(&device);
    let (valid_images, valid_labels) = valid.tensors(&device);
    let (test_images, test_labels) = test.tensors(&device);
    let one_hot = |labels: &[u8]| {
        let labels: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
        one_hot_rows(&labels, classes, &device)
    };
    let train_one_hot = one_hot(train.labels())?;
    drop(train_labels);

    let interrupter = Interrupter::new();
    let (mut renderer, _records) = dashboard(&interrupter, Some((run.clone(), "metrics.jsonl")));
    // 1. Lower layers, without labels.
    if let Some(source) = &config.pretrained_lower
        && experiments::pretrain_run::adopt_pretrained(&run, source, &config.lower, &device)?
    {
        println!("lower layers from {}", source.path.display());
    }
    let Some(lower) = pretrain_with_checkpoints(
        &run,
        &config.lower,
        &train_images,
        Some(&valid_images),
        renderer.as_mut(),
        &interrupter,
    )?
    else {
        println!("interrupted; continue with --resume");
        return Ok(());
    };
    // 2. The top RBM on [features, labels].
    let features = lower.features(train_images.clone());
    let joint = Tensor::cat(vec![features, train_one_hot.clone()], 1);
    let top_dir = run.subdir("top")?;
    let Some(top) = pretrain_with_checkpoints(
        &top_dir,
        &config.top,
        &joint,
        None,
        renderer.as_mut(),
        &interrupter,
    )?
    else {
        println!("interrupted; continue with --resume");
        return Ok(());
    };
    drop(renderer);
    let greedy = GenerativeDbn::from_greedy(&lower, top.layers[0].clone())?;
    save_generative(&greedy, &run.file("greedy.safetensors"))?;
    let greedy_test_error = 100.0 * greedy.error_rate(&test_images, &test_labels, 1000);
    let greedy_valid_error = 100.0 * greedy.error_rate(&valid_images, &valid_labels, 1000);
    println!(
        "greedy DBN: generative classification error {greedy_valid_error:.2}% (validation), {greedy_test_error:.2}% (test); {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );

    // 3. Up-down, a checkpoint after every epoch.
    // The model of the epoch with the lowest validation error is kept
    // beside the last one: it is the one tested, as HOT's "best validation
    // net". (A run from before this was kept starts its search at its last
    // epoch.)
    run.subdir("updown")?;
    let (mut model, mut state, mut best_file) = match run.last_commit(UPDOWN)? {
        Some(commit) => {
            let state: UpDownState = serde_json::from_value(commit.step.clone())?;
            let model_file = run
                .committed(&commit, "model")
                .ok_or("up-down commit without a model")?;
            let best_file = run
                .committed(&commit, "best")
                .ok_or("up-down commit without a best model")?;
            (load_generative(&model_file, &device)?, state, best_file)
        }
        None => {
            let best_file = run.file("updown/best-0.safetensors");
            save_generative(&greedy, &best_file)?;
            let best = BestEpoch {
                epoch: 0,
                valid_error_percent: greedy_valid_error,
            };
            let state = UpDownState {
                epochs_done: 0,
                best: Some(best),
                final_done: 0,
            };
            (greedy, state, best_file)
        }
    };
    let relative = |path: &std::path::Path| -> String {
        path.strip_prefix(&run.path)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    };
    while state.epochs_done < config.updown.epochs {
        let metrics = model
            .up_down_epoch(
                &train_images,
                &train_one_hot,
                &config.updown,
                state.epochs_done,
                |_, _| {},
            )
            .map_err(|e| {
                format!(
                    "{e}; the last good checkpoint (up-down epoch {}) is kept in {}",
                    state.epochs_done,
                    run.path.display()
                )
            })?;
        state.epochs_done += 1;
        state.final_done = 0; // a final pass starts again from the new choice
        let valid_error = 100.0 * model.error_rate(&valid_images, &valid_labels, 1000);
        println!(
            "up-down epoch {:>3}/{}  Gibbs steps {}  wake recon {:.4}  sleep prediction {:.4}  valid error {valid_error:.2}%  {:.0} s",
            metrics.epoch,
            config.updown.epochs,
            metrics.gibbs_steps,
            metrics.wake_reconstruction,
            metrics.sleep_prediction,
            metrics.seconds
        );
        let model_file = format!("updown/epoch-{}.safetensors", state.epochs_done);
        save_generative(&model, &run.file(&model_file))?;
        // Ties go to the later epoch: more training at equal validation error.
        if state
            .best
            .is_none_or(|best| valid_error <= best.valid_error_percent)
        {
            best_file = run.file(&format!("updown/best-{}.safetensors", state.epochs_done));
            save_generative(&model, &best_file)?;
            state.best = Some(BestEpoch {
                epoch: state.epochs_done,
                valid_error_percent: valid_error,
            });
        }
        run.append_jsonl(
            "metrics.jsonl",
            &serde_json::json!({ "phase": "up-down", "epoch": metrics.epoch, "values": {
                "gibbs_steps": metrics.gibbs_steps, "wake_reconstruction": metrics.wake_reconstruction,
                "sleep_prediction": metrics.sleep_prediction, "valid_error_percent": valid_error,
                "seconds": metrics.seconds } }),
        )?;
        run.commit(
            UPDOWN,
            serde_json::to_value(&state)?,
            &[("model", &model_file), ("best", &relative(&best_file))],
        )?;
        // The greedy model as "best of epoch 0" is committed only while
        // no epoch has beaten it.
        if state.best.is_some_and(|b| b.epoch > 0) {
            let _ = std::fs::remove_file(run.file("updown/best-0.safetensors"));
        }
    }
    let done = state.epochs_done;
    let last_test_error = 100.0 * model.error_rate(&test_images, &test_labels, 1000);
    let best = state.best.expect("set before the loop");
    let mut model = load_generative(&best_file, &device)?;
    let best_test_error = 100.0 * model.error_rate(&test_images, &test_labels, 1000);
    println!(
        "up-down: best validation error {:.2}% at epoch {} of {done} (test {best_test_error:.2}%); last epoch's test error {last_test_error:.2}%",
        best.valid_error_percent, best.epoch
    );

    // 4. As HOT 2006 did after choosing their net by validation: more
    // up-down epochs on all the training images, validation ones included,
    // from the chosen net. Their epoch numbers come after the up-down ones,
    // so the Gibbs steps are the schedule's last and the random stream is new.
    if config.final_epochs > 0 {
        let all_images = Tensor::cat(vec![train_images.clone(), valid_images.clone()], 0);
        let all_one_hot = Tensor::cat(vec![train_one_hot.clone(), one_hot(valid.labels())?], 0);
        let committed = run.last_commit(UPDOWN)?;
        match committed.as_ref().and_then(|c| run.committed(c, "final")) {
            Some(path) if state.final_done > 0 => model = load_generative(&path, &device)?,
            _ => state.final_done = 0,
        }
        let last_model = committed
            .as_ref()
            .and_then(|c| c.files.get("model"))
            .map(|f| f.name.clone());
        while state.final_done < config.final_epochs {
            let metrics = model
                .up_down_epoch(
                    &all_images,
                    &all_one_hot,
                    &config.updown,
                    config.updown.epochs + state.final_done,
                    |_, _| {},
                )
                .map_err(|e| {
                    format!(
                        "{e}; the last good checkpoint (final pass epoch {}) is kept in {}",
                        state.final_done,
                        run.path.display()
                    )
                })?;
            state.final_done += 1;
            println!(
                "final pass epoch {}/{} on all {} images  Gibbs steps {}  wake recon {:.4}  sleep prediction {:.4}  {:.0} s",
                state.final_done,
                config.final_epochs,
                all_images.dims()[0],
                metrics.gibbs_steps,
                metrics.wake_reconstruction,
                metrics.sleep_prediction,
                metrics.seconds
            );
            let final_file = format!("updown/final-{}.safetensors", state.final_done);
            save_generative(&model, &run.file(&final_file))?;
            run.append_jsonl(
                "metrics.jsonl",
                &serde_json::json!({ "phase": "final pass", "epoch": state.final_done, "values": {
                    "gibbs_steps": metrics.gibbs_steps, "wake_reconstruction": metrics.wake_reconstruction,
                    "sleep_prediction": metrics.sleep_prediction, "seconds": metrics.seconds } }),
            )?;
            let mut files = vec![("best", relative(&best_file)), ("final", final_file)];
            if let Some(name) = &last_model {
                files.push(("model", name.clone()));
            }
            let files: Vec<(&str, &str)> = files.iter().map(|(r, f)| (*r, f.as_str())).collect();
            run.commit(UPDOWN, serde_json::to_value(&state)?, &files)?;
        }
    }
    // A resumed run may have done more final epochs than it now asks for.
    let final_pass_epochs = if config.final_epochs > 0 {
        state.final_done
    } else {
        0
    };
    let updown_test_error = if final_pass_epochs > 0 {
        let error = 100.0 * model.error_rate(&test_images, &test_labels, 1000);
        println!("after {final_pass_epochs} epochs on all training images: test error {error:.2}%");
        error
    } else {
        best_test_error
    };

    // 5. Generation: clamped samples, one chain's frames.
    // The accuracy check uses at least CHECKED_PER_CLASS chains per digit
    // (near 90%, a 1,000-sample estimate has a standard error under 1 point); the
    // grid shows the first samples_per_class of each.
    let per_class = config.samples_per_class;
    let chains_per_class = per_class.max(CHECKED_PER_CLASS);
    let requested: Vec<Option<usize>> = (0..classes)
        .flat_map(|l| vec![Some(l); chains_per_class])
        .collect();
    let mut sampler = Sampler::new(config.seed.wrapping_add(7));
    let samples = model.sample(
        &requested,
        config.sample_start,
        config.sample_steps,
        &mut sampler,
        0,
        |_, _| {},
    )?;
    let shown: Vec<Vec<f32>> = tensor_rows(samples.clone())
        .chunks(chains_per_class)
        .flat_map(|class| class[..per_class].to_vec())
        .collect();
    write_grid(
        &run.file("samples.png"),
        &shown,
        image.0,
        image.1,
        per_class,
        false,
    )?;
    let frames_dir = run.file("frames");
    run.subdir("frames")?;
    let mut frame_error = None;
    let mut movie = Vec::new();
    model.sample(
        &[Some(2)],
        config.sample_start,
        config.sample_steps,
        &mut Sampler::new(config.seed),
        10,
        |step, pixels| {
            let rows = tensor_rows(pixels);
            if let Err(e) = write_grid(
                &frames_dir.join(format!("frame-{step:05}.png")),
                &rows,
                image.0,
                image.1,
                1,
                false,
            ) {
                frame_error = Some(e);
            }
            movie.extend(rows);
        },
    )?;
    if let Some(e) = frame_error {
        return Err(e.into());
    }
    // The same frames as a movie: at most 300 of them, 10 per second.
    let every = movie.len().div_ceil(300).max(1);
    let shown: Vec<Vec<f32>> = movie.into_iter().step_by(every).collect();
    experiments::images::write_grey_gif(&run.file("frames.gif"), &shown, image.0, image.1, 4, 10)?;
    // Per digit as well: where the sampler fails is the useful part.
    let predicted: Vec<i64> = model
        .classify(samples.clone())
        .into_data()
        .try_into_vec_as::<i64>()?;
    let by_digit: Vec<f64> = predicted
        .chunks(chains_per_class)
        .enumerate()
        .map(|(digit, chunk)| {
            100.0 * chunk.iter().filter(|&&p| p == digit as i64).count() as f64 / chunk.len() as f64
        })
        .collect();
    let clamped_accuracy = by_digit.iter().sum::<f64>() / by_digit.len() as f64;
    println!(
        "clamped samples labelled as their digit by the model: {}",
        by_digit
            .iter()
            .enumerate()
            .map(|(digit, a)| format!("{digit}: {a:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let wanted: Vec<i64> = requested
        .iter()
        .map(|l| l.expect("clamped") as i64)
        .collect();
    let wanted = Tensor::<1, Int>::from_data(TensorData::new(wanted, [requested.len()]), &device);
    let classifier_accuracy = match &args.classifier {
        Some(path) => {
            let classifier = load_classifier(path, &device)?;
            Some(100.0 * (1.0 - classifier.error_rate(&samples, &wanted, 1000)))
        }
        None => None,
    };
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    run.write_json("result.json", &serde_json::json!({
        "greedy_test_error_percent": greedy_test_error, "greedy_valid_error_percent": greedy_valid_error,
        "updown_test_error_percent": updown_test_error, "updown_epochs": done,
        "updown_best_epoch": best.epoch, "updown_best_valid_error_percent": best.valid_error_percent,
        "updown_last_test_error_percent": last_test_error,
        "updown_best_valid_test_error_percent": best_test_error,
        "final_pass_epochs": final_pass_epochs,
        "clamped_sample_accuracy_percent": clamped_accuracy,
        "clamped_sample_accuracy_by_digit_percent": by_digit,
        "clamped_sample_accuracy_by_classifier_percent": classifier_accuracy,
        "wall_minutes": minutes,
    }))?;
    if let Err(e) =
        experiments::plots::write_learning_curves(&run, "mnist-generative: pretraining and up-down")
    {
        eprintln!("warning: learning curves not drawn: {e}");
    }
    if let Some(a) = classifier_accuracy {
        println!(
            "clamped samples labelled as their class by {}: {a:.1}%",
            args.classifier.as_ref().expect("set").display()
        );
    }
    println!("wrote {} ({minutes:.1} min)", run.path.display());
    println!("greedy_test_error={greedy_test_error:.2}");
    println!("updown_test_error={updown_test_error:.2}");
    println!("clamped_sample_accuracy={clamped_accuracy:.1}");
    Ok(())
}

fn config_from_args(args: &Args, data: &DataSpec) -> Result<RunConfig, Box<dyn std::error::Error>> {
    let available = data.train_rows();
    let classes = data.classes;
    let (lower_epochs, top_epochs, top_cd_k, updown_epochs, final_epochs, sample_steps) =
        match args.preset {
            Preset::Quick => (5, 10, 1, 3, 0, 1000),
            Preset::Paper => (30, 30, 5, 300, 10, 5000),
        };
    let cd = |epochs| {
        TrainConfig::new()
            .with_epochs(epochs)
            .with_learning_rate(0.1)
            .with_weight_decay(2e-4)
            .with_seed(args.seed)
    };
    let lower = StackConfig::uniform(
        &[data.pixels(), 500, 500],
        &cd(args.lower_epochs.unwrap_or(lower_epochs)),
    );
    lower.validate()?;
    let mut top = StackConfig::uniform(
        &[500 + classes, 2000],
        &cd(args.top_epochs.unwrap_or(top_epochs)).with_k(args.top_cd_k.unwrap_or(top_cd_k)),
    );
    top.layers[0].rbm = RbmConfig::new(500 + classes, 2000)
        .with_visible_units(UnitKind::BinaryWithSoftmax { group: classes });
    top.validate()?;
    let epochs = args.updown_epochs.unwrap_or(updown_epochs);
    let updown = UpDownConfig {
        epochs,
        batch_size: 100,
        learning_rate: args.updown_lr,
        weight_decay: 1e-5,
        gibbs_schedule: vec![(0, 3), (epochs / 3, 6), (2 * epochs / 3, 10)]
            .into_iter()
            .fold(Vec::new(), |mut acc: Vec<(usize, usize)>, step| {
                if acc.last().is_none_or(|last| last.0 < step.0) {
                    acc.push(step);
                }
                acc
            }),
        seed: args.seed,
    };
    let pretrained_lower = args
        .pretrained_lower
        .as_deref()
        .map(PretrainedSource::from_path)
        .transpose()?;
    if args.train_rows == Some(0) {
        return Err("--train-rows must be at least 1".into());
    }
    let config = RunConfig {
        data: data.clone(),
        preset: args.preset,
        lower,
        top,
        updown,
        train_rows: args.train_rows.unwrap_or(available).min(available),
        sample_steps: args.sample_steps.unwrap_or(sample_steps),
        sample_start: args.sample_start.map(Into::into).unwrap_or_default(),
        final_epochs: args.final_epochs.unwrap_or(final_epochs),
        samples_per_class: args.samples_per_class,
        seed: args.seed,
        pretrained_lower,
    };
    config.validate()?;
    Ok(config)
}
