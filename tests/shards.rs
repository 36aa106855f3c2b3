//! A study sharded over three processes into one run directory reports
//! byte for byte what one process reports; a killed shard's unit is taken
//! over; bad `--shard` values and a shard of another configuration are
//! refused by name. An up-down sweep takes a lower stack from another run
//! and the top RBM's statistics from its flags.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::synthetic::write_idx_set;

/// The flags of a tiny study on the synthetic IDX set in `data`.
fn study_args(data: &Path, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "study",
        "--depths",
        "1,2",
        "--seeds",
        "2",
        "--grid-seeds",
        "1",
        "--rates",
        "0.1,1",
        "--width",
        "16",
        "--train-rows",
        "500",
        "--valid-rows",
        "100",
        "--cd-epochs",
        "1",
        "--finetune-epochs",
        "2",
        "--probe-images",
        "20",
        "--device",
        "flex",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend([
        "--data".into(),
        format!("idx:{}", data.display()),
        "--out".into(),
        out.display().to_string(),
    ]);
    args
}

fn command(args: &[String], extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deepbelief"));
    command.args(args).args(extra);
    command
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn spawn(args: &[String], extra: &[&str]) -> Child {
    command(args, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The report's files in `dir`: result.json and every picture, by name.
fn report_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name == "result.json" || name.ends_with(".png"))
        .map(|name| (name.clone(), std::fs::read(dir.join(&name)).unwrap()))
        .collect();
    files.sort();
    files
}

fn assert_same_report(whole: &Path, sharded: &Path) {
    let (a, b) = (report_files(whole), report_files(sharded));
    assert!(a.len() >= 3, "the report wrote its files: {:?}", names(&a));
    assert_eq!(names(&a), names(&b));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{name} differs between one process and three shards"
        );
    }
}

fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn three_shards_report_what_one_process_reports_and_a_killed_shards_unit_is_retaken() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let whole = dir.path().join("whole");
    succeeded(
        command(&study_args(dir.path(), &whole), &[])
            .output()
            .unwrap(),
    );

    // Three processes at once into one directory, then the report.
    let sharded = dir.path().join("sharded");
    let args = study_args(dir.path(), &sharded);
    let children: Vec<Child> = (1..=3)
        .map(|k| spawn(&args, &["--shard", &format!("{k}/3")]))
        .collect();
    for child in children {
        succeeded(child.wait_with_output().unwrap());
    }
    let report = succeeded(
        command(
            &[
                "study".into(),
                "--out".into(),
                sharded.display().to_string(),
            ],
            &["--report", "--device", "flex"],
        )
        .output()
        .unwrap(),
    );
    assert!(!report.contains("not yet committed"), "{report}");
    assert_same_report(&whole, &sharded);
    // Resumed side by side (as scripts/headline-runs.sh resumes a sweep's
    // shards), the shards share the run: none is refused as a second
    // process working on it.
    let resumed: Vec<Child> = (1..=3)
        .map(|k| {
            command(
                &[
                    "study".into(),
                    "--out".into(),
                    sharded.display().to_string(),
                ],
                &["--resume", "--shard", &format!("{k}/3"), "--device", "flex"],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in resumed {
        succeeded(child.wait_with_output().unwrap());
    }

    // Shard 2 alone, killed while it holds a claim; its unit is retaken
    // when the three shards run.
    let killed = dir.path().join("killed");
    let args = study_args(dir.path(), &killed);
    let mut child = spawn(&args, &["--shard", "2/3"]);
    let deadline = Instant::now() + Duration::from_secs(300);
    let claims = killed.join("claims");
    let held = loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "shard 2 ended before it was killed"
        );
        let claim = std::fs::read_dir(&claims).ok().and_then(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "claim"))
        });
        if let Some(claim) = claim {
            break claim;
        }
        assert!(Instant::now() < deadline, "no claim in {claims:?}");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(held.exists(), "a killed process leaves its claim behind");
    // A report before the shards finish names what is missing.
    let early = command(
        &["study".into(), "--out".into(), killed.display().to_string()],
        &["--report", "--device", "flex"],
    )
    .output()
    .unwrap();
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("no depth has all its units committed"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    let children: Vec<Child> = (1..=3)
        .map(|k| spawn(&args, &["--shard", &format!("{k}/3")]))
        .collect();
    for child in children {
        succeeded(child.wait_with_output().unwrap());
    }
    assert!(
        !held.exists(),
        "the dead shard's claim was taken over and released"
    );
    succeeded(
        command(
            &["study".into(), "--out".into(), killed.display().to_string()],
            &["--report", "--device", "flex"],
        )
        .output()
        .unwrap(),
    );
    assert_same_report(&whole, &killed);
}

