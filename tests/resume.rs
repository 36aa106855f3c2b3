//! Interrupted runs resume to the same result. Each run type is killed
//! (SIGKILL, as a crash or a lost machine would stop it) once a checkpoint
//! of the phase under test is committed, resumed with `--resume`, and every
//! tensor of every weights file it ends with, and every record of
//! `metrics.jsonl` but the timings, compared with an uninterrupted run's.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::synthetic::write_idx_set;

/// `deepbelief SUBCOMMAND ARGS --device flex`, waited for; its stdout.
fn run_to_end(subcommand: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_deepbelief"))
        .arg(subcommand)
        .args(args)
        .args(["--device", "flex"])
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{subcommand} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts `deepbelief SUBCOMMAND ARGS --device flex`, kills it once
/// `ready` holds of its run directory `out`, and checks that the run had
/// not finished (no `finished` file).
fn killed_once(
    subcommand: &str,
    args: &[&str],
    out: &Path,
    ready: impl Fn(&Path) -> bool,
    finished: &Path,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepbelief"))
        .arg(subcommand)
        .args(args)
        .args(["--device", "flex"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{subcommand} ended before the checkpoint to interrupt at: make the run longer"
        );
        if ready(out) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{subcommand}: no checkpoint in {out:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !finished.exists(),
        "{subcommand} finished before it was killed: make the run longer"
    );
}

/// Every `.safetensors` file under `dir`, by path relative to it.
fn weights_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "safetensors") {
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The tensors of a safetensors file by name: dtype, shape and bytes.
fn tensors(bytes: &[u8]) -> BTreeMap<String, (String, Vec<usize>, Vec<u8>)> {
    let file = safetensors::SafeTensors::deserialize(bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                (
                    format!("{:?}", view.dtype()),
                    view.shape().to_vec(),
                    view.data().to_vec(),
                ),
            )
        })
        .collect()
}

/// `metrics.jsonl` without the fields that measure time.
fn records(dir: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(dir.join("metrics.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            strip_times(&mut value);
            value
        })
        .collect()
}

/// The same weights files with the same tensors bit for bit, and the same
/// metric records, in `expected` and `resumed`.
fn assert_same_run(expected: &Path, resumed: &Path) {
    let (a, b) = (weights_files(expected), weights_files(resumed));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "different weights files"
    );
    for (path, bytes) in &a {
        assert!(
            tensors(bytes) == tensors(&b[path]),
            "{}: the tensors differ after the resumed run",
            path.display()
        );
    }
    assert_eq!(records(expected), records(resumed), "metrics.jsonl differs");
    let (a, b) = (results(expected), results(resumed));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "different result files"
    );
    assert!(a == b, "the result files differ after the resumed run");
}

/// Every JSON file under `dir` that reports a result (not the run's
/// identity, configuration or commits), by relative path, without the
/// fields that measure time.
fn results(dir: &Path) -> BTreeMap<PathBuf, serde_json::Value> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, serde_json::Value>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(root, &path, out);
            } else if name.ends_with(".json")
                && !name.ends_with(".commit.json")
                && !["run.json", "config.json"].contains(&name.as_str())
            {
                let mut value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                strip_times(&mut value);
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), value);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `value` without the fields that measure time, or count the processes
/// that spent it (`wall.json`, `processes`: a resumed run has one more),
/// at any depth.
fn strip_times(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            object.retain(|key, _| {
                !key.contains("second") && !key.contains("minute") && key != "processes"
            });
            object.values_mut().for_each(strip_times);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_times),
        _ => {}
    }
}

/// A commit file `name` of a run directory, if written, as JSON.
fn commit(out: &Path, name: &str) -> Option<serde_json::Value> {
    json_file(out, name)
}

