//! Each binary, run as a user would, with bad flags, bad files and
//! misused run directories: it exits non-zero, prints no panic, and names
//! the flag or the path. Cases that must fail before any data is read run
//! without MNIST; the run-directory cases train a tiny RBM on it.

use std::path::Path;
use std::process::{Command, Output};

use burn::prelude::*;

/// The `deepbelief` command with `subcommand` (e.g. "bench cd").
fn deepbelief(subcommand: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deepbelief"));
    command.args(subcommand.split(' '));
    command
}

fn run(name: &str, args: &[&str]) -> Output {
    deepbelief(name)
        .args(args)
        .args(["--device", "flex"])
        .output()
        .expect("the binary runs")
}

/// Asserts a failure that names every one of `names` and shows no panic.
fn fails_naming(output: &Output, names: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "exit 0; stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panicked at"), "a panic: {stderr}");
    for name in names {
        assert!(stderr.contains(name), "{name:?} not named in: {stderr}");
    }
    stderr
}

fn succeeds(output: &Output) {
    assert!(
        output.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[test]
fn bad_flags_fail_before_any_work_and_name_the_flag() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("bench cd", &["--repeats", "0"], &["--repeats"]),
        ("bench cd", &["--cd-batch", "70000"], &["--cd-batch"]),
        ("bench cd", &["--hidden", "0"], &["--hidden", "found 0"]),
        (
            "bench cd",
            &["--hidden", "1000000000000"],
            &["n_hidden", "limit"],
        ),
        ("bound", &["--side", "0"], &["--side"]),
        ("bound", &["--side", "17"], &["--side"]),
        ("bound", &["--hidden", "0"], &["--hidden"]),
        ("bound", &["--hidden", "21"], &["--hidden", "at most 20"]),
        (
            "bound",
            &["--preset", "mnist", "--side", "3"],
            &["--side", "--preset mnist"],
        ),
        (
            "bound",
            &["--samples", "5"],
            &["--samples", "--preset bars"],
        ),
        ("bound", &["--data", "idx:x"], &["--data", "--preset bars"]),
        (
            "bound",
            &["--preset", "mnist", "--ais-runs", "0"],
            &["--ais-runs"],
        ),
        (
            "train-rbm",
            &["--hidden", "1000000000000"],
            &["n_hidden", "limit"],
        ),
        ("train-rbm", &["--held-out", "60000"], &["--held-out"]),
        ("train-rbm", &["--cd-lr=-1"], &["--cd-lr", "-1"]),
        ("train-rbm", &["--train-rows", "0"], &["--train-rows"]),
        ("gaussian", &["--patches", "0"], &["training patches"]),
        ("gaussian", &["--patch", "0"], &["patch side"]),
        ("gaussian", &["--hidden", "0"], &["--hidden"]),
        (
            "gaussian",
            &["--resume", "--cd-epochs", "3"],
            &["--cd-epochs", "--resume"],
        ),
        (
            "gaussian",
            &["--npy", "x.npy", "--patch", "8"],
            &["--npy", "--patch"],
        ),
        ("gaussian", &["--npy", "no-such.npy"], &["no-such.npy"]),
        ("train-rbm", &["--data", "csv:x"], &["--data", "csv:x"]),
        (
            "gaussian-sweeps",
            &["--cd-lr-grid", "0.1,0"],
            &["--cd-lr-grid", "found 0"],
        ),
        ("classify", &["--hidden", "500,0"], &["--hidden", "found 0"]),
        (
            "classify",
            &["--finetune-lr", "5"],
            &["--finetune-lr", "(0, 1]", "found 5"],
        ),
        (
            "classify",
            &["--no-pretrain", "--pretrained", "x"],
            &["--no-pretrain", "--pretrained"],
        ),
        ("generative", &["--sample-steps", "0"], &["--sample-steps"]),
        (
            "generative",
            &["--updown-momentum", "1"],
            &["--updown-momentum"],
        ),
        ("generative", &["--updown-lr", "nan"], &["--updown-lr"]),
        ("generative", &["--updown-lr=-0.01"], &["--updown-lr"]),
        (
            "generative",
            &["--updown-weight-decay=-1"],
            &["--updown-weight-decay"],
        ),
        ("generative", &["--top-cd-lr", "inf"], &["--top-cd-lr"]),
        ("generative", &["--top-pcd-lr", "nan"], &["--top-pcd-lr"]),
        ("generative", &["--top-pcd-lr=-0.001"], &["--top-pcd-lr"]),
        (
            "generative",
            &["--top-pcd-final-lr", "0"],
            &["--top-pcd-final-lr"],
        ),
        (
            "generative",
            &["--top-pcd-epochs", "2", "--top-pcd-final-lr", "0.01"],
            &["--top-pcd-final-lr", "--top-pcd-lr"],
        ),
        ("generative", &["--down-pass", "halfway"], &["--down-pass"]),
        (
            "generative",
            &["--train-per-class", "0"],
            &["--train-per-class"],
        ),
        // More training images than the split has: refused, not clamped.
        (
            "classify",
            &["--train-rows", "50001"],
            &["--train-rows", "50000", "50001"],
        ),
        (
            "generative",
            &["--train-rows", "50001"],
            &["--train-rows", "50000", "50001"],
        ),
        (
            "train-rbm",
            &["--train-rows", "50001"],
            &["--train-rows", "50000", "50001"],
        ),
        (
            "updown-sweep",
            &["--updown-momentum-grid", "0,1.5"],
            &["--updown-momentum-grid"],
        ),
        (
            "updown-sweep",
            &["--updown-lr-grid", "0.01,0"],
            &["--updown-lr-grid"],
        ),
        ("classify", &["--line-searches", "0"], &["--line-searches"]),
        (
            "classify",
            &["--cd-weight-decay=-0.001"],
            &["--cd-weight-decay"],
        ),
        (
            "classify",
            &["--cd-sparsity-target", "1", "--cd-sparsity-cost", "0.1"],
            &["--cd-sparsity-target"],
        ),
        (
            "classify",
            &["--cd-sparsity-target", "0.1"],
            &["--cd-sparsity-cost"],
        ),
        (
            "classify",
            &["--cd-sparsity-cost", "nan", "--cd-sparsity-target", "0.1"],
            &["--cd-sparsity-cost"],
        ),
        (
            "classify",
            &[
                "--cd-sparsity-target",
                "0.1",
                "--cd-sparsity-cost",
                "0.1",
                "--cd-sparsity-decay",
                "1",
            ],
            &["--cd-sparsity-decay"],
        ),
        (
            "classify",
            &["--no-pretrain", "--cd-weight-decay", "0.001"],
            &["--no-pretrain", "--cd-weight-decay"],
        ),
        (
            "classify",
            &["--no-pretrain", "--pretrain-images", "all"],
            &["--no-pretrain", "--pretrain-images"],
        ),
        (
            "classify",
            &[
                "--pretrained",
                "stack.safetensors",
                "--pretrain-images",
                "all",
            ],
            &["--pretrained", "--pretrain-images"],
        ),
        (
            "classify",
            &["--pretrain-images", "half"],
            &["--pretrain-images", "half"],
        ),
        (
            "classify",
            &["--finetune-weight-decay-on", "biases"],
            &["--finetune-weight-decay-on", "biases"],
        ),
        (
            "classify",
            &["--line-searches", "3", "--input-dropout", "0.2"],
            &["conjugate", "dropout"],
        ),
        (
            "generative",
            &["--samples-per-class", "0"],
            &["--samples-per-class"],
        ),
        (
            "generative",
            &["--resume", "--lower-epochs", "3"],
            &["--lower-epochs", "--resume"],
        ),
        (
            "classify",
            &["--resume", "--hidden", "20"],
            &["--hidden", "--resume"],
        ),
        (
            "train-rbm",
            &["--resume", "--cd-epochs", "3"],
            &["--cd-epochs", "--resume"],
        ),
        (
            "top-rbm-sweep",
            &["--lower", "x", "--eval-every", "0"],
            &["--eval-every"],
        ),
        (
            "loglik",
            &["no-such-model.safetensors"],
            &["no-such-model.safetensors"],
        ),
        ("study", &["--seeds", "1"], &["2 seeds"]),
        ("study", &["--seeds", "0"], &["--seeds"]),
        ("study", &["--rates", "0.1,0"], &["--rates", "0"]),
        ("study", &["--rates", "0.1,inf"], &["--rates", "inf"]),
        ("study", &["--rates", "-1"], &["--rates"]),
        (
            "study",
            &["--batch-size", "20000"],
            &["--batch-size", "20000"],
        ),
        ("study", &["--grid-seeds", "11"], &["--grid-seeds"]),
        ("study", &["--depths", "0"], &["depths"]),
        ("study", &["--width", "0"], &["--width"]),
        (
            "study",
            &["--resume", "--finetune-epochs", "3"],
            &["--finetune-epochs", "--resume"],
        ),
        (
            "few-labels",
            &["--labels", "105"],
            &["label count 105", "--labels"],
        ),
        ("few-labels", &["--labels", "abc"], &["--labels", "abc"]),
        (
            "few-labels",
            &["--labels", "20,20"],
            &["--labels", "each count once"],
        ),
        (
            "study",
            &["--depths", "1,2,1"],
            &["--depths", "each depth once"],
        ),
        (
            "study",
            &["--rates", "0.1,0.1"],
            &["--rates", "each rate once"],
        ),
        (
            "gaussian-sweeps",
            &["--hidden-grid", "4,8,4"],
            &["--hidden-grid", "each value once"],
        ),
        ("few-labels", &["--seeds", "0"], &["seed"]),
        ("infinite-sbn", &["--layers", "0"], &["--layers"]),
        (
            "bench finetune",
            &["--finetune-epochs", "0"],
            &["--finetune-epochs"],
        ),
        ("bench finetune", &["--hidden", "0"], &["--hidden"]),
        (
            "bench finetune",
            &["--finetune-weight-decay=-1"],
            &["--finetune-weight-decay", "-1"],
        ),
        (
            "bench finetune",
            &["--train-rows", "60000"],
            &["--train-rows"],
        ),
        (
            "bench finetune",
            &["--hidden-dropout", "1"],
            &["--hidden-dropout", "[0, 1)", "found 1"],
        ),
        ("bench updown", &["--gibbs-steps", "0"], &["--gibbs-steps"]),
        ("bench updown", &["--train-rows", "0"], &["--train-rows"]),
        ("bench products", &["--steps", "0"], &["--steps"]),
        ("bench products", &["--repeats", "0"], &["--repeats"]),
        (
            "bench products",
            &["--hidden", "5,0"],
            &["--hidden", "a unit"],
        ),
        ("infinite-sbn", &["--weight-std=-1"], &["--weight-std"]),
        // Every numeric flag with a rule is checked as it is parsed, so the
        // error names the flag (not a field of the configuration behind it).
        (
            "generative",
            &["--updown-epochs", "0"],
            &["--updown-epochs"],
        ),
        ("generative", &["--top-cd-k", "0"], &["--top-cd-k"]),
        ("classify", &["--cd-epochs", "0"], &["--cd-epochs"]),
        (
            "classify",
            &["--finetune-epochs", "0"],
            &["--finetune-epochs"],
        ),
        (
            "classify",
            &["--finetune-momentum", "1.5"],
            &["--finetune-momentum", "[0, 1)"],
        ),
        ("classify", &["--finetune-lr", "nan"], &["--finetune-lr"]),
        (
            "classify",
            &["--finetune-lr-decay", "0"],
            &["--finetune-lr-decay", "(0, 1]"],
        ),
        ("classify", &["--input-dropout=-0.1"], &["--input-dropout"]),
        (
            "classify",
            &["--finetune-batch", "0"],
            &["--finetune-batch"],
        ),
        (
            "few-labels",
            &["--finetune-epochs", "0"],
            &["--finetune-epochs"],
        ),
        ("train-rbm", &["--cd-momentum", "1"], &["--cd-momentum"]),
        ("train-rbm", &["--cd-final-lr", "inf"], &["--cd-final-lr"]),
        ("train-rbm", &["--cd-batch", "0"], &["--cd-batch"]),
        (
            "train-rbm",
            &["--cd-weight-decay", "nan"],
            &["--cd-weight-decay"],
        ),
        ("gaussian", &["--sigma-init", "0"], &["--sigma-init"]),
        (
            "gaussian-sweeps",
            &["--sigma-grid", "1,-1"],
            &["--sigma-grid"],
        ),
        (
            "top-rbm-sweep",
            &["--lower", "x", "--init-std", "nan"],
            &["--init-std"],
        ),
        ("updown-sweep", &["--gibbs-steps", "0"], &["--gibbs-steps"]),
        ("bound", &["--first-epochs", "0"], &["--first-epochs"]),
        (
            "train-rbm",
            &["--cd-lr", "0.01", "--cd-final-lr", "0.1"],
            &["--cd-final-lr 0.1", "--cd-lr 0.01"],
        ),
        (
            "top-rbm-sweep",
            &["--lower", "x", "--cd-final-lr", "0.5"],
            &["--cd-final-lr 0.5", "--cd-lr 0.1"],
        ),
        (
            "loglik",
            &["no-such-model.safetensors", "--ais-runs", "0"],
            &["--ais-runs"],
        ),
        (
            "study",
            &["--probe-images", "1"],
            &["--probe-images", "found 1"],
        ),
    ];
    for (name, args, names) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut all: Vec<&str> = args.to_vec();
        // No data are needed: these must fail first (and --no-fetch makes
        // any attempt to read MNIST fail differently, which would show).
        all.extend(["--no-fetch", "--mnist-dir"]);
        let nowhere = text(&dir.path().join("no-mnist"));
        all.push(&nowhere);
        let out_text = text(&out);
        if ![
            "bound",
            "bench cd",
            "top-rbm-sweep",
            "loglik",
            "infinite-sbn",
            "bench finetune",
            "bench updown",
            "bench products",
        ]
        .contains(name)
        {
            all.extend(["--out", &out_text]);
        }
        let mut command = deepbelief(name);
        command.args(&all).args(["--device", "flex"]);
        if ["bound", "gaussian", "infinite-sbn", "bench products"].contains(name) {
            // These take no MNIST flags.
            command = deepbelief(name);
            let plain: Vec<&str> = all
                .iter()
                .copied()
                .filter(|a| *a != "--no-fetch" && *a != "--mnist-dir" && *a != nowhere)
                .collect();
            command.args(&plain).args(["--device", "flex"]);
        }
        let output = command.output().unwrap();
        fails_naming(&output, names);
        assert!(
            !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
            "{name} {args:?} left a run directory behind"
        );
    }
}

