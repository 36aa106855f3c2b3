"""The backend is chosen by name: Flex (CPU) or wgpu (a GPU through
Vulkan, Metal or DX12; in CI, Mesa's CPU Vulkan driver)."""

import os

import numpy as np
import pytest

from deepbelief import DBNClassifier, BernoulliRBM


def _data(rows=200, width=16, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((2, width)) < 0.5
    y = rng.integers(0, 2, rows)
    return (prototypes[y] ^ (rng.random((rows, width)) < 0.1)).astype(np.float32), y


def _on_wgpu(estimator, *args):
    """``estimator`` fitted on wgpu, or a skip when no Vulkan driver is
    installed (a failure where DEEPBELIEF_REQUIRE_WGPU is set, as in CI)."""
    try:
        return estimator.fit(*args)
    except ValueError as error:
        if "wgpu" in str(error) and not os.environ.get("DEEPBELIEF_REQUIRE_WGPU"):
            pytest.skip(f"wgpu is not available here: {error}")
        raise


def test_an_rbm_trained_on_wgpu_is_the_flex_model_up_to_rounding():
    X, _ = _data()
    params = dict(n_components=8, n_iter=3, learning_rate=0.05, random_state=0)
    gpu = _on_wgpu(BernoulliRBM(device="wgpu", **params), X)
    cpu = BernoulliRBM(device="flex", **params).fit(X)
    # The same random stream drives both (drawn on the host); only the
    # order of float32 sums differs, so the models agree to far below
    # the size of one update (learning rate 0.05 times statistics of order 0.1).
    assert np.abs(gpu.components_ - cpu.components_).max() < 1e-3
    assert np.all(np.isfinite(gpu.components_))


def test_a_classifier_trains_on_wgpu():
    X, y = _data()
    model = _on_wgpu(
        DBNClassifier((8,), n_iter=2, finetune_epochs=5, random_state=0, device="wgpu"), X, y)
    assert model.score(X, y) > 0.95


@pytest.mark.parametrize("name", ["tpu", "cuda:x", ""])
def test_an_unknown_device_is_a_value_error_naming_it(name):
    X, _ = _data(rows=20)
    with pytest.raises(ValueError, match="backend|device"):
        BernoulliRBM(n_components=2, device=name).fit(X)