/// The JSON file `name` of a run directory, if written.
fn json_file(out: &Path, name: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(out.join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The uninterrupted run and the killed-then-resumed one of the same flags,
/// on the synthetic IDX set.
fn check_resume(
    subcommand: &str,
    args: &[&str],
    ready: impl Fn(&Path) -> bool,
    finished: &str,
) -> tempfile::TempDir {
    check_resume_on(
        subcommand,
        args,
        |dir| {
            write_idx_set(dir);
            vec!["--data".into(), format!("idx:{}", dir.display())]
        },
        ready,
        |_| {},
        finished,
    )
}

/// As [`check_resume`], with the data flags that `data` writes into the
/// test's directory, and `after_kill` done to the killed run's directory
/// before it resumes.
fn check_resume_on(
    subcommand: &str,
    args: &[&str],
    data: impl Fn(&Path) -> Vec<String>,
    ready: impl Fn(&Path) -> bool,
    after_kill: impl Fn(&Path),
    finished: &str,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let (whole, resumed) = (dir.path().join("whole"), dir.path().join("resumed"));
    let with = |out: &Path| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(data.iter().cloned());
        all.push("--out".into());
        all.push(out.to_str().unwrap().into());
        all
    };
    let whole_args = with(&whole);
    run_to_end(
        subcommand,
        &whole_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let resumed_args = with(&resumed);
    killed_once(
        subcommand,
        &resumed_args.iter().map(String::as_str).collect::<Vec<_>>(),
        &resumed,
        ready,
        &resumed.join(finished),
    );
    after_kill(&resumed);
    run_to_end(
        subcommand,
        &["--out", resumed.to_str().unwrap(), "--resume"],
    );
    assert_same_run(&whole, &resumed);
    assert_wall_time_over_processes(&whole, &resumed);
    dir
}

/// Where a run keeps its wall time (`wall.json`), the uninterrupted run
/// counts one process and the resumed one both of its processes' time.
fn assert_wall_time_over_processes(whole: &Path, resumed: &Path) {
    let (Some(one), Some(two)) = (
        json_file(whole, "wall.json"),
        json_file(resumed, "wall.json"),
    ) else {
        return; // a run type that keeps none
    };
    assert_eq!(one["processes"], 1, "{one}");
    assert_eq!(two["processes"], 2, "{two}");
    assert!(two["wall_seconds"].as_f64().unwrap() > 0.0, "{two}");
    let result = json_file(resumed, "result.json").expect("a finished run's result");
    assert_eq!(result["processes"], 2, "{result}");
    let total = two["wall_seconds"].as_f64().unwrap() / 60.0;
    let reported = result["wall_minutes"].as_f64().unwrap();
    assert!(
        reported <= total + 1e-9,
        "result {reported} min, wall.json {total} min"
    );
}

#[test]
fn train_rbm_resumes_to_the_same_model_after_a_kill() {
    check_resume(
        "train-rbm",
        &["--hidden", "8", "--cd-epochs", "60", "--cd-batch", "10"],
        |out| commit(out, "checkpoint.commit.json").is_some(),
        "samples.png",
    );
}

/// A generative run of one greedy epoch per layer and 5-step samples,
/// with `phases`' flags for up-down and after.
fn tiny_generative<'a>(phases: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--lower-epochs",
        "1",
        "--top-epochs",
        "1",
        "--sample-steps",
        "5",
        "--samples-per-class",
        "2",
    ];
    args.extend_from_slice(phases);
    args
}

#[test]
fn generative_resumes_to_the_same_model_after_a_kill_in_up_down() {
    // Up-down with momentum (its velocity must be committed), killed after
    // its third epoch at the earliest.
    check_resume(
        "generative",
        &tiny_generative(&[
            "--updown-epochs",
            "12",
            "--updown-momentum",
            "0.5",
            "--final-epochs",
            "3",
        ]),
        |out| {
            commit(out, "updown.commit.json")
                .is_some_and(|c| c["step"]["epochs_done"].as_u64().unwrap_or(0) >= 3)
        },
        "result.json",
    );
}