#[test]
fn a_data_rule_broken_by_a_fresh_run_leaves_no_run_behind() {
    // MNIST has fewer than 9,999 images of each digit before its
    // validation images: known only once the labels are read, after the
    // run directory was started.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let asked = ["--out", &text(&out), "--train-per-class", "9999"];
    fails_naming(&run("generative", &asked), &["--train-per-class", "9999"]);
    assert!(!out.exists(), "the run directory was left behind");
    // A directory that was there (empty) stays, empty; the same command
    // fails the same way again rather than on a used directory.
    std::fs::create_dir(&out).unwrap();
    fails_naming(&run("generative", &asked), &["--train-per-class", "9999"]);
    assert!(std::fs::read_dir(&out).unwrap().next().is_none());
    // The sweep checks the same rule the same way (its preset's 4,400 of
    // each digit among the first 1,000 images).
    let asked = [
        "--out",
        &text(&out),
        "--preset",
        "paper",
        "--train-rows",
        "1000",
    ];
    fails_naming(&run("updown-sweep", &asked), &["--train-per-class", "4400"]);
    assert!(std::fs::read_dir(&out).unwrap().next().is_none());
    // Up-down's class-balanced batches of 100 need 10 images of each digit
    // among the training images in use: checked before the greedy layers
    // train, not after.
    let asked = ["--out", &text(&out), "--train-rows", "30"];
    fails_naming(
        &run("generative", &asked),
        &["class-balanced batches of 100", "--train-rows"],
    );
    assert!(std::fs::read_dir(&out).unwrap().next().is_none());
    // `gaussian --npy` needs 3 rows (2 to fit the whitening, 1 held out):
    // 2 rows of 4 values are refused before the run directory is made.
    std::fs::remove_dir(&out).unwrap();
    let rows = dir.path().join("two-rows.npy");
    datasets::write_npy_f32(&rows, &[2, 4], &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]).unwrap();
    let asked = ["--out", &text(&out), "--npy", &text(&rows)];
    fails_naming(
        &run("gaussian", &asked),
        &["two-rows.npy", "2 rows", "at least 3"],
    );
    assert!(!out.exists(), "the run directory was left behind");
}