#[test]
fn bad_shards_and_a_shard_of_another_configuration_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let out = dir.path().join("run");
    let args = study_args(dir.path(), &out);
    for (shard, expected) in [
        ("0/3", "K must be in 1..=3"),
        ("4/3", "K must be in 1..=3"),
        ("1/0", "at least 1"),
        ("two", "expected K/N"),
    ] {
        let output = command(&args, &["--shard", shard]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "--shard {shard} was accepted");
        assert!(stderr.contains(expected), "--shard {shard}: {stderr}");
    }
    // --overwrite would delete the other shards' units; the message is one sentence.
    let output = command(&args, &["--shard", "1/3", "--overwrite"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "--overwrite with --shard was accepted"
    );
    assert!(
        stderr.contains(
            "--overwrite cannot be used with --shard or --report: \
             it would delete the units of the other processes"
        ),
        "{stderr}"
    );
    assert!(!out.exists(), "a refused shard writes nothing");
    // Shard 1 starts the run (stopped at once by a depth the data lacks?
    // no: it trains its share), then a shard with other flags is refused.
    succeeded(command(&args, &["--shard", "1/3"]).output().unwrap());
    let mut other = study_args(dir.path(), &out);
    let at = other.iter().position(|a| a == "--width").unwrap();
    other[at + 1] = "12".into();
    let output = command(&other, &["--shard", "2/3"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("not the configuration the run started with") && stderr.contains("width"),
        "{stderr}"
    );
}

/// `flags` (a subcommand and its flags, without `--out`) run by one process
/// into `DIR/whole`, and by `shards` processes at once into `DIR/sharded`
/// followed by `--report` there; returns both directories and the
/// report's output.
fn whole_and_sharded(dir: &Path, flags: &[&str], shards: usize) -> (PathBuf, PathBuf, String) {
    let with_out = |out: &Path| -> Vec<String> {
        let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        args.extend([
            "--device".into(),
            "flex".into(),
            "--out".into(),
            out.display().to_string(),
        ]);
        args
    };
    let whole = dir.join("whole");
    succeeded(command(&with_out(&whole), &[]).output().unwrap());
    let sharded = dir.join("sharded");
    let children: Vec<Child> = (1..=shards)
        .map(|k| spawn(&with_out(&sharded), &["--shard", &format!("{k}/{shards}")]))
        .collect();
    for child in children {
        succeeded(child.wait_with_output().unwrap());
    }
    let report = succeeded(
        command(
            &[
                flags[0].into(),
                "--out".into(),
                sharded.display().to_string(),
            ],
            &["--report", "--device", "flex"],
        )
        .output()
        .unwrap(),
    );
    (whole, sharded, report)
}

#[test]
fn three_few_label_shards_report_what_one_process_reports() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let data = format!("idx:{}", dir.path().display());
    let (whole, sharded, report) = whole_and_sharded(
        dir.path(),
        &[
            "few-labels",
            "--hidden",
            "16",
            "--cd-epochs",
            "1",
            "--labels",
            "30,all",
            "--seeds",
            "2",
            "--finetune-epochs",
            "1",
            "--data",
            &data,
        ],
        3,
    );
    assert!(!report.contains("not yet committed"), "{report}");
    let (a, b) = (report_files(&whole), report_files(&sharded));
    assert_eq!(names(&a), ["few-labels.png", "result.json"]);
    assert_eq!(names(&a), names(&b));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{name} differs between one process and three shards"
        );
    }
}

