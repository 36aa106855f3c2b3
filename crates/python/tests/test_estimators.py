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


@pytest.mark.parametrize(
    "params, words",
    [(dict(learning_rate=-1.0), "BernoulliRBM: learning_rate must be a positive finite number"),
     (dict(learning_rate=0.0), "BernoulliRBM: learning_rate"),
     (dict(learning_rate=float("nan")), "BernoulliRBM: learning_rate"),
     (dict(learning_rate="fast"), "BernoulliRBM: learning_rate"),
     (dict(momentum=1.0), r"BernoulliRBM: momentum must be a number in \[0, 1\), got 1.0"),
     (dict(momentum=-0.5), "BernoulliRBM: momentum"),
     (dict(weight_decay=-1e-4), "BernoulliRBM: weight_decay must be a finite number >= 0"),
     (dict(weight_decay=float("inf")), "BernoulliRBM: weight_decay")],
)
def test_a_bad_rate_momentum_or_weight_decay_is_a_value_error_naming_it(params, words):
    # Named by the estimator's own parameter (the native side's field for
    # the momentum is `initial_momentum`), for fit and partial_fit alike.
    X, _ = _two_classes(rows=20, width=4)
    with pytest.raises(ValueError, match=words):
        BernoulliRBM(n_components=2, **params).fit(X)
    with pytest.raises(ValueError, match=words):
        BernoulliRBM(n_components=2, **params).partial_fit(X)


@pytest.mark.parametrize("value", ["no", 0, None])
def test_a_persistent_that_is_not_a_bool_is_a_value_error_naming_it(value):
    # bool("no") is True: without the check the string would train by PCD.
    X, _ = _two_classes(rows=20, width=4)
    with pytest.raises(ValueError, match="BernoulliRBM: persistent must be True or False"):
        BernoulliRBM(n_components=2, persistent=value).fit(X)
    with pytest.raises(ValueError, match="persistent"):
        BernoulliRBM(n_components=2, persistent=value).partial_fit(X)


def _fitted(n_features=8, n_components=5, seed=0):
    X, _ = _two_classes(rows=200, width=n_features, seed=seed)
    return BernoulliRBM(n_components=n_components, n_iter=5, learning_rate=0.05,
                        random_state=seed).fit(X), X


def test_score_samples_is_scikit_learns_pseudo_likelihood_of_the_same_model():
    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    model, X = _fitted()
    reference = SklearnRBM(n_components=5, random_state=0)
    for name in ["components_", "intercept_hidden_", "intercept_visible_"]:
        setattr(reference, name, getattr(model, name).astype(np.float64))
    reference.n_features_in_ = X.shape[1]
    # Same random_state: the same feature flipped in each row.
    assert np.allclose(model.score_samples(X), reference.score_samples(X), rtol=1e-12, atol=1e-12)


def test_gibbs_draws_visible_states_with_the_models_probabilities():
    # Zero weights: each visible unit is on with probability logistic(b_i)
    # whatever the hidden states; the mean over n rows is within 5 standard
    # errors sqrt(p (1 - p) / n) of it.
    model, _ = _fitted()
    model.components_ = np.zeros_like(model.components_)
    model.intercept_visible_ = np.linspace(-2, 2, 8).astype(np.float32)
    rows = 20000
    v = model.gibbs(np.zeros((rows, 8)))
    assert v.dtype == bool and v.shape == (rows, 8)
    p = 1 / (1 + np.exp(-model.intercept_visible_.astype(np.float64)))
    assert np.all(np.abs(v.mean(axis=0) - p) < 5 * np.sqrt(p * (1 - p) / rows))


def test_partial_fit_on_mini_batches_learns_features_that_classify():
    X, y = _two_classes()
    model = BernoulliRBM(n_components=16, learning_rate=0.05, random_state=0)
    for _ in range(10):
        for start in range(0, 300, 10):
            model.partial_fit(X[start:start + 10])
    assert model.components_.shape == (16, 32)
    assert model.h_samples_.shape == (10, 16)
    features = model.transform(X)
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=1000).fit(features[:300], y[:300])
    assert classifier.score(features[300:], y[300:]) > 0.95


def test_partial_fit_is_seeded_and_carries_its_chains_and_momentum():
    X, _ = _two_classes(rows=40)

    def run(**params):
        model = BernoulliRBM(n_components=4, random_state=3, **params)
        for start in (0, 20, 0):
            model.partial_fit(X[start:start + 20])
        return model

    assert np.array_equal(run().components_, run().components_)
    # Momentum that is carried makes the third update differ from one without.
    assert not np.array_equal(run(momentum=0.9).components_, run().components_)
    # PCD keeps the chains; CD has none to keep.
    assert not hasattr(run(persistent=False), "h_samples_")


def _exact_log_likelihood(model, X):
    # log Z by summing exp(-F(v)) over all 2^n visible states, in float64.
    n = model.components_.shape[1]
    states = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.float64)
    W = model.components_.astype(np.float64)
    b, c = model.intercept_visible_.astype(np.float64), model.intercept_hidden_.astype(np.float64)

    def minus_free_energy(v):
        return v @ b + np.logaddexp(0, v @ W.T + c).sum(axis=1)

    values = minus_free_energy(states)
    log_z = values.max() + np.log(np.exp(values - values.max()).sum())
    return minus_free_energy(X.astype(np.float64)).mean() - log_z, log_z


def test_the_exact_log_likelihood_is_the_sum_over_all_states():
    model, X = _fitted()
    expected, expected_log_z = _exact_log_likelihood(model, X)
    ll, log_z, (low, high) = model.log_likelihood(X, return_log_z=True)
    # The native side sums free energies in float32 (~1e-6 relative on
    # values of order 10): 1e-3 nats is hundreds of ulps away from a wrong sum.
    assert abs(ll - expected) < 1e-3 and abs(log_z - expected_log_z) < 1e-3
    assert low == log_z == high


def test_ais_brackets_the_exact_log_partition_function():
    model, X = _fitted()
    _, exact = _exact_log_likelihood(model, X)
    ll, log_z, (low, high) = model.log_likelihood(
        X, method="ais", ais_runs=200, ais_steps=1000, return_log_z=True)
    # The band is 3 standard errors of the mean importance weight.
    assert low <= exact <= high, (low, exact, high)
    # Both are mean(-F(v)) - log Z: they differ by the log Z estimates' gap.
    assert abs((ll - model.log_likelihood(X)) + (log_z - exact)) < 1e-3


@pytest.mark.parametrize(
    "kwargs, words",
    [({"method": "mcmc"}, "method"), ({"method": "ais", "ais_runs": 0}, "ais_runs"),
     ({"method": "ais", "ais_steps": 0}, "ais_steps")],
)
def test_bad_log_likelihood_settings_are_value_errors_naming_them(kwargs, words):
    model, X = _fitted()
    with pytest.raises(ValueError, match=words):
        model.log_likelihood(X, **kwargs)


def test_an_unknown_device_is_a_value_error_naming_it():
    X, _ = _two_classes(rows=20, width=4)
    with pytest.raises(ValueError, match="tpu"):
        BernoulliRBM(n_components=2, device="tpu").fit(X)


def test_the_same_api_as_scikit_learns_bernoulli_rbm():
    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    ours, theirs = BernoulliRBM(), SklearnRBM()
    assert set(theirs.get_params()) <= set(ours.get_params())
    for name, value in theirs.get_params().items():
        assert ours.get_params()[name] == value, name
    for method in ["fit", "partial_fit", "transform", "gibbs", "score_samples", "fit_transform"]:
        assert callable(getattr(ours, method))
