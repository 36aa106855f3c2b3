"""BernoulliRBM: a pipeline, scikit-learn's API beyond fit, bad input."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from deepbelief import BernoulliRBM


def _two_classes(rows=400, width=32, seed=0):
    # Two prototypes with 10% of pixels flipped: a binary problem an RBM's
    # features separate.
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((2, width)) < 0.5).astype(np.float64)
    y = rng.integers(0, 2, rows)
    flips = rng.random((rows, width)) < 0.1
    X = np.abs(prototypes[y] - flips)
    return X, y


def test_a_pipeline_with_logistic_regression_classifies_from_rbm_features():
    X, y = _two_classes()
    model = Pipeline([
        ("rbm", BernoulliRBM(n_components=16, n_iter=10, learning_rate=0.05, random_state=0)),
        ("logistic", LogisticRegression(max_iter=1000)),
    ]).fit(X[:300], y[:300])
    # Chance is 50%; prototypes 16 flips apart at 10% noise are separable.
    assert model.score(X[300:], y[300:]) > 0.95


def test_the_same_random_state_gives_the_same_model():
    X, _ = _two_classes()
    a = BernoulliRBM(n_components=8, n_iter=2, random_state=3).fit(X)
    b = BernoulliRBM(n_components=8, n_iter=2, random_state=3).fit(X)
    c = BernoulliRBM(n_components=8, n_iter=2, random_state=4).fit(X)
    assert np.array_equal(a.components_, b.components_)
    assert not np.array_equal(a.components_, c.components_)


@pytest.mark.parametrize(
    "X, words",
    [
        (np.full((3, 4), np.nan), "NaN"),
        (np.ones((2, 2, 2)), "dim 3"),
        (np.full((3, 4), 2.0), "[0, 1]"),
        (np.full((3, 4), -0.5), "[0, 1]"),
        (np.array([["a", "b"]]), "float"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_problem(X, words):
    with pytest.raises(ValueError, match=None) as error:
        BernoulliRBM(n_components=2).fit(X)
    assert words in str(error.value)


@pytest.mark.parametrize("name", ["n_components", "batch_size", "n_iter", "k"])
def test_zero_sizes_are_value_errors_naming_the_parameter(name):
    X, _ = _two_classes(rows=20, width=4)
    with pytest.raises(ValueError, match=name):
        BernoulliRBM(**{name: 0}).fit(X)


def test_a_rate_the_rust_side_refuses_is_a_value_error():
    X, _ = _two_classes(rows=20, width=4)
    with pytest.raises(ValueError, match="learning rate|learning_rate"):
        BernoulliRBM(n_components=2, learning_rate=-1.0).fit(X)