#[test]
fn two_up_down_sweep_shards_report_what_one_process_reports() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let data = format!("idx:{}", dir.path().display());
    let (whole, sharded, report) = whole_and_sharded(
        dir.path(),
        &[
            "updown-sweep",
            "--preset",
            "quick",
            "--updown-epochs",
            "2",
            "--lower-epochs",
            "1",
            "--top-epochs",
            "1",
            "--updown-lr-grid",
            "0.01,0.03",
            "--updown-momentum-grid",
            "0,0.5",
            "--updown-weight-decay-grid",
            "0.00001",
            "--data",
            &data,
        ],
        2,
    );
    assert!(report.contains("chosen_learning_rate="), "{report}");
    let sweep = |dir: &Path| std::fs::read(dir.join("sweep.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&sweep(&whole)).unwrap();
    assert_eq!(summary["arms_finished"], 4);
    assert!(sweep(&whole) == sweep(&sharded), "sweep.json differs");
    // The arms end with up-down: the quick preset's phase before sampling
    // is not recorded as if it ran.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(whole.join("config.json")).unwrap()).unwrap();
    // (A phase that is off is not written at all.)
    let pcd_epochs = config["generative"]["top_pcd"]["epochs"].as_u64();
    assert_eq!(pcd_epochs.unwrap_or(0), 0, "{config}");
}

#[test]
fn an_up_down_sweep_borrows_a_lower_stack_and_takes_the_top_statistics() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let data = format!("idx:{}", dir.path().display());
    // `deepbelief EXTRA... --preset quick ... --out OUT`, its stdout.
    let run_in = |extra: &[&str], out: &Path| -> String {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.extend(
            [
                "--preset",
                "quick",
                "--top-epochs",
                "1",
                "--updown-epochs",
                "1",
                "--data",
                &data,
                "--device",
                "flex",
                "--out",
                &out.display().to_string(),
            ]
            .map(String::from),
        );
        succeeded(command(&args, &[]).output().unwrap())
    };
    // A generative run of the same preset and seed trains the lower layers.
    let trained = dir.path().join("generative");
    let stdout = run_in(
        &[
            "generative",
            "--lower-epochs",
            "1",
            "--sample-steps",
            "1",
            "--samples-per-class",
            "1",
        ],
        &trained,
    );
    let greedy_valid = |line_start: &str, text: &str| -> String {
        let line = text
            .lines()
            .find(|line| line.starts_with(line_start))
            .unwrap_or_else(|| panic!("no {line_start:?} in {text}"));
        line.split_whitespace()
            .find(|word| word.ends_with('%'))
            .unwrap()
            .to_string()
    };
    let stack = trained.join("pretrained.safetensors");
    let sweep = dir.path().join("sweep");
    let report = run_in(
        &[
            "updown-sweep",
            "--pretrained-lower",
            stack.to_str().unwrap(),
            "--updown-top-statistics",
            "sampled-states",
            "--updown-lr-grid",
            "0.01",
            "--updown-momentum-grid",
            "0",
            "--updown-weight-decay-grid",
            "0.00001",
        ],
        &sweep,
    );
    assert!(report.contains("lower layers from"), "{report}");
    // The same lower layers and top RBM: the same greedy DBN.
    assert_eq!(
        greedy_valid("greedy DBN: validation error", &report),
        greedy_valid("greedy DBN: generative classification error", &stdout)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sweep.join("config.json")).unwrap()).unwrap();
    let generative = &config["generative"];
    assert_eq!(generative["updown"]["top_statistics"], "sampled_states");
    let source = generative["pretrained_lower"]["path"].as_str().unwrap();
    assert!(source.ends_with("pretrained.safetensors"), "{config}");
}

#[test]
fn two_gaussian_sweep_shards_report_what_one_process_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, sharded, report) = whole_and_sharded(
        dir.path(),
        &[
            "gaussian-sweeps",
            "--cd-lr-grid",
            "0.1,0.01",
            "--hidden-grid",
            "4,6",
            "--sigma-grid",
            "1.0",
            "--cd-epochs",
            "1",
        ],
        2,
    );
    assert!(!report.contains("not yet"), "{report}");
    let sweeps = |dir: &Path| std::fs::read(dir.join("sweeps.json")).unwrap();
    assert!(sweeps(&whole) == sweeps(&sharded), "sweeps.json differs");
}