#[test]
fn generative_resumes_to_the_same_model_after_a_kill_in_its_top_rbms_persistent_cd() {
    // The persistent chains and the velocities must be committed with the
    // top RBM after every epoch of the phase, and the resumed epochs must
    // keep the falling rate's schedule.
    check_resume(
        "generative",
        &tiny_generative(&[
            "--updown-epochs",
            "2",
            "--final-epochs",
            "0",
            "--top-pcd-epochs",
            "20",
            "--top-pcd-lr",
            "0.01",
            "--top-pcd-final-lr",
            "0.001",
        ]),
        |out| {
            commit(out, "top-pcd.commit.json")
                .is_some_and(|c| c["step"]["epochs_done"].as_u64().unwrap_or(0) >= 2)
        },
        "result.json",
    );
}

#[test]
fn a_resumed_persistent_cd_phase_continues_a_constant_rate_and_restarts_a_falling_one() {
    // Asked for one more epoch: at a constant rate the committed epochs are
    // the longer phase's first ones; a falling rate's every epoch depends
    // on the phase's length, so its commits belong to another schedule.
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let data = format!("idx:{}", dir.path().display());
    for (final_rate, restarts) in [("constant", false), ("0.001", true)] {
        let out = dir.path().join(format!("run-{restarts}"));
        let mut args = tiny_generative(&[
            "--updown-epochs",
            "1",
            "--final-epochs",
            "0",
            "--top-pcd-lr",
            "0.01",
            "--top-pcd-epochs",
            "2",
        ]);
        args.extend_from_slice(&["--top-pcd-final-lr", final_rate]);
        args.extend_from_slice(&["--data", &data, "--out", out.to_str().unwrap()]);
        run_to_end("generative", &args);
        let resumed = run_to_end(
            "generative",
            &[
                "--out",
                out.to_str().unwrap(),
                "--resume",
                "--top-pcd-epochs",
                "3",
            ],
        );
        assert!(resumed.contains("epoch 3/3"), "{resumed}");
        assert_eq!(resumed.contains("epoch 1/3"), restarts, "{resumed}");
        let pcd_records = records(&out)
            .iter()
            .filter(|r| r["phase"] == "top pcd")
            .count();
        assert_eq!(pcd_records, 3, "one record per epoch of the phase");
    }
}

#[test]
fn classify_resumes_to_the_same_model_after_a_kill_in_pretraining() {
    // Killed once a pretraining epoch of the second layer is committed;
    // fine-tuning then runs whole after the resume.
    check_resume(
        "classify",
        &[
            "--hidden",
            "16,16",
            "--cd-epochs",
            "40",
            "--finetune-epochs",
            "3",
        ],
        |out| {
            commit(out, "pretrain.commit.json").is_some_and(|c| {
                c["step"]["layer"].as_u64().unwrap_or(0) >= 2
                    && c["step"]["epochs_done"].as_u64().unwrap_or(0) >= 2
            })
        },
        "result.json",
    );
}

/// A `classify` run whose fine-tuning is long enough to be killed after
/// its second epoch: 8 epochs of batches of 5 (100 steps an epoch keep
/// the epoch-2 checkpoint on disk long enough to be seen: the Learner
/// removes it two epochs later, and at batches of 100 an idle machine
/// ran those epochs between two polls), patience 8 (no early stop: this
/// data reaches 100% validation accuracy by epoch 2).
const FINE_TUNING_TO_KILL: [&str; 10] = [
    "--hidden",
    "16,16",
    "--cd-epochs",
    "2",
    "--finetune-epochs",
    "8",
    "--finetune-batch",
    "5",
    "--patience",
    "8",
];

#[test]
fn classify_resumes_to_the_same_model_after_a_kill_in_fine_tuning() {
    // Killed once Burn's Learner has checkpointed its second fine-tuning
    // epoch (of 8), with dropout on: the resumed epochs must see the
    // uninterrupted run's data order and dropout masks (early stopping
    // across a resume is not what this test is about).
    let dropout = ["--input-dropout", "0.1", "--hidden-dropout", "0.25"];
    check_resume(
        "classify",
        &[&FINE_TUNING_TO_KILL[..], &dropout].concat(),
        |out| {
            ["optim-2.bpk", "scheduler-2.bpk"]
                .iter()
                .all(|f| out.join("learner/checkpoint").join(f).exists())
        },
        "result.json",
    );
}

