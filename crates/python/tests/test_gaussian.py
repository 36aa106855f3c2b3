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


def _independent_gaussian_log_density(X, mean, sd):
    return float(np.mean(np.sum(
        -0.5 * ((X - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi), axis=1)))


def test_log_likelihood_is_a_normalised_density_of_the_rows():
    # With no weights and zero hidden biases, the model is an independent
    # Gaussian N(b, sigma^2) per column (the hidden units only add log 2
    # each to both -F and log Z), so the exact log-likelihood is that
    # Gaussian's log density of the rows, which numpy computes directly.
    X = _data()
    model = GaussianRBM(n_components=5, n_iter=1, sigma=0.7, random_state=0).fit(X)
    model.components_[:] = 0.0
    model.intercept_hidden_[:] = 0.0
    expected = _independent_gaussian_log_density(X, model.intercept_visible_, model.sigma_)
    assert abs(model.log_likelihood(X) - expected) < 1e-4 * abs(expected)


def test_ais_agrees_with_the_exact_log_z_of_a_trained_model_with_learned_sigma():
    X = _data()
    model = GaussianRBM(n_components=8, n_iter=20, learn_sigma=True, sigma_learning_rate=0.01,
                        random_state=0).fit(X)
    exact, exact_log_z, _ = model.log_likelihood(X, return_log_z=True)
    ais, log_z, (low, high) = model.log_likelihood(X, method="ais", ais_steps=2000,
                                                   return_log_z=True)
    # The band is log(mean weight -/+ 3 standard errors); f32 free
    # energies of 10 columns add about 1e-5 of rounding.
    assert low - 1e-4 <= exact_log_z <= high + 1e-4, (exact_log_z, low, high)
    assert abs((ais - exact) + (log_z - exact_log_z)) < 1e-4
    # Over the hidden units (the transpose, whose hidden units are the
    # Gaussian ones, integrated out): the same log Z.
    _, log_z, (low, high) = model.log_likelihood(X, method="ais", ais_steps=2000,
                                                 ais_side="hidden", return_log_z=True)
    assert low - 1e-4 <= exact_log_z <= high + 1e-4, (exact_log_z, low, high)
    with pytest.raises(ValueError, match="ais_side must be 'visible' or 'hidden', got 'top'"):
        model.log_likelihood(X, method="ais", ais_side="top")
