"""Subnormal floats flushed to zero on request, and kept by default."""

import platform

import numpy as np
import pytest

import deepbelief
from deepbelief import BernoulliRBM

x86_64 = platform.machine().lower() in ("x86_64", "amd64")


def _tiny_product():
    """The smallest positive subnormal f32 times 1e30, on this thread."""
    return np.float32(1e-45) * np.float32(1e30)


def _data(rows=200, width=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((rows, width)) < 0.3).astype(np.float32)


@pytest.mark.skipif(not x86_64, reason="the setting is x86-64's (MXCSR)")
def test_flushing_is_off_by_default_and_turns_on_and_off():
    assert not deepbelief.subnormals_flushed()
    assert _tiny_product() > 1e-16
    try:
        assert deepbelief.set_flush_subnormals(True)
        assert deepbelief.subnormals_flushed()
        # The calling thread's arithmetic, numpy's included.
        assert _tiny_product() == 0.0
    finally:
        assert deepbelief.set_flush_subnormals(False)
    assert not deepbelief.subnormals_flushed()
    assert _tiny_product() > 1e-16


@pytest.mark.skipif(not x86_64, reason="the setting is x86-64's (MXCSR)")
def test_a_model_that_meets_no_subnormals_is_the_same_either_way():
    X = _data()
    kept = BernoulliRBM(n_components=8, n_iter=3, random_state=0).fit(X)
    try:
        deepbelief.set_flush_subnormals(True)
        flushed = BernoulliRBM(n_components=8, n_iter=3, random_state=0).fit(X)
    finally:
        deepbelief.set_flush_subnormals(False)
    np.testing.assert_array_equal(kept.components_, flushed.components_)