#[test]
fn a_stack_file_that_does_not_read_is_refused_before_a_run_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"{}").unwrap();
    let out = dir.path().join("run");
    for (name, flag) in [
        ("classify", "--pretrained"),
        ("generative", "--pretrained-lower"),
        ("generative", "--classifier"),
        ("updown-sweep", "--pretrained-lower"),
    ] {
        let output = run(name, &[flag, &text(&bad), "--out", &text(&out)]);
        fails_naming(
            &output,
            &["bad.safetensors", "not a valid safetensors file"],
        );
        assert!(!out.exists(), "{name} {flag} left a run directory behind");
    }
}

#[test]
fn a_fresh_run_refuses_a_used_directory_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    for name in ["train-rbm", "classify", "generative", "gaussian"] {
        let output = run(name, &["--out", &text(dir.path())]);
        fails_naming(&output, &[&text(dir.path()), "--resume", "--overwrite"]);
    }
    // --overwrite deletes only a run, never other files.
    let output = run("train-rbm", &["--out", &text(dir.path()), "--overwrite"]);
    fails_naming(&output, &[&text(dir.path()), "no run"]);
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn bad_model_files_are_named_errors_not_panics_or_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    // A model of NaN weights.
    let config = rbm::RbmConfig::new(784, 5);
    let mut model = config.init(&device, 1);
    model.weight = model.weight.map(|w| w * f32::NAN);
    let nan = dir.path().join("nan.safetensors");
    rbm::save_rbm(&model, &config, &nan).unwrap();
    let output = run("loglik", &[&text(&nan), "--no-fetch"]);
    fails_naming(&output, &["nan.safetensors", "NaN"]);
    // Metadata that claims 10^12 hidden units over 3 small tensors.
    let huge = dir.path().join("huge.safetensors");
    let hostile = rbm::RbmConfig::new(784, 1_000_000_000_000);
    let data = [0u8; 4 * 16];
    let views = [
        (
            "weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4, 2], &data[..32])
                .unwrap(),
        ),
        (
            "visible_bias",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4], &data[32..48])
                .unwrap(),
        ),
        (
            "hidden_bias",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4], &data[48..64])
                .unwrap(),
        ),
    ];
    let metadata = std::collections::HashMap::from([(
        rbm::CONFIG_METADATA_KEY.to_string(),
        serde_json::to_string(&hostile).unwrap(),
    )]);
    safetensors::serialize_to_file(views, Some(metadata), &huge).unwrap();
    let output = run("loglik", &[&text(&huge), "--no-fetch"]);
    fails_naming(&output, &["huge.safetensors", "limit"]);
    // A one-layer stack where two lower layers are needed.
    let one = dir.path().join("one.safetensors");
    let layer = rbm::RbmConfig::new(784, 10).init(&device, 1);
    dbn::save_stack(&dbn::RbmStack::new(vec![layer]), &one).unwrap();
    let output = run("top-rbm-sweep", &["--lower", &text(&one), "--no-fetch"]);
    fails_naming(&output, &["one.safetensors", "1 layer"]);
    // A file of another kind (a stack given as an RBM, an RBM as a stack)
    // names the entry it lacks and the entries it has.
    let output = run("loglik", &[&text(&one), "--no-fetch"]);
    fails_naming(
        &output,
        &[
            "one.safetensors",
            "no `rbm_config`",
            "its entries:",
            "`stack_layers`",
        ],
    );
    let single = dir.path().join("rbm.safetensors");
    rbm::save_rbm(&config.init(&device, 1), &config, &single).unwrap();
    let output = run("top-rbm-sweep", &["--lower", &text(&single), "--no-fetch"]);
    fails_naming(
        &output,
        &[
            "rbm.safetensors",
            "no `stack_layers`",
            "its entries:",
            "`rbm_config`",
        ],
    );
}