#[test]
fn classify_early_stopping_resumes_at_an_uninterrupted_runs_stop() {
    // The same run with early stopping on (patience 3): this data reaches
    // 100% validation accuracy by epoch 2, so an uninterrupted run stops
    // at epoch 5 of 12. Killed after the epoch-2 checkpoint, the resumed
    // process must count patience from epoch 2, not from its own first
    // epoch, and stop at the same epoch with the same model.
    let dir = check_resume(
        "classify",
        &[
            "--hidden",
            "16,16",
            "--cd-epochs",
            "2",
            "--finetune-epochs",
            "12",
            "--finetune-batch",
            "5",
            "--patience",
            "3",
        ],
        |out| {
            ["optim-2.bpk", "scheduler-2.bpk"]
                .iter()
                .all(|f| out.join("learner/checkpoint").join(f).exists())
        },
        "result.json",
    );
    // Early stopping did stop the run (else the test shows nothing).
    let result = json_file(&dir.path().join("whole"), "result.json").unwrap();
    let done = result["epochs_done"].as_u64().unwrap();
    assert!((3..12).contains(&done), "{result}");
}

#[test]
fn classify_by_conjugate_gradients_resumes_to_the_same_model_after_a_kill() {
    // Killed once the third epoch (the first of all layers after two of the
    // head alone) is committed; the final pass follows. CG is deterministic
    // given its fixed batches, so the resumed run must match bit for bit.
    check_resume(
        "classify",
        &[
            "--hidden",
            "16,16",
            "--cd-epochs",
            "2",
            "--finetune-epochs",
            "6",
            "--line-searches",
            "2",
            "--head-epochs",
            "2",
            "--finetune-batch",
            "100",
            "--finetune-weight-decay",
            "0",
            "--final-epochs",
            "2",
        ],
        |out| {
            std::fs::read_to_string(out.join("conjugate.commit.json"))
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|commit| commit["step"]["epochs_done"].as_u64())
                .is_some_and(|done| done >= 3)
        },
        "result.json",
    );
}

#[test]
fn few_labels_resumes_to_the_same_results_after_a_kill_mid_sweep() {
    // Killed inside the third unit's fine-tuning: that unit starts again,
    // its killed epochs' records gone.
    check_resume(
        "few-labels",
        &[
            "--hidden",
            "16",
            "--cd-epochs",
            "2",
            "--labels",
            "30,all",
            "--seeds",
            "2",
            "--finetune-epochs",
            "2",
        ],
        |out| {
            let count = |dir: &Path, suffix: &str| {
                std::fs::read_dir(dir).map_or(0, |entries| {
                    entries
                        .filter_map(|e| e.ok())
                        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
                        .count()
                })
            };
            // Two units committed, and the third's first epoch checkpointed.
            count(&out.join("units"), ".commit.json") >= 2
                && std::fs::read_dir(out.join("learners")).is_ok_and(|learners| {
                    learners
                        .filter_map(|e| e.ok())
                        .any(|e| count(&e.path().join("checkpoint"), "scheduler-1.bpk") == 1)
                })
        },
        "result.json",
    );
}

#[test]
fn bound_on_images_resumes_at_its_next_seed_after_a_kill() {
    // Killed once seed 1 is committed: the resumed run reads it back and
    // measures seeds 2 and 3, to the same rows and gain as a run that was
    // never stopped.
    check_resume(
        "bound",
        &[
            "--preset",
            "mnist",
            "--hidden",
            "6",
            "--first-epochs",
            "40",
            "--second-epochs",
            "40",
            "--seeds",
            "3",
            "--samples",
            "3",
            "--ais-runs",
            "10",
            "--ais-steps",
            "400",
        ],
        |out| commit(out, "seeds/seed-1.commit.json").is_some(),
        "bound.json",
    );
}

