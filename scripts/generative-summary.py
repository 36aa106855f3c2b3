#!/usr/bin/env python3
"""The per-seed summary of a finished `generative --preset paper` run, for
docs/results/: its result.json, HOT's figures beside it, the wall time by
phase and the per-epoch curves from metrics.jsonl.

    scripts/generative-summary.py runs/generative-paper-seed2 \
        --machine "2-core Intel Xeon with AVX-512 (a VM), Flex; beside ..." \
        > docs/results/generative-paper-seed2-DATE.json

The run's own config.json gives the seed and the command; what the
machine was and what ran beside it is the caller's to say.
"""
import argparse
import datetime
import json
import pathlib
import sys

import finished_run

# Hinton, Osindero & Teh (2006), section 6.
HOT = {
    "greedy_test_error_percent": 2.49,
    "updown_best_valid_test_error_percent": 1.39,
    "after_final_phase_test_error_percent": 1.25,
    "final_phase_epochs": 59,
}


def arm_flags(config):
    """The flags of scripts/headline-runs.sh's extra arms that the run's
    configuration records: the greedy top RBM's CD (always: the preset's
    changed on 2026-12-04 from CD-5 at 0.1, mean-field, to HOT's CD-1 at
    0.03, sampled), the persistent-CD phase (paper-pcd), HOT's sampled
    top-RBM statistics (hot-stats) and a lower stack taken from another run."""
    top = config["top"]["layers"][0]["train"]
    reconstruction = "mean-field" if top["mean_field_reconstruction"] else "sampled"
    flags = [
        f"--top-cd-k {top['k']}",
        f"--top-cd-lr {top['learning_rate']}",
        f"--top-{reconstruction}-reconstruction",
    ]
    pcd = config.get("top_pcd") or {}
    if pcd.get("epochs"):
        flags += [f"--top-pcd-epochs {pcd['epochs']}", f"--top-pcd-lr {pcd['learning_rate']}"]
        if pcd.get("final_learning_rate") is not None:
            flags.append(f"--top-pcd-final-lr {pcd['final_learning_rate']}")
    statistics = config["updown"].get("top_statistics")
    if statistics not in (None, "probabilities"):
        flags.append(f"--updown-top-statistics {statistics.replace('_', '-')}")
    lower = config.get("pretrained_lower")
    if lower:
        flags.append(f"--pretrained-lower {lower['path']}")
    return " ".join(flags)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a finished run directory")
    parser.add_argument("--machine", required=True, help="the machine and what ran beside")
    parser.add_argument(
        "--labelled-copy",
        type=pathlib.Path,
        help="a copy of the run resumed with --classifier after it finished without one "
        "(before 30223c1 a resume dropped --classifier): the independent classifier's "
        "figure is taken from it, once its model-labelled samples match the run's",
    )
    args = parser.parse_args()
    result, config, records = finished_run.load(args.run)
    updown = [r["values"] for r in records if r.get("phase") == "up-down"]
    final = [r["values"] for r in records if r.get("phase") == "final pass"]
    seed = config.get("seed")
    arm = arm_flags(config)
    summary = {
        "what": f"generative --preset paper{' ' + arm if arm else ''}, seed {seed}",
        "date": datetime.date.today().isoformat(),
        "machine": args.machine,
        "command": f"deepbelief generative --device flex --preset paper --seed {seed} "
        f"{arm + ' ' if arm else ''}"
        f"--samples-per-class 50 --classifier runs/classify-quick/model.safetensors "
        f"--out {args.run}  (scripts/headline-runs.sh; resumed with --resume)",
        "result": result,
        "paper": HOT,
        "minutes": {
            "updown_epochs_sum": round(sum(v["seconds"] for v in updown) / 60, 1),
            "final_pass_epochs_sum": round(sum(v.get("seconds", 0) for v in final) / 60, 1),
            "whole_run": round(result["wall_minutes"], 1),
        },
        "updown_valid_error_percent_by_epoch": [v["valid_error_percent"] for v in updown],
        "updown_gibbs_steps_by_epoch": [v["gibbs_steps"] for v in updown],
        "final_pass_train_error_percent_by_epoch": [v.get("train_error_percent") for v in final],
    }
    if args.labelled_copy:
        copy_result = args.labelled_copy / "result.json"
        if not copy_result.exists():
            sys.exit(f"{copy_result}: missing (the copy has not finished)")
        copy = json.loads(copy_result.read_text())
        same = "clamped_sample_accuracy_by_digit_percent"
        if copy[same] != result[same]:
            sys.exit(f"{args.labelled_copy}: its samples are not the run's ({same} differs)")
        figure = copy["clamped_sample_accuracy_by_classifier_percent"]
        if figure is None:
            sys.exit(f"{args.labelled_copy}: no classifier figure in its result.json")
        summary["clamped_sample_accuracy_by_independent_classifier_percent"] = figure
        summary["command"] += (
            "; the resume dropped --classifier (fixed in 30223c1), so a copy of the "
            "finished run labelled the same samples, regenerated bit for bit: deepbelief "
            "generative --device flex --resume --out COPY --classifier "
            "runs/classify-quick/model.safetensors"
        )
    json.dump(summary, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