#[test]
fn a_png_bomb_is_refused_by_gaussian_rbm() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    // A real 2x2 PNG re-labelled as 100000 x 100000 (CRC fixed).
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, 2, 2);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[1, 2, 3, 4]).unwrap();
    }
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(images.join("bomb.png"), &png).unwrap();
    let out = dir.path().join("run");
    let output = deepbelief("gaussian")
        .args([
            "--images-dir",
            &text(&images),
            "--out",
            &text(&out),
            "--device",
            "flex",
        ])
        .output()
        .unwrap();
    fails_naming(&output, &["bomb.png", "100000x100000"]);
}

/// A tiny train-rbm run on real MNIST: 200 images, 8 hidden units.
fn tiny_rbm(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--out",
        out.to_str().unwrap(),
        "--hidden",
        "8",
        "--train-rows",
        "200",
        "--held-out",
        "100",
        "--cd-batch",
        "50",
    ];
    args.extend_from_slice(extra);
    run("train-rbm", &args)
}

#[test]
fn keep_subnormals_is_taken_by_a_run_and_by_its_resume() {
    // How the CPU treats floats below 1.2e-38 is the process's, like
    // --device: a run may be resumed either way.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rbm");
    succeeds(&tiny_rbm(&out, &["--cd-epochs", "1", "--keep-subnormals"]));
    succeeds(&run(
        "train-rbm",
        &["--out", &text(&out), "--resume", "--keep-subnormals"],
    ));
    succeeds(&run("train-rbm", &["--out", &text(&out), "--resume"]));
}

#[test]
fn run_directories_belong_to_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rbm");
    succeeds(&tiny_rbm(&out, &["--cd-epochs", "1"]));
    let commit = json_of(&out.join("checkpoint.commit.json"));
    assert_eq!(commit["step"]["epochs_done"], 1);

    // A fresh run into it is refused; --overwrite starts over.
    fails_naming(
        &tiny_rbm(&out, &["--cd-epochs", "1"]),
        &[&text(&out), "--resume"],
    );

    // Flags that --resume would ignore are refused.
    let output = run(
        "train-rbm",
        &["--out", &text(&out), "--resume", "--hidden", "9"],
    );
    fails_naming(&output, &["--hidden"]);

    // A config.json edited after the start is not the run's.
    let config_path = out.join("config.json");
    let original = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        original.replace("\"epochs\": 1", "\"epochs\": 2"),
    )
    .unwrap();
    let output = run("train-rbm", &["--out", &text(&out), "--resume"]);
    fails_naming(
        &output,
        &[
            "config.json",
            "not the configuration the run started with",
            "train.epochs (1 -> 2)",
        ],
    );
    std::fs::write(&config_path, &original).unwrap();

    // A checkpoint of another configuration is refused.
    let other = dir.path().join("other");
    succeeds(&tiny_rbm(&other, &["--cd-epochs", "1", "--seed", "7"]));
    std::fs::copy(
        other.join("checkpoint.commit.json"),
        out.join("checkpoint.commit.json"),
    )
    .unwrap();
    let output = run("train-rbm", &["--out", &text(&out), "--resume"]);
    fails_naming(
        &output,
        &["checkpoint.commit.json", "another configuration"],
    );

    // A torn checkpoint (a file changed after its commit) is refused.
    let fresh = dir.path().join("torn");
    succeeds(&tiny_rbm(&fresh, &["--cd-epochs", "1"]));
    let model = fresh.join("checkpoint/model-1.safetensors");
    let mut bytes = std::fs::read(&model).unwrap();
    bytes.truncate(bytes.len() - 4);
    std::fs::write(&model, bytes).unwrap();
    let output = run("train-rbm", &["--out", &text(&fresh), "--resume"]);
    fails_naming(&output, &["torn checkpoint", "model-1.safetensors"]);
}

