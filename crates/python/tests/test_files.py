"""Models move between Python and the Rust side as safetensors files."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from deepbelief import BernoulliRBM, _native


def _binary(rows, width, seed):
    return (np.random.default_rng(seed).random((rows, width)) < 0.3).astype(np.float32)


def test_a_saved_model_loads_with_the_same_parameters_and_transform(tmp_path):
    X = _binary(200, 12, 0)
    model = BernoulliRBM(n_components=5, n_iter=3, random_state=0).fit(X)
    model.save(tmp_path / "rbm.safetensors")
    loaded = BernoulliRBM.load(tmp_path / "rbm.safetensors")
    for name in ["components_", "intercept_hidden_", "intercept_visible_"]:
        assert np.array_equal(getattr(model, name), getattr(loaded, name)), name
    assert np.array_equal(model.transform(X), loaded.transform(X))


def _deepbelief_binary():
    found = os.environ.get("DEEPBELIEF_BIN") or shutil.which("deepbelief")
    if found:
        return found
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path(__file__).parents[3] / "target"))
    candidate = target / "release" / "deepbelief"
    return str(candidate) if candidate.exists() else None


def _write_idx(directory, name, magic, shape, values):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    (directory / name).write_bytes(header + values.astype(np.uint8).tobytes())


@pytest.mark.skipif(_deepbelief_binary() is None, reason="the deepbelief binary is not built (cargo build --release)")
def test_a_model_trained_by_the_rust_command_loads_and_transforms_as_rust_does(tmp_path):
    rng = np.random.default_rng(1)
    for split, rows in [("train", 120), ("t10k", 20)]:
        pixels = (rng.random((rows, 6, 5)) < 0.3) * 255
        _write_idx(tmp_path, f"{split}-images-idx3-ubyte", 2051, [rows, 6, 5], pixels)
        _write_idx(tmp_path, f"{split}-labels-idx1-ubyte", 2049, [rows], rng.integers(0, 3, rows))
    out = tmp_path / "run"
    subprocess.run(
        [_deepbelief_binary(), "train-rbm", "--data", f"idx:{tmp_path}", "--hidden", "7",
         "--cd-epochs", "3", "--device", "flex", "--out", str(out)],
        check=True, capture_output=True,
    )
    path = out / "model.safetensors"
    model = BernoulliRBM.load(path)
    assert model.components_.shape == (7, 30)
    X = _binary(50, 30, 2)
    expected = _native.hidden_probabilities(str(path), X)
    # The same logistic of the same f32 parameters; numpy sums in another
    # order than Flex's GEMM: a few ulps at values of order 1.
    assert np.allclose(model.transform(X), expected, rtol=0, atol=1e-6)


def test_a_file_that_is_not_an_rbm_is_a_value_error_naming_it(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"not a weights file")
    with pytest.raises(ValueError, match="junk.safetensors"):
        BernoulliRBM.load(path)
