//! A headline figure over seeds: the finished runs of one recipe, their
//! `result.json` numbers side by side, with the mean and its standard
//! error for every number all of them report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::run_dir::{CONFIG_FILE, read_json};
use crate::runs::function_space::{mean_std, standard_error};

/// Why runs cannot be summarised.
#[derive(Debug, thiserror::Error)]
pub enum SeedsError {
    #[error("no run directories given")]
    NoRuns,
    #[error("{dir} is given twice: each run counts once")]
    RepeatedRun { dir: PathBuf },
    #[error(
        "{dir} and {other} are the same recipe with the same seed {seed}: one run counted twice, not two seeds"
    )]
    RepeatedSeed {
        dir: PathBuf,
        other: PathBuf,
        seed: u64,
    },
    #[error("{dir}: no result.json (the run has not finished)")]
    Unfinished { dir: PathBuf },
    #[error("{path}: {message}")]
    BadResult { path: PathBuf, message: String },
    #[error(
        "{dir} and {other} are runs of different recipes: their config.json differ in {differences} (besides the seed)"
    )]
    OtherRecipe {
        dir: PathBuf,
        other: PathBuf,
        differences: String,
    },
}

/// One number over the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldSummary {
    pub mean: f64,
    /// Sample standard deviation over the runs; none for one run, which
    /// has no spread to measure (`null` in JSON).
    pub sd: Option<f64>,
    /// `sd / sqrt(runs)`; none for one run.
    pub standard_error: Option<f64>,
    /// Each run's value, in the order the runs were given.
    pub values: Vec<f64>,
}

/// The summary of runs of one recipe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedsSummary {
    pub runs: Vec<PathBuf>,
    /// Each run's seed from its config.json, where it has one: the
    /// `seed` field that differs between the runs (`train.seed` of a
    /// `train-rbm` run), else the top-level one.
    pub seeds: Vec<Option<u64>>,
    /// Every top-level number that all the runs' result.json hold.
    pub fields: BTreeMap<String, FieldSummary>,
}

