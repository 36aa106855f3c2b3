"""MNIST's IDX files for the benchmarks in this folder (one reader for all)."""

import gzip
import os

import numpy as np


def mnist_dir(argv):
    """The MNIST folder: the first argument, else $DEEPBELIEF_MNIST_DIR, else
    ~/.cache/deepbelief/mnist."""
    return argv[1] if len(argv) > 1 else os.environ.get(
        "DEEPBELIEF_MNIST_DIR", os.path.expanduser("~/.cache/deepbelief/mnist"))


def idx(directory, name, offset, width):
    """The rows of `width` bytes after an IDX file's `offset`-byte header
    (raw, or the same name with .gz)."""
    path = os.path.join(directory, name)
    data = open(path, "rb").read() if os.path.exists(path) else gzip.open(path + ".gz").read()
    return np.frombuffer(data, np.uint8, offset=offset).reshape(-1, width)


def images_and_labels(directory, part):
    """`part` ("train" or "t10k") as float32 intensities in [0, 1] and labels."""
    X = idx(directory, f"{part}-images-idx3-ubyte", 16, 784).astype(np.float32) / 255.0
    y = idx(directory, f"{part}-labels-idx1-ubyte", 8, 1).ravel()
    return X, y
