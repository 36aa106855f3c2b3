"""GaussianRBM: scikit-learn's checks, learned sigma, bad input."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from deepbelief import GaussianRBM


@parametrize_with_checks([GaussianRBM(n_components=8, n_iter=2, random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _data(rows=300, width=10, seed=0):
    # Real values with per-column scales 0.2 .. 2.0.
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, width)) * np.linspace(0.2, 2.0, width)


def test_learned_sigmas_move_from_their_start_and_stay_within_bounds():
    X = _data()
    model = GaussianRBM(n_components=6, n_iter=20, learn_sigma=True, sigma_learning_rate=0.01,
                        random_state=0).fit(X)
    assert model.sigma_.shape == (10,)
    assert np.all((model.sigma_ >= 0.01) & (model.sigma_ <= 100.0))
    assert np.any(np.abs(model.sigma_ - 1.0) > 1e-3), model.sigma_
    fixed = GaussianRBM(n_components=6, n_iter=2, sigma=0.5, random_state=0).fit(X)
    assert np.all(fixed.sigma_ == np.float32(0.5))


def test_transform_is_the_hidden_probability_of_the_scaled_input():
    X = _data()
    model = GaussianRBM(n_components=4, n_iter=2, sigma=0.5, random_state=0).fit(X)
    expected = 1.0 / (1.0 + np.exp(-((X / 0.5) @ model.components_.T + model.intercept_hidden_)))
    assert np.allclose(model.transform(X), expected, atol=1e-12)


@pytest.mark.parametrize("X, words", [(np.full((3, 4), np.inf), "infinity"), (np.ones((2, 2, 2)), "dim 3")])
def test_bad_input_is_a_value_error_naming_the_problem(X, words):
    with pytest.raises(ValueError) as error:
        GaussianRBM(n_components=2).fit(X)
    assert words in str(error.value)


@pytest.mark.parametrize(
    "params, words",
    [(dict(sigma=0.0), "GaussianRBM: sigma must be a positive finite number, got 0.0"),
     (dict(sigma=float("nan")), "GaussianRBM: sigma"),
     (dict(sigma="wide"), "GaussianRBM: sigma"),
     (dict(learn_sigma=True, sigma_learning_rate=0.0), "GaussianRBM: sigma_learning_rate"),
     (dict(learn_sigma=True, sigma_learning_rate=-1e-3), "GaussianRBM: sigma_learning_rate")],
)
def test_a_bad_sigma_or_its_rate_is_a_value_error_naming_it(params, words):
    with pytest.raises(ValueError, match=words):
        GaussianRBM(n_components=2, **params).fit(_data(rows=20, width=3))


def test_a_sigma_rate_is_not_checked_when_sigma_is_fixed():
    # Unused when sigma is fixed, as scikit-learn leaves unused settings be.
    GaussianRBM(n_components=2, n_iter=1, sigma_learning_rate=0.0).fit(_data(rows=20, width=3))


@pytest.mark.parametrize("field", ["persistent", "learn_sigma"])
def test_a_switch_that_is_not_a_bool_is_a_value_error_naming_it(field):
    with pytest.raises(ValueError, match=f"GaussianRBM: {field} must be True or False, got 'no'"):
        GaussianRBM(n_components=2, **{field: "no"}).fit(_data(rows=20, width=3))
