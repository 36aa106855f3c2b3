"""How active a pretrained stack's hidden units are on MNIST: for each layer, the mean over
the first 50,000 training images (the split that pretraining saw) of p(h = 1 | layer below),
propagated by probabilities as `classify` pretrains, with its spread over units. Used to
check that a sparsity target (`classify --cd-sparsity-target`) took hold.

usage: PY scripts/stack-activity.py MNIST_DIR STACK.safetensors [STACK...]
PY: a Python with numpy (e.g. the venv of the torch peers). Prints one JSON line per stack.
"""
import json
import os
import sys

for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)
import numpy as np

from mnist_idx import read_idx
from stack_file import read_safetensors


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().split("\n\n")[1])
    images = read_idx(f"{sys.argv[1]}/train-images-idx3-ubyte", 16, (60000, 784))[:50000]
    for path in sys.argv[2:]:
        stack = read_safetensors(path)
        if "layers.0.weight" not in stack:
            sys.exit(f"{path}: no tensor layers.0.weight; not an RBM stack")
        x = images.astype(np.float32) / 255
        layers = []
        i = 0
        while f"layers.{i}.weight" in stack:
            w, b = stack[f"layers.{i}.weight"], stack[f"layers.{i}.hidden_bias"]
            x = 1 / (1 + np.exp(-(x @ w + b)))  # [images, hidden]
            per_unit = x.mean(axis=0)
            layers.append({
                "layer": i + 1,
                "units": int(w.shape[1]),
                "mean_activation": round(float(per_unit.mean()), 4),
                "units_mean_activation_quartiles": [round(float(q), 4) for q in np.percentile(per_unit, [25, 50, 75])],
                "largest_incoming_weight_norm": round(float(np.sqrt((w * w).sum(axis=0)).max()), 2),
            })
            i += 1
        print(json.dumps({"stack": path, "layers": layers}), flush=True)


if __name__ == "__main__":
    main()