/// Summarises the finished runs in `dirs`: they must be runs of one
/// recipe (their config.json equal but for the seed, when they have one,
/// and the top-level fields named in `may_differ`).
///
/// # Errors
/// [`SeedsError`]: no runs, an unfinished run, an unreadable result or
/// config, runs of different recipes.
pub fn summarise_seeds(
    dirs: &[PathBuf],
    may_differ: &[String],
) -> Result<SeedsSummary, SeedsError> {
    let first = dirs.first().ok_or(SeedsError::NoRuns)?;
    if let Some((_, later)) = super::first_repeat(dirs) {
        return Err(SeedsError::RepeatedRun {
            dir: dirs[later].clone(),
        });
    }
    let results = dirs
        .iter()
        .map(|dir| {
            let path = dir.join("result.json");
            if !path.exists() {
                return Err(SeedsError::Unfinished { dir: dir.clone() });
            }
            read_object(&path)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let configs = dirs
        .iter()
        .map(|dir| {
            let path = dir.join(CONFIG_FILE);
            path.exists().then(|| read_object(&path)).transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let seeds = run_seeds(&configs);
    if let Some(Some(reference)) = configs.first() {
        for (dir, config) in dirs.iter().zip(&configs).skip(1) {
            let Some(config) = config else { continue };
            let differences = recipe_differences(reference, config, may_differ);
            if !differences.is_empty() {
                return Err(SeedsError::OtherRecipe {
                    dir: dir.clone(),
                    other: first.clone(),
                    differences: differences.join(", "),
                });
            }
        }
    }
    // Runs without a seed in their configuration cannot repeat one.
    let known: Vec<(usize, u64)> = seeds
        .iter()
        .enumerate()
        .filter_map(|(i, seed)| seed.map(|s| (i, s)))
        .collect();
    let values: Vec<u64> = known.iter().map(|&(_, s)| s).collect();
    if let Some((earlier, later)) = super::first_repeat(&values) {
        return Err(SeedsError::RepeatedSeed {
            dir: dirs[known[later].0].clone(),
            other: dirs[known[earlier].0].clone(),
            seed: values[later],
        });
    }
    let mut fields = BTreeMap::new();
    for (name, value) in &results[0] {
        if value.as_f64().is_none() {
            continue;
        }
        let values: Option<Vec<f64>> = results.iter().map(|r| r.get(name)?.as_f64()).collect();
        if let Some(values) = values {
            let (mean, sd) = mean_std(&values);
            let several = values.len() > 1;
            fields.insert(
                name.clone(),
                FieldSummary {
                    mean,
                    sd: several.then_some(sd),
                    standard_error: several.then(|| standard_error(&values)),
                    values,
                },
            );
        }
    }
    Ok(SeedsSummary {
        runs: dirs.to_vec(),
        seeds,
        fields,
    })
}

/// Each run's seed: the values at the first `seed` field (top level
/// first, then below it, fields in name order) that differs between the
/// runs, or the top-level `seed` when none differs (one run, or seeds
/// that are all the same). A `train-rbm` run's seed is `train.seed`; its
/// `loglik.seed` (the AIS seed) is the same in every run.
fn run_seeds(configs: &[Option<serde_json::Map<String, serde_json::Value>>]) -> Vec<Option<u64>> {
    let paths = configs
        .iter()
        .flatten()
        .next()
        .map(|c| seed_paths(c, &[]))
        .unwrap_or_default();
    let at = |path: &[String]| -> Vec<Option<u64>> {
        configs
            .iter()
            .map(|c| {
                let mut value = c.as_ref()?.get(path.first()?)?;
                for key in &path[1..] {
                    value = value.get(key)?;
                }
                value.as_u64()
            })
            .collect()
    };
    paths
        .iter()
        .map(|path| at(path))
        .find(|seeds| seeds.iter().any(|s| *s != seeds[0]))
        .unwrap_or_else(|| at(&["seed".to_string()]))
}

/// The paths of every `seed` field in `config`, shallowest first.
fn seed_paths(
    config: &serde_json::Map<String, serde_json::Value>,
    prefix: &[String],
) -> Vec<Vec<String>> {
    let here = config.contains_key("seed").then(|| {
        let mut path = prefix.to_vec();
        path.push("seed".to_string());
        path
    });
    let mut below: Vec<Vec<String>> = config
        .iter()
        .filter_map(|(key, value)| Some((key, value.as_object()?)))
        .flat_map(|(key, object)| {
            let mut path = prefix.to_vec();
            path.push(key.clone());
            seed_paths(object, &path)
        })
        .collect();
    below.sort_by_key(Vec::len);
    here.into_iter().chain(below).collect()
}

fn read_object(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, SeedsError> {
    let bad = |message: String| SeedsError::BadResult {
        path: path.to_path_buf(),
        message,
    };
    match read_json::<serde_json::Value>(path).map_err(|e| bad(e.to_string()))? {
        serde_json::Value::Object(object) => Ok(object),
        other => Err(bad(format!("expected a JSON object, found {other}"))),
    }
}

/// The fields (dotted paths, at most six) in which two configurations
/// differ, seeds apart (every `seed` field at any depth belongs to the
/// seed) and but for the top-level fields in `may_differ`.
fn recipe_differences(
    a: &serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
    may_differ: &[String],
) -> Vec<String> {
    fn strip(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(object) => object
                .iter()
                .filter(|(k, _)| k.as_str() != "seed")
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            serde_json::Value::Array(items) => items.iter().map(strip).collect(),
            other => other.clone(),
        }
    }
    let keep = |object: &serde_json::Map<String, serde_json::Value>| -> serde_json::Value {
        let kept: serde_json::Map<_, _> = object
            .iter()
            .filter(|(k, _)| !may_differ.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        strip(&kept.into())
    };
    crate::run_dir::json_differences(&keep(a), &keep(b))
        .into_iter()
        // "path (old -> new)": the path names the field; values can be long.
        .map(|d| d.split(" (").next().unwrap_or_default().to_string())
        .take(6)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        dir: &Path,
        name: &str,
        config: serde_json::Value,
        result: Option<serde_json::Value>,
    ) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join(CONFIG_FILE), config.to_string()).unwrap();
        if let Some(result) = result {
            std::fs::write(path.join("result.json"), result.to_string()).unwrap();
        }
        path
    }

    fn config(seed: u64, epochs: u64) -> serde_json::Value {
        serde_json::json!({"seed": seed, "stack": {"epochs": epochs, "seed": seed}})
    }

    #[test]
    fn three_seeds_give_the_mean_and_its_standard_error() {
        let dir = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = [(1, 1.0), (2, 2.0), (3, 4.0)]
            .iter()
            .map(|&(seed, error)| {
                let result = serde_json::json!({"test_error_percent": error, "note": "text", "best_epoch": seed});
                run(dir.path(), &format!("s{seed}"), config(seed, 5), Some(result))
            })
            .collect();
        let summary = summarise_seeds(&dirs, &[]).unwrap();
        assert_eq!(summary.seeds, vec![Some(1), Some(2), Some(3)]);
        let error = &summary.fields["test_error_percent"];
        assert_eq!(error.values, vec![1.0, 2.0, 4.0]);
        assert!((error.mean - 7.0 / 3.0).abs() < 1e-12);
        // Sample variance: ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3.
        assert!((error.sd.unwrap() - (7.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((error.standard_error.unwrap() - (7.0f64 / 9.0).sqrt()).abs() < 1e-12);
        assert!(!summary.fields.contains_key("note"));
        assert!(summary.fields.contains_key("best_epoch"));
    }

    /// One run has a mean but no spread: its standard error is none
    /// (`null`), not 0.
    #[test]
    fn one_run_has_no_standard_error() {
        let dir = tempfile::tempdir().unwrap();
        let only = run(
            dir.path(),
            "a",
            config(1, 5),
            Some(serde_json::json!({"x": 1.5})),
        );
        let summary = summarise_seeds(&[only], &[]).unwrap();
        let x = &summary.fields["x"];
        assert_eq!((x.mean, x.sd, x.standard_error), (1.5, None, None));
        let json = serde_json::to_value(&summary).unwrap();
        assert!(json["fields"]["x"]["standard_error"].is_null(), "{json}");
    }

    /// A run given twice, or two runs of one recipe with one seed (a
    /// copy), would count one result twice: refused, naming them.
    #[test]
    fn a_run_or_a_seed_counted_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let result = || Some(serde_json::json!({"x": 1.0}));
        let a = run(dir.path(), "a", config(1, 5), result());
        let b = run(dir.path(), "b", config(2, 5), result());
        let copy = run(dir.path(), "copy", config(1, 5), result());
        let error = summarise_seeds(&[a.clone(), b.clone(), a.clone()], &[]).unwrap_err();
        assert!(
            matches!(&error, SeedsError::RepeatedRun { dir } if *dir == a),
            "{error}"
        );
        let error = summarise_seeds(&[a.clone(), b, copy.clone()], &[]).unwrap_err();
        assert!(
            matches!(&error, SeedsError::RepeatedSeed { dir, other, seed: 1 } if *dir == copy && *other == a),
            "{error}"
        );
    }

    #[test]
    fn the_seed_that_differs_below_the_top_level_is_the_runs_seed() {
        let dir = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = [4, 5]
            .iter()
            .map(|&seed| {
                let config = serde_json::json!({"rbm": {"n_hidden": 3}, "binarize_seed": 0, "loglik": {"seed": 1}, "train": {"epochs": 2, "seed": seed}});
                let result = serde_json::json!({"x": seed as f64});
                run(dir.path(), &format!("s{seed}"), config, Some(result))
            })
            .collect();
        let summary = summarise_seeds(&dirs, &[]).unwrap();
        assert_eq!(summary.seeds, vec![Some(4), Some(5)]);
    }

    #[test]
    fn an_unfinished_run_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let done = run(
            dir.path(),
            "a",
            config(1, 5),
            Some(serde_json::json!({"x": 1.0})),
        );
        let running = run(dir.path(), "b", config(2, 5), None);
        let error = summarise_seeds(&[done, running.clone()], &[]).unwrap_err();
        assert!(
            matches!(&error, SeedsError::Unfinished { dir } if *dir == running),
            "{error}"
        );
    }

    #[test]
    fn runs_of_different_recipes_are_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let a = run(
            dir.path(),
            "a",
            config(1, 5),
            Some(serde_json::json!({"x": 1.0})),
        );
        let b = run(
            dir.path(),
            "b",
            config(2, 6),
            Some(serde_json::json!({"x": 2.0})),
        );
        let error = summarise_seeds(&[a.clone(), b.clone()], &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("stack.epochs"), "{error}");
        assert!(!error.contains("seed,"), "{error}");
        // Unless the user says that field may differ.
        let summary = summarise_seeds(&[a, b], &["stack".to_string()]).unwrap();
        assert_eq!(summary.fields["x"].values, vec![1.0, 2.0]);
    }

    #[test]
    fn no_runs_and_a_result_that_is_not_an_object_are_errors() {
        assert!(matches!(summarise_seeds(&[], &[]), Err(SeedsError::NoRuns)));
        let dir = tempfile::tempdir().unwrap();
        let a = run(
            dir.path(),
            "a",
            config(1, 5),
            Some(serde_json::json!([1, 2])),
        );
        let error = summarise_seeds(&[a], &[]).unwrap_err().to_string();
        assert!(
            error.contains("result.json") && error.contains("JSON object"),
            "{error}"
        );
    }
}