/// While one process works on a run, a second `--resume` of it and an
/// `--overwrite` are refused, naming the directory, and leave it alone.
#[test]
fn a_run_in_progress_is_refused_to_a_second_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rbm");
    // Long enough to be running while the others are tried (killed below).
    let mut first = deepbelief("train-rbm")
        .args(["--out", &text(&out), "--hidden", "8", "--train-rows", "200"])
        .args([
            "--held-out",
            "100",
            "--cd-batch",
            "50",
            "--cd-epochs",
            "100000",
        ])
        .args(["--device", "flex"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !out.join("checkpoint.commit.json").exists() {
        assert!(std::time::Instant::now() < deadline, "no first checkpoint");
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first process ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let resumed = run("train-rbm", &["--out", &text(&out), "--resume"]);
    let overwritten = tiny_rbm(&out, &["--cd-epochs", "1", "--overwrite"]);
    let still_running = first.try_wait().unwrap().is_none();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        still_running,
        "the first process ended before the others were tried"
    );
    for output in [&resumed, &overwritten] {
        fails_naming(output, &[&text(&out), "another process"]);
    }
    assert!(
        out.join("checkpoint.commit.json").exists(),
        "the run was deleted"
    );
}

#[test]
fn a_run_interrupted_before_its_first_checkpoint_restarts_from_its_own_config() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    succeeds(&tiny_rbm(&whole, &["--cd-epochs", "2"]));
    // The state a kill leaves before the first commit: run.json and
    // config.json only (and stale files of nobody's, which are ignored).
    let cut = dir.path().join("cut");
    std::fs::create_dir(&cut).unwrap();
    for file in ["run.json", "config.json"] {
        std::fs::copy(whole.join(file), cut.join(file)).unwrap();
    }
    succeeds(&run("train-rbm", &["--out", &text(&cut), "--resume"]));
    // The same tensors, bit for bit (the header's metadata order may differ).
    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(cut.join("model.safetensors")).unwrap();
    let (a, b) = (
        safetensors::SafeTensors::deserialize(&a).unwrap(),
        safetensors::SafeTensors::deserialize(&b).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    assert_eq!(names.len(), 3);
    for name in names {
        assert_eq!(
            a.tensor(name).unwrap().data(),
            b.tensor(name).unwrap().data(),
            "{name}"
        );
    }
    let lines = std::fs::read_to_string(cut.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "one metrics line per epoch");
}

/// A JSON file of a run directory.
fn json_of(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn classify_pretraining_regularisers_reach_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("classify");
    succeeds(&run(
        "classify",
        &[
            "--out",
            &text(&out),
            "--train-rows",
            "500",
            "--hidden",
            "20,10",
            "--cd-epochs",
            "1",
            "--finetune-epochs",
            "1",
            "--cd-weight-decay",
            "0.001",
            "--cd-sparsity-target",
            "0.05",
            "--cd-sparsity-cost",
            "0.2",
        ],
    ));
    let layers = &json_of(&out.join("config.json"))["stack"]["layers"];
    assert_eq!(layers.as_array().map(Vec::len), Some(2));
    for layer in layers.as_array().unwrap() {
        let train = &layer["train"];
        assert_eq!(train["weight_decay"], 0.001);
        assert_eq!(train["sparsity"]["target"], 0.05);
        assert_eq!(train["sparsity"]["cost"], 0.2);
        assert_eq!(train["sparsity"]["decay"], 0.9, "the flag's default");
    }
}

/// `--pretrain-images all` pretrains on the training images in use and
/// the validation images, says so, records it, and has no held-out
/// images to report on; the default pretrains on the training images.
#[test]
fn classify_pretrains_on_the_validation_images_too_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = |name: &str, images: &str| {
        let out = dir.path().join(name);
        let output = run(
            "classify",
            &[
                "--out",
                &text(&out),
                "--train-rows",
                "300",
                "--hidden",
                "10",
                "--cd-epochs",
                "1",
                "--finetune-epochs",
                "1",
                "--pretrain-images",
                images,
            ],
        );
        succeeds(&output);
        let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        let pretraining: Vec<&str> = metrics
            .lines()
            .filter(|l| l.contains("pretrain layer"))
            .collect();
        assert_eq!(pretraining.len(), 1, "one CD epoch: {metrics}");
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            json_of(&out.join("config.json")),
            pretraining[0].contains("valid_rbm"),
        )
    };
    let (stdout, config, held_out) = tiny("all", "all");
    assert!(
        stdout.contains("pretraining images: 10300 (the training and validation images)"),
        "{stdout}"
    );
    assert_eq!(config["pretrain_images"], "all");
    assert!(!held_out, "no image is held out from pretraining");
    let (stdout, config, held_out) = tiny("training", "training");
    assert!(
        stdout.contains(
            "pretraining images: 300 (the training images; the validation images held out)"
        ),
        "{stdout}"
    );
    assert!(
        config.get("pretrain_images").is_none(),
        "the default is not written"
    );
    assert!(held_out, "the validation images are held out");
}

#[test]
fn generative_keeps_its_classifier_across_a_resume_and_checks_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let classifier_run = dir.path().join("classifier");
    succeeds(&run(
        "classify",
        &[
            "--out",
            &text(&classifier_run),
            "--train-rows",
            "1000",
            "--hidden",
            "20",
            "--cd-epochs",
            "1",
            "--finetune-epochs",
            "1",
        ],
    ));
    let model = classifier_run.join("model.safetensors");
    let tiny = |out: &Path, classifier: &Path| -> Vec<String> {
        [
            "--out",
            &text(out),
            "--train-rows",
            "1000",
            "--lower-epochs",
            "1",
            "--top-epochs",
            "1",
            "--updown-epochs",
            "1",
            "--final-epochs",
            "0",
            "--top-pcd-epochs",
            "2",
            "--sample-steps",
            "5",
            "--samples-per-class",
            "2",
            "--classifier",
            &text(classifier),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let out = dir.path().join("generative");
    let args = tiny(&out, &model);
    succeeds(&run(
        "generative",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let recorded = &json_of(&out.join("config.json"))["classifier"];
    assert_eq!(recorded["sha256"].as_str().map(str::len), Some(64));
    let labelled = |out: &Path| {
        json_of(&out.join("result.json"))["clamped_sample_accuracy_by_classifier_percent"]
            .as_f64()
            .is_some()
    };
    assert!(labelled(&out), "the first process labels the samples");

    // Resumed for one more up-down epoch without --classifier: the recorded
    // classifier still labels the samples.
    std::fs::remove_file(out.join("result.json")).unwrap();
    succeeds(&run(
        "generative",
        &["--out", &text(&out), "--resume", "--updown-epochs", "2"],
    ));
    assert!(labelled(&out), "the resumed process labels the samples");
    // The quick preset's mean-field pass, the default, is not written (as
    // in runs from before the choice).
    assert!(json_of(&out.join("config.json")).get("down_pass").is_none());

    // Resumed once more, finished, to read the samples off by HOT's sampled
    // down pass: recorded, and the samples labelled again.
    std::fs::remove_file(out.join("result.json")).unwrap();
    succeeds(&run(
        "generative",
        &["--out", &text(&out), "--resume", "--down-pass", "sampled"],
    ));
    assert_eq!(json_of(&out.join("config.json"))["down_pass"], "sampled");
    assert!(
        labelled(&out),
        "the resumed process labels the samples again"
    );

    // A classifier file that changed since the start is refused.
    let changed = dir.path().join("changed.safetensors");
    std::fs::copy(&model, &changed).unwrap();
    let copy = dir.path().join("copy");
    let args = tiny(&copy, &changed);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    succeeds(&run("generative", &args));
    std::fs::write(&changed, b"not the same file").unwrap();
    std::fs::remove_file(copy.join("result.json")).unwrap();
    fails_naming(
        &run("generative", &["--out", &text(&copy), "--resume"]),
        &["--classifier", "changed.safetensors", "SHA-256 changed"],
    );

    // A file that is not a classifier fails before any training.
    let wrong = dir.path().join("wrong");
    let args = tiny(&wrong, &out.join("greedy.safetensors"));
    fails_naming(
        &run(
            "generative",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ),
        &["greedy.safetensors"],
    );
    assert!(
        !wrong.join("pretrain.commit.json").exists(),
        "no training before the check"
    );
}

#[test]
fn train_rbm_loglik_is_the_loglik_subcommands_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let ais = ["--ais-runs", "10", "--ais-steps", "200"];
    // A run on some of the training images, and one on all of them (whose
    // binarised training images the estimate reuses rather than makes again).
    let subset = dir.path().join("rbm");
    let mut args = vec!["--cd-epochs", "2", "--loglik"];
    args.extend(ais);
    succeeds(&tiny_rbm(&subset, &args));
    let whole = dir.path().join("whole");
    let whole_text = text(&whole);
    let mut args = vec![
        "--out",
        &whole_text,
        "--hidden",
        "8",
        "--train-rows",
        "60000",
        "--held-out",
        "0",
        "--cd-batch",
        "500",
        "--cd-epochs",
        "1",
        "--loglik",
    ];
    args.extend(ais);
    succeeds(&run("train-rbm", &args));
    for (out, epochs) in [(&subset, 2), (&whole, 1)] {
        let result = json_of(&out.join("result.json"));
        let number = |name: &str| {
            result[name]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} in {result}"))
        };
        assert_eq!(result["epochs_done"], epochs);
        assert!(number("log_z_low") <= number("log_z") && number("log_z") <= number("log_z_high"));
        // A log-likelihood of binary images is a log-probability: below 0.
        assert!(number("test_loglik") < 0.0 && number("train_loglik") < 0.0);
        // The subcommand, given the run directory and the same AIS flags,
        // measures the same model on the same images with the same runs.
        let output = run("loglik", &[&text(out), ais[0], ais[1], ais[2], ais[3]]);
        succeeds(&output);
        let printed = String::from_utf8_lossy(&output.stdout);
        for name in ["train_loglik", "test_loglik"] {
            assert!(
                printed.contains(&format!("{name}={:.3}", number(name))),
                "{}: {name} {} in result.json, loglik printed:\n{printed}",
                out.display(),
                number(name)
            );
        }
        // 8 hidden units: log Z is also summed exactly over their 256
        // states, and AIS is reported against it.
        let exact = number("exact_log_z");
        assert!(
            printed.contains(&format!("exact_log_z={exact:.4}")),
            "{printed}"
        );
        let shifted = number("test_loglik") + number("log_z") - exact;
        assert!(
            printed.contains(&format!("exact_test_loglik={shifted:.3}")),
            "{printed}"
        );
        assert!(printed.contains("AIS is "), "{printed}");
        // Annealed over the 8 hidden units instead: the same exact log Z,
        // and an estimate inside its own band of it (with f32's 1e-4).
        let output = run(
            "loglik",
            &[
                &text(out),
                ais[0],
                ais[1],
                ais[2],
                ais[3],
                "--ais-side",
                "hidden",
            ],
        );
        succeeds(&output);
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(printed.contains("over the hidden units"), "{printed}");
        let value = |key: &str| -> f64 {
            printed
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("{key} in {printed}"))
                .parse()
                .unwrap()
        };
        assert_eq!(value("exact_log_z"), (exact * 1e4).round() / 1e4);
        let band: Vec<f64> = printed
            .lines()
            .find_map(|l| l.split_once("3-sigma band [").map(|(_, rest)| rest))
            .and_then(|rest| rest.split_once(']'))
            .map(|(band, _)| band.split(", ").map(|x| x.parse().unwrap()).collect())
            .unwrap_or_else(|| panic!("band in {printed}"));
        assert!(
            band[0] - 1e-3 <= exact && exact <= band[1] + 1e-3,
            "{band:?} vs {exact}"
        );
    }
    // The AIS flags mean nothing without --loglik.
    let output = tiny_rbm(&dir.path().join("plain"), &["--ais-runs", "5"]);
    fails_naming(&output, &["--loglik"]);
}

