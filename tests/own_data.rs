//! The binaries on data sets other than MNIST (`--data idx:DIR`,
//! `--data npy:PREFIX`): a small synthetic set of 6x5 images in 3 classes,
//! whose sizes must reach every layer, picture and label count.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::synthetic::{CLASSES, HEIGHT, WIDTH, synthetic, write_idx_set};

use burn::prelude::*;

fn write_npy_set(prefix: &str, train_rows: usize) {
    let [train_x, train_y, test_x, test_y] = datasets::npy_set_files(prefix);
    let (pixels, labels) = synthetic(train_rows, 1);
    let shape = [train_rows as u64, HEIGHT as u64, WIDTH as u64];
    datasets::write_npy_u8(&train_x, &shape, &pixels).unwrap();
    datasets::write_npy_u8(&train_y, &[train_rows as u64], &labels).unwrap();
    let (pixels, labels) = synthetic(30, 2);
    datasets::write_npy_u8(&test_x, &[30, HEIGHT as u64, WIDTH as u64], &pixels).unwrap();
    datasets::write_npy_u8(&test_y, &[30], &labels).unwrap();
}

/// `deepbelief SUBCOMMAND ARGS --device flex`.
fn run(subcommand: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deepbelief"))
        .arg(subcommand)
        .args(args)
        .args(["--device", "flex"])
        .output()
        .expect("the binary runs")
}

fn succeeds(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn classifier_on_npy_arrays_takes_sizes_and_classes_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/shapes-", dir.path().display());
    write_npy_set(&prefix, 120);
    let out = dir.path().join("run");
    let data = format!("npy:{prefix}");
    let args = [
        "--data",
        &data,
        "--hidden",
        "16",
        "--cd-epochs",
        "2",
        "--finetune-epochs",
        "5",
        "--finetune-batch",
        "10",
        "--out",
        out.to_str().unwrap(),
    ];
    let stdout = succeeds(&run("classify", &args));
    assert!(stdout.contains("of 6x5, 3 classes"), "{stdout}");
    let config = json(&out.join("config.json"));
    assert_eq!(config["data"]["classes"], 3);
    assert_eq!(config["layer_sizes"], serde_json::json!([30, 16]));
    // The last sixth of 120 training images is held out for validation.
    assert_eq!(config["valid_rows"], 20);
    assert_eq!(config["train_rows"], 100);
    let model = dbn::load_classifier(&out.join("model.safetensors"), &Device::flex()).unwrap();
    assert_eq!(model.config().n_classes, CLASSES);
    // An easy set: far below chance (66.7% error) after 5 epochs.
    let result = json(&out.join("result.json"));
    let error = result["test_error_percent"].as_f64().unwrap();
    assert!(error < 30.0, "test error {error}%");

    // Data that changed under a run are refused on resume, naming both.
    write_npy_set(&prefix, 126);
    let output = run("classify", &["--out", out.to_str().unwrap(), "--resume"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("has changed")
            && stderr.contains("120 + 30")
            && stderr.contains("126 + 30"),
        "{stderr}"
    );
}

#[test]
fn rbm_and_generative_dbn_on_another_idx_set() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_set(dir.path());
    let data = format!("idx:{}", dir.path().display());
    let out = dir.path().join("rbm");
    succeeds(&run(
        "train-rbm",
        &[
            "--data",
            &data,
            "--hidden",
            "8",
            "--cd-epochs",
            "2",
            "--cd-batch",
            "10",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    let (rbm, config) = rbm::load_rbm(&out.join("model.safetensors"), &Device::flex()).unwrap();
    assert_eq!((config.n_visible, rbm.n_hidden()), (HEIGHT * WIDTH, 8));
    // 8 filters of 6x5 pixels in a grid of 10 columns with 1-pixel gaps.
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(out.join("filters.png")).unwrap(),
    ));
    let info = decoder.read_info().unwrap();
    let (width, height) = (info.info().width, info.info().height);
    assert!(
        height < width && height >= HEIGHT as u32,
        "{width}x{height}"
    );
    assert_eq!(json(&out.join("config.json"))["held_out"], 100);

    let out = dir.path().join("generative");
    let stdout = succeeds(&run(
        "generative",
        &[
            "--data",
            &data,
            "--lower-epochs",
            "1",
            "--top-epochs",
            "1",
            "--updown-epochs",
            "1",
            "--sample-steps",
            "5",
            "--samples-per-class",
            "2",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(stdout.contains("greedy_test_error="), "{stdout}");
    let config = json(&out.join("config.json"));
    assert_eq!(
        config["top"]["layers"][0]["rbm"]["n_visible"],
        500 + CLASSES
    );
    assert!(out.join("samples.png").is_file() && out.join("frames.gif").is_file());
}

#[test]
fn a_test_label_no_training_image_has_is_refused_naming_it_and_the_file() {
    // Training labels 0..3; one test image labelled 11 (an 11-way head would
    // be built silently before).
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/shapes-", dir.path().display());
    write_npy_set(&prefix, 60);
    let [_, _, _, test_y] = datasets::npy_set_files(&prefix);
    let (_, mut labels) = synthetic(30, 2);
    labels[7] = 11;
    datasets::write_npy_u8(&test_y, &[30], &labels).unwrap();
    let out = dir.path().join("run");
    let data = format!("npy:{prefix}");
    let output = run(
        "classify",
        &["--data", &data, "--out", out.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("test label 11 at index 7")
            && stderr.contains(&test_y.display().to_string()),
        "{stderr}"
    );
    assert!(!out.join("model.safetensors").exists());
}

#[test]
fn a_bad_data_option_is_a_usage_error_naming_it() {
    for bad in ["csv:x", "idx:", "npy:"] {
        let output = run("train-rbm", &["--data", bad]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(
            stderr.contains("--data") && stderr.contains(bad),
            "{stderr}"
        );
    }
    // A directory without the four files names what is missing.
    let dir = tempfile::tempdir().unwrap();
    let data = format!("idx:{}", dir.path().display());
    let out = dir.path().join("run");
    let output = run(
        "train-rbm",
        &["--data", &data, "--out", out.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("training images") && stderr.contains("test labels"),
        "{stderr}"
    );
}

#[test]
fn gaussian_rbm_trains_on_npy_rows_and_resumes_only_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.npy");
    // 60 rows of 12 values (not a square: filters are drawn 1 x 12).
    let values: Vec<f32> = (0..60 * 12)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    datasets::write_npy_f32(&rows, &[60, 12], &values).unwrap();
    let out = dir.path().join("run");
    let args = [
        "--npy",
        rows.to_str().unwrap(),
        "--hidden",
        "6",
        "--cd-epochs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let stdout = succeeds(&run("gaussian", &args));
    assert!(stdout.contains("recon_mse="), "{stdout}");
    let (_, config) = rbm::load_rbm(&out.join("model.safetensors"), &Device::flex()).unwrap();
    assert_eq!(config.n_visible, 12);
    let run_config = json(&out.join("config.json"));
    assert_eq!(run_config["train"]["monitor_rows"], 6);
    assert!(run_config.get("patches").is_none());
    // A finished run resumes to the same model; a changed file is refused.
    let before = std::fs::read(out.join("model.safetensors")).unwrap();
    let resume = ["--out", out.to_str().unwrap(), "--resume"];
    succeeds(&run("gaussian", &resume));
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        before
    );
    datasets::write_npy_f32(&rows, &[60, 12], &vec![0.5; 60 * 12]).unwrap();
    let output = run("gaussian", &resume);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("rows.npy") && stderr.contains("changed"),
        "{stderr}"
    );
}
