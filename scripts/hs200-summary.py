#!/usr/bin/env python3
"""The per-seed summary of a finished `hs200` run (`classify --preset hs`
with H&S's own schedule, scripts/headline-runs.sh hs200), for
docs/results/: its result.json, the head epochs and every final-pass
epoch (losses, evaluations, seconds, the fixed point) from metrics.jsonl.

    scripts/hs200-summary.py runs/classify-hs200-seed3 \
        --machine "2-core Intel Xeon with AVX-512 (a VM), Flex; beside ..." \
        --binaries "9260e5c throughout" \
        > docs/results/classify-hs200-seed3-DATE.json

The run's own config.json gives the seed; what the machine was, what ran
beside it and which binaries trained it are the caller's to say.
"""
import argparse
import datetime
import json
import pathlib
import sys

import finished_run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a finished run directory")
    parser.add_argument("--machine", required=True, help="the machine and what ran beside")
    parser.add_argument("--binaries", required=True, help="the commits that trained it")
    parser.add_argument("--stack", default="", help="where its pretrained stack came from")
    args = parser.parse_args()
    result, config, records = finished_run.load(args.run)
    head = [
        {k: r[k] for k in ("epoch", "loss_before", "loss_after", "valid_error_percent")}
        for r in records
        if r.get("phase") == "conjugate_gradient"
    ]
    final = [
        {k: r.get(k) for k in ("epoch", "loss_before", "loss_after", "evaluations", "computed", "seconds")}
        | ({"fixed_point": True} if r.get("fixed_point") else {})
        for r in records
        if r.get("phase") == "conjugate_gradient_final"
    ]
    if not final:
        sys.exit(f"{args.run}: no final-pass epochs in metrics.jsonl (not an hs200 run?)")
    seed = config.get("seed")
    last = final[-1]
    summary = {
        "what": "classify --preset hs with H&S's own schedule (backpropclassify.m: 5 epochs "
        "of the head alone, then 195 epochs of the whole net on all 60,000 images by "
        "conjugate gradients, 3 line searches per fixed batch of 1,000, the last epoch "
        "kept, no validation choice, no dropout or weight decay), "
        f"seed {seed}; pretraining as the hs preset (50 CD-1 epochs a layer on the first 50,000)"
        + (f", {args.stack}" if args.stack else ""),
        "date": datetime.date.today().isoformat(),
        "machine": args.machine,
        "command": f"deepbelief classify --device flex --preset hs --seed {seed} "
        "--finetune-epochs 5 --patience 5 --final-epochs 195 "
        f"--out {args.run}  (scripts/headline-runs.sh hs200; resumed with --resume)",
        "binaries": args.binaries,
        "fixed_point": (
            f"final-pass epoch {last['epoch']} returned epoch {last['epoch'] - 1}'s net bit "
            "for bit (recorded by the run, fixed_point in metrics.jsonl); a CG epoch is a "
            "function of the net alone, so every later epoch would return it too: the model "
            "is the one 195 epochs give"
            if last.get("fixed_point")
            else "none: the final pass ran its epochs"
        ),
        "result": result,
        "head_epochs": head,
        "final_pass_epochs": final,
    }
    json.dump(summary, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
