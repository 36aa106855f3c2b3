"""scikit-learn's own estimator checks, a pipeline and bad input."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepbelief import BernoulliRBM


# These checks train on data outside [0, 1] (non-negative, but up to ~10:
# scikit-learn has no tag for "values in [0, 1]"), which binary units refuse
# with a ValueError by design. The same estimator with its input clipped to
# [0, 1] passes every one of them (test below).
_OUTSIDE_UNIT_INTERVAL = "trains on values above 1, which binary units refuse (ValueError by design)"
_RANGE_CHECKS = [
    "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input",
    "check_n_features_in_after_fitting", "check_estimators_dtypes", "check_pipeline_consistency",
    "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
    "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit2d_predict1d",
]


@parametrize_with_checks(
    [BernoulliRBM(n_components=8, n_iter=2, random_state=0)],
    expected_failed_checks=lambda _: {name: _OUTSIDE_UNIT_INTERVAL for name in _RANGE_CHECKS},
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


class _ClippedToUnitInterval(BernoulliRBM):
    """The estimator with its input clipped to [0, 1] after validation."""

    def _check_input(self, X, reset, dtype):
        from sklearn.utils.validation import validate_data

        X = validate_data(self, X, reset=reset, dtype=dtype, order="C")
        if X.size and X.min() < 0.0:
            raise ValueError("Negative values in data passed to BernoulliRBM")
        return np.minimum(X, 1.0)


@parametrize_with_checks([_ClippedToUnitInterval(n_components=8, n_iter=2, random_state=0)])
def test_sklearn_checks_pass_where_the_data_are_in_the_unit_interval(estimator, check):
    check(estimator)


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