#[test]
fn divergence_is_an_error_and_no_model_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rbm");
    let output = tiny_rbm(&out, &["--cd-epochs", "2", "--cd-lr", "1000"]);
    fails_naming(&output, &["diverged at epoch 1"]);
    assert!(!out.join("model.safetensors").exists());
    assert!(!out.join("checkpoint.commit.json").exists());
}

#[test]
fn exploding_biases_are_divergence_naming_the_epoch_and_no_model_is_saved() {
    // At a learning rate of 1000 the weights decay towards zero while the
    // biases (no decay) reach thousands: every hidden unit dead, with a
    // reconstruction error still under the trivial-predictor rule. Before
    // the bias rule this run exited 0 and saved that model.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rbm");
    let output = run(
        "train-rbm",
        &[
            "--out",
            &text(&out),
            "--cd-epochs",
            "3",
            "--hidden",
            "20",
            "--train-rows",
            "2000",
            "--cd-lr",
            "1000",
        ],
    );
    fails_naming(&output, &["diverged at epoch 1", "largest bias"]);
    assert!(!out.join("model.safetensors").exists());
    assert!(!out.join("checkpoint.commit.json").exists());
}

/// The subcommands, by name.
const SUBCOMMANDS: [&str; 17] = [
    "train-rbm",
    "updown-sweep",
    "seeds",
    "classify",
    "generative",
    "top-rbm-sweep",
    "bound",
    "loglik",
    "bench cd",
    "gaussian",
    "gaussian-sweeps",
    "study",
    "few-labels",
    "infinite-sbn",
    "bench finetune",
    "bench updown",
    "bench products",
];

#[test]
fn every_flag_has_help_text_and_every_subcommand_a_version() {
    for name in SUBCOMMANDS {
        let help = deepbelief(name).arg("--help").output().unwrap();
        assert!(help.status.success(), "{name} --help");
        let text = String::from_utf8_lossy(&help.stdout).into_owned();
        // Doc comments are the help: rustdoc's links mean nothing there.
        for line in text.lines() {
            assert!(
                !line.contains("[`"),
                "{name} --help shows a rustdoc link: {line}"
            );
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if !(2..=6).contains(&indent) || !trimmed.starts_with('-') {
                continue;
            }
            // The flag, its value name, then the help (or the help on the
            // next, deeper-indented line); defaults alone are not help.
            let flag = trimmed
                .split_whitespace()
                .find(|w| w.starts_with("--"))
                .unwrap_or(trimmed);
            if flag == "--help" || flag == "--version" {
                continue;
            }
            let after: String = trimmed
                .split("  ")
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
                .split('[')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            let next_is_help = lines
                .get(i + 1)
                .is_some_and(|n| n.len() - n.trim_start().len() > 6 && !n.trim().is_empty());
            assert!(
                !after.is_empty() || next_is_help,
                "{name} {flag} has no help text"
            );
        }
        let version = deepbelief(name).arg("--version").output().unwrap();
        let version = String::from_utf8_lossy(&version.stdout).into_owned();
        assert!(
            version.contains(env!("CARGO_PKG_VERSION")),
            "{name} --version: {version}"
        );
    }
}