#[test]
fn gaussian_resumes_to_the_same_model_after_a_kill() {
    // Learned sigmas: their state is part of the checkpoint.
    check_resume_on(
        "gaussian",
        &["--hidden", "6", "--cd-epochs", "60", "--sigma", "learned"],
        |dir| {
            let rows = dir.join("rows.npy");
            let values: Vec<f32> = (0..200 * 12)
                .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
                .collect();
            datasets::write_npy_f32(&rows, &[200, 12], &values).unwrap();
            vec!["--npy".into(), rows.to_str().unwrap().into()]
        },
        |out| {
            commit(out, "checkpoint.commit.json")
                .is_some_and(|c| c["step"]["epochs_done"].as_u64().unwrap_or(0) >= 3)
        },
        |_| {},
        "filters.png",
    );
}

#[test]
fn generative_resumes_after_a_kill_in_its_top_rbm_with_a_record_past_the_commit() {
    // Killed while the top RBM (committed under top/, recorded in the
    // run's metrics.jsonl) trains; a record of the epoch after the last
    // one is then appended, as a kill between an epoch's record and its
    // commit leaves it: the resume must drop it.
    check_resume_on(
        "generative",
        &[
            "--lower-epochs",
            "1",
            "--top-epochs",
            "15",
            "--updown-epochs",
            "1",
            "--final-epochs",
            "1",
            "--sample-steps",
            "5",
            "--samples-per-class",
            "2",
        ],
        |dir| {
            write_idx_set(dir);
            vec!["--data".into(), format!("idx:{}", dir.display())]
        },
        |out| {
            commit(&out.join("top"), "pretrain.commit.json")
                .is_some_and(|c| c["step"]["epochs_done"].as_u64().unwrap_or(0) >= 2)
        },
        |out| {
            let path = out.join("metrics.jsonl");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut last: serde_json::Value =
                serde_json::from_str(text.lines().last().unwrap()).unwrap();
            let epoch = last["epoch"].as_u64().unwrap();
            last["epoch"] = (epoch + 1).into();
            std::fs::write(&path, format!("{text}{last}\n")).unwrap();
        },
        "result.json",
    );
}

/// The names of a running process's threads, or none once it has ended.
#[cfg(target_os = "linux")]
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_string())
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn a_fine_tuning_resumed_on_flex_starts_no_other_device() {
    // Burn loads a resumed optimizer's state on its default device, a GPU
    // (or lavapipe) when wgpu is compiled in, whose device threads ("DSD-",
    // "DSU-") then poll for the rest of the run; `--device flex` must keep
    // that default on Flex. The resumed run is watched for its life: such
    // threads, once started, never end before the process.
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let out = dir.path().join("run");
    let data = format!("idx:{}", dir.path().display());
    let place = ["--data", &data, "--out", out.to_str().unwrap()];
    killed_once(
        "classify",
        &[&FINE_TUNING_TO_KILL[..], &place].concat(),
        &out,
        |out| out.join("learner/checkpoint/optim-2.bpk").exists(),
        &out.join("result.json"),
    );
    let mut resumed = Command::new(env!("CARGO_BIN_EXE_deepbelief"))
        .args(["classify", "--out", out.to_str().unwrap(), "--resume"])
        .args(["--device", "flex"])
        .env_remove("BURN_DEVICE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut seen = std::collections::BTreeSet::new();
    while resumed.try_wait().unwrap().is_none() {
        seen.extend(thread_names(resumed.id()));
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = resumed.wait_with_output().unwrap();
    assert!(
        status.status.success(),
        "the resumed run failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(out.join("result.json").exists(), "the resumed run finished");
    let devices: Vec<&String> = seen
        .iter()
        .filter(|name| name.starts_with("DS") || name.starts_with("llvmpipe"))
        .collect();
    assert!(
        devices.is_empty(),
        "a Flex run started device threads {devices:?} (all threads: {seen:?})"
    );
}
