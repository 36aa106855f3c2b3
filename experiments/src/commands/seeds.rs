//! A recipe's figure over seeds: mean and standard error of every number
//! in the finished runs' `result.json`.
//!
//! cargo run --release -- seeds runs/classify-paper-seed1 runs/classify-paper-seed2 runs/classify-paper-seed3
use std::path::PathBuf;

use crate::runs::seeds::summarise_seeds;

/// Mean and standard error over finished runs of one recipe.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run directories of one recipe (their config.json may differ only in
    /// seeds), each finished (with its result.json).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// A top-level field of config.json that may differ between the runs
    /// (besides seeds), e.g. `pretrained_lower` for a run that reused
    /// another run's lower layers; repeatable.
    #[arg(long = "may-differ", value_name = "FIELD")]
    may_differ: Vec<String>,
    /// Print the summary as JSON (runs, seeds, and per number its mean,
    /// sd, standard error and values; sd and standard error `null` for one
    /// run) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let summary = summarise_seeds(&args.runs, &args.may_differ)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    // A run without a seed in its configuration shows as "-".
    let seeds: Vec<String> = summary
        .seeds
        .iter()
        .map(|seed| seed.map_or("-".into(), |s| s.to_string()))
        .collect();
    println!("{} runs (seeds {})", summary.runs.len(), seeds.join(", "));
    println!("{:<48} {:>12} {:>10}  values", "field", "mean", "+- SE");
    for (name, field) in &summary.fields {
        let values: Vec<String> = field.values.iter().map(|v| format!("{v:.4}")).collect();
        // One run has no standard error: "-", not 0.
        let standard_error = field
            .standard_error
            .map_or("-".into(), |se| format!("{se:.4}"));
        println!(
            "{name:<48} {:>12.4} {standard_error:>10}  {}",
            field.mean,
            values.join(" ")
        );
    }
    Ok(())
}
