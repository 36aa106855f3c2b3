//! Few labels (lecture 14b): a DBN pretrained on all 50,000 training
//! images without labels, fine-tuned with only N labelled ones, against the
//! same network from a random initialisation; test error against N.
//!
//! cargo run --release -p experiments --bin few-labels -- --preset quick --out runs/few-labels
use std::path::PathBuf;

use burn::train::Interrupter;
use clap::Parser;
use dbn::FinetuneConfig;
use experiments::dashboard::dashboard;
use experiments::data::labelled;
use experiments::few_labels::{
    FewLabelsConfig, balanced_subset, load_unit, pretrained_stack, repeated_subset, run_unit,
    unit_name,
};
use experiments::study::{Arm, mean_std};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Preset {
    /// 784-500-500, 5 CD epochs per layer, N in {100, 600, 1000, 3000, all},
    /// 3 seeds, 10 fine-tuning epochs of at least 10,000 rows.
    Quick,
    /// 784-500-500-2000, 50 CD epochs per layer (the classifier's paper
    /// recipe), the same N, 10 seeds, 30 fine-tuning epochs.
    Paper,
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Test error against the number of labelled images, with and without pretraining"
)]
struct Args {
    #[arg(long, value_enum, default_value_t = Preset::Quick)]
    preset: Preset,
    /// Labelled images, comma-separated multiples of the number of classes
    /// (10 for MNIST), or `all` [100,600,1000,3000,all].
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Runs per arm and N; seeds 1..=N [preset's].
    #[arg(long)]
    seeds: Option<u64>,
    /// Fine-tuning epochs [preset's].
    #[arg(long)]
    epochs: Option<usize>,
    /// Output directory (a fresh sweep refuses a non-empty one).
    #[arg(long, default_value = "runs/few-labels")]
    out: PathBuf,
    /// Continue the sweep in --out (committed runs are kept).
    #[arg(long)]
    resume: bool,
    /// Delete the sweep in --out first.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    #[command(flatten)]
    common: experiments::CommonArgs,
}

const BINARY: &str = "few-labels";

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    let (args, matches) = experiments::cli::parse::<Args>();
    experiments::run_on_workers(|| run(args, &matches))
}

fn config_from_args(
    args: &Args,
    data: &experiments::data::DataSpec,
) -> Result<FewLabelsConfig, Box<dyn std::error::Error>> {
    let (hidden, cd_epochs, seeds, epochs) = match args.preset {
        Preset::Quick => (vec![500, 500], 5, 3, 10),
        Preset::Paper => (vec![500, 500, 2000], 50, 10, 30),
    };
    let label_counts = match &args.labels {
        Some(values) => values
            .iter()
            .map(|v| match v.as_str() {
                "all" => Ok(None),
                n => n
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| format!("--labels: `{n}` is neither a number nor `all`")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![Some(100), Some(600), Some(1000), Some(3000), None],
    };
    let config = FewLabelsConfig {
        data: data.clone(),
        label_counts,
        seeds: (1..=args.seeds.unwrap_or(seeds)).collect(),
        hidden,
        train_rows: data.train_rows(),
        pretrain: experiments::classify_run::paper_cd_recipe(cd_epochs),
        finetune: FinetuneConfig {
            max_epochs: args.epochs.unwrap_or(epochs),
            patience: None,
            ..FinetuneConfig::default()
        },
    };
    config.validate()?;
    Ok(config)
}

fn run(args: Args, matches: &clap::ArgMatches) -> Result<(), Box<dyn std::error::Error>> {
    let device = args.common.device.select()?;
    let (run, config, set, line) = experiments::cli::open_data_run::<Args, FewLabelsConfig, _>(
        matches,
        BINARY,
        &args.out,
        args.resume,
        args.overwrite,
        &[],
        &args.common.data,
        |data| config_from_args(&args, data),
        FewLabelsConfig::validate,
        |config| &config.data,
    )?;
    println!("{line}");
    let classes = set.classes;
    let all = labelled(
        &set.train.range(0, config.train_rows),
        classes,
        "training images",
    )?;
    let test = labelled(&set.test, classes, "test images")?;
    let (images, _) = all.tensors(&device);
    let interrupter = Interrupter::new();
    let (mut renderer, records) = dashboard(&interrupter, Some((run.clone(), "metrics.jsonl")));
    for &seed in &config.seeds {
        let mut stack = None;
        for &labels in &config.label_counts {
            let indices = match labels {
                Some(n) => balanced_subset(all.labels(), n, classes, seed)?,
                None => (0..all.len()).collect(),
            };
            let subset = repeated_subset(&all, &indices, classes)?;
            for arm in Arm::BOTH {
                let name = unit_name(labels, seed, arm);
                if load_unit(&run, &name)?.is_some() {
                    continue;
                }
                if arm == Arm::Pretrained && stack.is_none() {
                    stack = pretrained_stack(
                        &run,
                        &config,
                        seed,
                        &images,
                        renderer.as_mut(),
                        &interrupter,
                    )?;
                    if stack.is_none() {
                        println!("interrupted; continue with --resume");
                        return Ok(());
                    }
                }
                let from = if arm == Arm::Pretrained {
                    stack.as_ref()
                } else {
                    None
                };
                let (result, back) = run_unit(
                    &run,
                    &config,
                    labels,
                    seed,
                    from,
                    &subset,
                    &test,
                    &device,
                    renderer,
                    &records,
                    &interrupter,
                )?;
                renderer = back;
                let Some(result) = result else {
                    println!("interrupted; continue with --resume");
                    return Ok(());
                };
                println!(
                    "{name}: test error {:.2}% ({:.0} s)",
                    result.test_error_percent, result.seconds
                );
            }
        }
    }
    drop(renderer);
    // The table, the plot and the last lines.
    let mut rows = Vec::new();
    let mut last = Vec::new();
    println!(
        "\n| labelled images | pretrained: test error, mean +- sd (n = {}) | random init |",
        config.seeds.len()
    );
    println!("|---|---|---|");
    for &labels in &config.label_counts {
        let errors = |arm| -> Result<Vec<f64>, Box<dyn std::error::Error>> {
            config
                .seeds
                .iter()
                .map(|&seed| {
                    let name = unit_name(labels, seed, arm);
                    Ok(load_unit(&run, &name)?
                        .ok_or(format!("unit {name} is missing"))?
                        .test_error_percent)
                })
                .collect()
        };
        let (p, r) = (errors(Arm::Pretrained)?, errors(Arm::Random)?);
        let ((pm, ps), (rm, rs)) = (mean_std(&p), mean_std(&r));
        let n = labels.map_or("all".to_string(), |n| n.to_string());
        println!("| {n} | {pm:.2} +- {ps:.2}% | {rm:.2} +- {rs:.2}% |");
        last.push(format!("few_labels_{n}_pretrained={pm:.2}"));
        last.push(format!("few_labels_{n}_random={rm:.2}"));
        rows.push((n, p, r));
    }
    experiments::plots::plot_strips(
        &run.file("few-labels.png"),
        "Test error with N labelled images (pretraining used all images without labels)",
        "labelled training images N",
        "test error (%)",
        &rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        ("pretrained", "random initialisation"),
        &rows
            .iter()
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect::<Vec<_>>(),
    )?;
    run.write_json(
        "result.json",
        &rows
            .iter()
            .map(|(n, p, r)| serde_json::json!({ "labels": n, "pretrained": p, "random": r }))
            .collect::<Vec<_>>(),
    )?;
    println!("wrote {}", run.path.display());
    for line in last {
        println!("{line}");
    }
    Ok(())
}