/// The `test_error=` line of a run's output.
fn test_error_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|l| l.starts_with("test_error="))
        .unwrap_or_else(|| {
            panic!(
                "no test_error line: {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
        .to_string()
}

#[test]
fn resuming_a_finished_classifier_reports_the_same_model() {
    // The kept checkpoints are measured again on resume: the records of
    // the first process (which chose the model) are gone in the second, and
    // a killed process can leave an older checkpoint behind that Burn's
    // strategy of the new process never deletes. Such a leftover (a worse
    // epoch-1 model) is planted here; the reported model must not change.
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path, epochs: &'static str| -> Vec<String> {
        [
            "--out",
            &text(out),
            "--train-rows",
            "1000",
            "--hidden",
            "50",
            "--cd-epochs",
            "1",
            "--finetune-epochs",
            epochs,
            "--patience",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let short = dir.path().join("short");
    let out = dir.path().join("classify");
    let short_args = args(&short, "1");
    let short_args: Vec<&str> = short_args.iter().map(String::as_str).collect();
    succeeds(&run("classify", &short_args));
    let long_args = args(&out, "4");
    let long_args: Vec<&str> = long_args.iter().map(String::as_str).collect();
    let first = run("classify", &long_args);
    succeeds(&first);
    let checkpoints = out.join("learner/checkpoint");
    if !checkpoints.join("model-1.bpk").exists() {
        for part in ["model", "optim", "scheduler"] {
            std::fs::copy(
                short.join(format!("learner/checkpoint/{part}-1.bpk")),
                checkpoints.join(format!("{part}-1.bpk")),
            )
            .unwrap();
        }
    }
    let again = run("classify", &["--out", &text(&out), "--resume"]);
    succeeds(&again);
    assert_eq!(test_error_line(&first), test_error_line(&again));
}

/// `gaussian-sweeps` into `out` with these rate and hidden-unit grids,
/// sigma 1 and one epoch a row.
fn small_gaussian_sweep(out: &Path, rates: &str, hidden: &str) -> Output {
    run(
        "gaussian-sweeps",
        &[
            "--cd-lr-grid",
            rates,
            "--hidden-grid",
            hidden,
            "--sigma-grid",
            "1.0",
            "--cd-epochs",
            "1",
            "--out",
            &text(out),
        ],
    )
}

#[test]
fn gaussian_sweeps_resume_measures_only_the_missing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    succeeds(&small_gaussian_sweep(&out, "0.1,0.01", "4"));
    let read = json_of;
    let full = read(&out.join("sweeps.json"));
    assert_eq!(full["rates"].as_array().unwrap().len(), 4);
    // As if killed after the first row: only its unit stays committed.
    let rows = out.join("rows");
    let kept = rows.join("rate-0-binary.commit.json");
    for entry in std::fs::read_dir(&rows).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".commit.json") && path != kept {
            std::fs::remove_file(path).unwrap();
        }
    }
    let kept_at = std::fs::metadata(&kept).unwrap().modified().unwrap();
    std::fs::remove_file(out.join("sweeps.json")).unwrap();
    // Flags of the sweep are refused with --resume; the rest is measured again.
    let refused = run(
        "gaussian-sweeps",
        &[
            "--out",
            out.to_str().unwrap(),
            "--resume",
            "--cd-epochs",
            "2",
        ],
    );
    fails_naming(&refused, &["--cd-epochs", "--resume"]);
    succeeds(&run(
        "gaussian-sweeps",
        &["--out", out.to_str().unwrap(), "--resume"],
    ));
    let resumed = read(&out.join("sweeps.json"));
    // The kept row was not measured (nor committed) again; the others were.
    assert_eq!(
        std::fs::metadata(&kept).unwrap().modified().unwrap(),
        kept_at
    );
    assert_eq!(std::fs::read_dir(&rows).unwrap().count(), 2 * (4 + 1));
    // Seeded runs: the same numbers (JSON round trips may move the last bit).
    let close = |a: &serde_json::Value, b: &serde_json::Value| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(1e-300),
        _ => a == b,
    };
    for key in ["rates", "sigma_hidden"] {
        let (a, b) = (
            full[key].as_array().unwrap(),
            resumed[key].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{key}");
        for (row_a, row_b) in a.iter().zip(b) {
            for (field, value) in row_a.as_object().unwrap() {
                assert!(
                    close(value, &row_b[field]),
                    "{key}.{field}: {value} vs {}",
                    row_b[field]
                );
            }
        }
    }
}

#[test]
fn seeds_summarises_finished_runs_and_names_an_unfinished_one() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, error) in [(1, 1.25), (2, 1.5)] {
        let run = dir.path().join(format!("seed{seed}"));
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("config.json"), format!("{{\"seed\": {seed}}}")).unwrap();
        std::fs::write(
            run.join("result.json"),
            format!("{{\"test_error_percent\": {error}}}"),
        )
        .unwrap();
    }
    let unfinished = dir.path().join("seed3");
    std::fs::create_dir_all(&unfinished).unwrap();
    let (one, two) = (
        text(&dir.path().join("seed1")),
        text(&dir.path().join("seed2")),
    );
    let output = deepbelief("seeds")
        .args([&one, &two, "--json"])
        .output()
        .unwrap();
    succeeds(&output);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let field = &summary["fields"]["test_error_percent"];
    assert_eq!(field["mean"], 1.375);
    assert_eq!(field["standard_error"], 0.125);
    let output = deepbelief("seeds")
        .args([&one, &text(&unfinished)])
        .output()
        .unwrap();
    fails_naming(&output, &[&text(&unfinished), "result.json"]);
    fails_naming(&deepbelief("seeds").output().unwrap(), &["<RUNS>"]);
}

#[test]
fn the_generative_paper_preset_trains_on_a_thousand_images() {
    // HOT's CD-1 top RBM (510-2000, rate 0.03) reconstructs far worse than
    // the trivial predictor after the first ten updates; that transient is
    // not a divergence (the rule waits rbm::DIVERGENCE_WARMUP_UPDATES).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("generative");
    succeeds(&run(
        "generative",
        &[
            "--preset",
            "paper",
            "--out",
            &text(&out),
            "--train-rows",
            "2000",
            "--train-per-class",
            "100",
            "--lower-epochs",
            "1",
            "--top-epochs",
            "2",
            "--updown-epochs",
            "1",
            "--final-epochs",
            "0",
            "--sample-steps",
            "5",
            "--samples-per-class",
            "1",
        ],
    ));
    assert!(out.join("result.json").exists());
}

