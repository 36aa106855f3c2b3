"""Models move between Python and the Rust side as safetensors files, and
pickle through them."""

import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from deepbelief import DBN, BernoulliRBM, DBNClassifier, GaussianRBM, GenerativeDBN, _native


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


def _labelled(rows=300, width=12, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, width)) < 0.5
    y = rng.integers(0, 3, rows)
    return (prototypes[y] ^ (rng.random((rows, width)) < 0.1)).astype(np.float32), y


def _models():
    """One fitted model of every estimator, the data it saw, and what must
    come back the same from its file: (model, X, method)."""
    X, y = _labelled()
    real = np.random.default_rng(1).normal(size=(100, 6))
    names = np.array(["ant", "bee", "cat"])[y]
    return [
        (BernoulliRBM(n_components=5, n_iter=2, random_state=0).fit(X), X, "transform"),
        (GaussianRBM(n_components=4, n_iter=3, learn_sigma=True, sigma_learning_rate=0.01,
                     random_state=0).fit(real), real, "transform"),
        (DBN((8, 4), n_iter=2, random_state=0).fit(X), X, "transform"),
        (DBNClassifier((8,), n_iter=2, finetune_epochs=3, random_state=0).fit(X, names), X,
         "predict_proba"),
        (GenerativeDBN((8,), top_units=16, n_iter=3, batch_size=10, random_state=0).fit(X, names),
         X, "predict"),
    ]


@pytest.mark.parametrize("index", range(5), ids=["bernoulli", "gaussian", "dbn", "classifier", "generative"])
def test_every_model_saves_loads_and_pickles_to_the_same_model(tmp_path, index):
    model, X, method = _models()[index]
    path = tmp_path / "model.safetensors"
    model.save(path)
    classes = getattr(model, "classes_", None)
    loaded = type(model).load(path, **({} if classes is None else {"classes": classes}))
    pickled = pickle.dumps(model)
    # The pickled state holds a file's bytes, not the arrays.
    state = model.__getstate__()
    assert state["_rust_file"].startswith(path.read_bytes()[:8])
    assert not set(model._file_attributes) & set(state)
    for other in (loaded, pickle.loads(pickled)):
        for name in model._file_attributes:
            a, b = getattr(model, name), getattr(other, name)
            assert repr(a) == repr(b), name
        assert np.array_equal(getattr(model, method)(X), getattr(other, method)(X))


def test_a_gaussian_file_is_not_a_bernoulli_rbm(tmp_path):
    model, _, _ = _models()[1]
    model.save(tmp_path / "gaussian.safetensors")
    with pytest.raises(ValueError, match="gaussian.safetensors.*gaussian visible"):
        BernoulliRBM.load(tmp_path / "gaussian.safetensors")
    loaded = GaussianRBM.load(tmp_path / "gaussian.safetensors")
    assert loaded.learn_sigma and np.array_equal(loaded.sigma_, model.sigma_)


def test_a_saved_stack_is_what_the_rust_side_reads(tmp_path):
    model, X, _ = _models()[2]
    model.save(tmp_path / "stack.safetensors")
    expected = _native.stack_features(str(tmp_path / "stack.safetensors"), X)
    assert np.allclose(model.transform(X), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", [DBN, DBNClassifier, GenerativeDBN, GaussianRBM])
def test_a_file_of_another_kind_is_a_value_error_naming_it(tmp_path, cls):
    model, _, _ = _models()[0]
    model.save(tmp_path / "rbm.safetensors")
    with pytest.raises(ValueError, match="rbm.safetensors"):
        cls.load(tmp_path / "rbm.safetensors")


@pytest.mark.parametrize("cls", [BernoulliRBM, DBN, DBNClassifier, GenerativeDBN, GaussianRBM])
def test_a_missing_file_or_directory_is_the_oss_error_naming_it(tmp_path, cls):
    with pytest.raises(FileNotFoundError, match="absent.safetensors"):
        cls.load(tmp_path / "absent.safetensors")
    model, _, _ = _models()[0]
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        model.save(tmp_path / "no-such-dir" / "model.safetensors")
