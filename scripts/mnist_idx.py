"""MNIST's IDX files for the Python probes and peers under scripts/ (one reader for all)."""
import gzip
import os
import sys

import numpy as np


def read_idx(path, offset, shape):
    """The bytes after an IDX file's `offset`-byte header as uint8 of `shape`; reads PATH or
    PATH.gz. A missing, short or long file ends the process with a message naming it."""
    try:
        if os.path.exists(path):
            with open(path, "rb") as f:
                raw = f.read()
        else:
            with gzip.open(path + ".gz") as f:
                raw = f.read()
    except OSError as e:
        sys.exit(f"{path}: cannot read the MNIST file (nor {path}.gz): {e.strerror or e}")
    expected = offset + int(np.prod(shape))
    if len(raw) != expected:
        sys.exit(f"{path}: expected {expected} bytes (an IDX file of shape {shape}), found {len(raw)}")
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)
