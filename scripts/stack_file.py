"""A pretrained stack's `pretrained.safetensors` for the Python probes under scripts/ (one
reader for all)."""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    """The F32 tensors of a safetensors file, by name."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + n])
    except OSError as e:
        sys.exit(f"{path}: cannot read the stack ({e.strerror})")
    except (struct.error, ValueError) as e:
        sys.exit(f"{path}: not a safetensors file ({e})")
    body = raw[8 + n :]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name}: expected dtype F32, found {meta['dtype']}")
        a, b = meta["data_offsets"]
        if b > len(body) or b - a != 4 * int(np.prod(meta["shape"])):
            sys.exit(f"{path}: tensor {name}: its bytes {a}..{b} do not hold shape {meta['shape']} (truncated?)")
        out[name] = np.frombuffer(body[a:b], np.float32).reshape(meta["shape"]).copy()
    return out