#[test]
fn top_rbm_sweep_reports_every_nth_epoch_and_the_last() {
    // Two random lower layers (784-20-20) and a 30-unit top RBM over
    // [features, labels] for 5 epochs, reported every 2: epochs 2, 4 and
    // the last, 5, each with a validation error that is a percentage.
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower.safetensors");
    let device = Device::flex();
    let layers = vec![
        rbm::RbmConfig::new(784, 20).init(&device, 1),
        rbm::RbmConfig::new(20, 20).init(&device, 2),
    ];
    dbn::save_stack(&dbn::RbmStack::new(layers), &lower).unwrap();
    let output = run(
        "top-rbm-sweep",
        &[
            "--lower",
            &text(&lower),
            "--hidden",
            "30",
            "--cd-epochs",
            "5",
            "--eval-every",
            "2",
            "--train-rows",
            "1000",
        ],
    );
    succeeds(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reports: Vec<(usize, f64)> = stdout
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let epoch = words.get(1)?.parse().ok()?;
            let error = words.get(5)?.trim_end_matches('%').parse().ok()?;
            (words[0] == "epoch" && words[4] == "valid_error").then_some((epoch, error))
        })
        .collect();
    let epochs: Vec<usize> = reports.iter().map(|&(epoch, _)| epoch).collect();
    assert_eq!(epochs, [2, 4, 5], "{stdout}");
    for (epoch, error) in reports {
        assert!((0.0..=100.0).contains(&error), "epoch {epoch}: {error}");
    }
}

#[test]
fn gaussian_loglik_writes_ais_and_exact_log_z_that_agree() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let common = [
        "--patch",
        "4",
        "--patches",
        "500",
        "--hidden",
        "6",
        "--cd-epochs",
        "2",
        "--out",
    ];
    // The AIS flags need --loglik.
    let refused = run(
        "gaussian",
        &[&common[..], &[&text(&out), "--ais-runs", "5"]].concat(),
    );
    fails_naming(&refused, &["--loglik"]);
    let output = run(
        "gaussian",
        &[
            &common[..],
            &[&text(&out), "--loglik", "--ais-steps", "1000"],
        ]
        .concat(),
    );
    succeeds(&output);
    let result = json_of(&out.join("result.json"));
    let number = |key: &str| {
        result[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {result}"))
    };
    // 6 binary hidden units: the exact log Z by enumeration, inside AIS's
    // 3-sigma band (f32 free energies add about 1e-4 of rounding).
    let exact = number("exact_log_z");
    assert!(
        number("log_z_low") - 1e-3 <= exact && exact <= number("log_z_high") + 1e-3,
        "{result}"
    );
    assert!(number("test_loglik").is_finite() && number("held_out_recon_mse") > 0.0);
    assert!(number("effective_runs") > 1.0 && number("effective_runs") <= 100.0 + 1e-9);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("exact_test_loglik="), "{stdout}");
}

#[test]
fn gaussian_sweeps_estimate_the_log_likelihood_by_ais_beyond_20_hidden_units() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let output = small_gaussian_sweep(&out, "0.01", "20,21");
    succeeds(&output);
    let sweeps = json_of(&out.join("sweeps.json"));
    let rows = sweeps["sigma_hidden"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // 20 hidden units: exact; 21: AIS, with its band.
    assert!(rows[0]["held_out_log_likelihood"].as_f64().is_some());
    assert!(rows[0].get("held_out_log_likelihood_ais").is_none());
    assert!(rows[1]["held_out_log_likelihood"].is_null());
    let ais = &rows[1]["held_out_log_likelihood_ais"];
    let (ll, log_z) = (
        ais["log_likelihood"].as_f64().unwrap(),
        ais["log_z"].as_f64().unwrap(),
    );
    assert!(ll.is_finite() && log_z <= ais["log_z_high"].as_f64().unwrap());
    // After one epoch at rate 0.01 both models are still close to the
    // unit Gaussian (-83.3 nats a patch here, for 20 and for 21 units);
    // a normalisation error in AIS would move the second by whole nats
    // (a hidden unit's ln 2 = 0.69, the visible units' 64 ln sqrt(2 pi) = 58.8).
    let exact = rows[0]["held_out_log_likelihood"].as_f64().unwrap();
    assert!((ll - exact).abs() < 0.5, "{exact} vs {ll}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("(AIS: log Z"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn bound_on_mnist_starts_at_log_p_v_and_reports_both_log_z_estimates() {
    // A 784-16 first layer: with the second layer its transpose, the
    // sampled bound is log p(v) itself (the same log Z), so the table's
    // two columns must print the same number.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = run(
        "bound",
        &[
            "--out",
            out.to_str().unwrap(),
            "--preset",
            "mnist",
            "--hidden",
            "16",
            "--first-epochs",
            "1",
            "--second-epochs",
            "1",
            "--seeds",
            "1",
            "--samples",
            "3",
            "--test-rows",
            "300",
            "--ais-runs",
            "20",
            "--ais-steps",
            "300",
        ],
    );
    succeeds(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let row = stdout
        .lines()
        .find(|line| line.starts_with("| 1 |"))
        .unwrap_or_else(|| panic!("no row for seed 1:\n{stdout}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let log_p: f64 = cells[2].parse().unwrap();
    let before: f64 = cells[3].split(' ').next().unwrap().parse().unwrap();
    let after: f64 = cells[4].split(' ').next().unwrap().parse().unwrap();
    assert_eq!(log_p, before, "{row}");
    assert!(log_p < 0.0 && after.is_finite(), "{row}");
    // log Z of layer 1 (hidden side), of layer 2, of layer 1 (pixel side).
    assert!(cells[6..9].iter().all(|c| c.contains("eff.")), "{row}");
    // The run's summary holds the row and the gain over the one seed.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bound.json")).unwrap()).unwrap();
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{summary}");
    let (kept_before, kept_after) = (
        rows[0]["before"].as_f64().unwrap(),
        rows[0]["after"].as_f64().unwrap(),
    );
    assert!((kept_before - before).abs() < 0.005, "{summary}");
    assert!((kept_after - after).abs() < 0.005, "{summary}");
    assert_eq!(
        summary["gain_mean"].as_f64().unwrap(),
        kept_after - kept_before
    );
    assert!(summary["gain_standard_error"].is_null(), "{summary}");
}

#[test]
fn bound_on_bars_refuses_a_run_directory() {
    // The bars preset prints its exact figures and writes no run: a run
    // flag is refused, not ignored.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = run(
        "bound",
        &["--preset", "bars", "--out", out.to_str().unwrap()],
    );
    fails_naming(&output, &["--out", "--preset bars"]);
    assert!(!out.exists());
}
