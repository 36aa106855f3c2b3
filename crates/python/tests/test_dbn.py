"""DBN and DBNClassifier: scikit-learn's checks, grid search, bad input."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from deepbelief import DBN, DBNClassifier


def _binary_problem(rows=300, width=24, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, width)) < 0.5
    y = rng.integers(0, 3, rows)
    X = (prototypes[y] ^ (rng.random((rows, width)) < 0.1)).astype(np.float32)
    return X, y


def test_the_classifier_learns_a_three_class_problem():
    X, y = _binary_problem()
    model = DBNClassifier((16, 16), n_iter=5, finetune_epochs=20, random_state=0).fit(X[:200], y[:200])
    # Chance is 1/3; prototypes ~12 pixels apart at 10% noise are separable.
    assert model.score(X[200:], y[200:]) > 0.9
    p = model.predict_proba(X[200:])
    assert p.shape == (100, 3) and np.allclose(p.sum(axis=1), 1.0)


def test_string_labels_come_back_as_the_same_labels():
    X, y = _binary_problem()
    names = np.array(["ant", "bee", "cat"])[y]
    model = DBNClassifier((8,), n_iter=2, finetune_epochs=5, random_state=0).fit(X, names)
    assert set(model.predict(X)) <= set(names)
    assert list(model.classes_) == ["ant", "bee", "cat"]


def test_a_grid_search_over_the_classifier_runs_and_picks_a_setting():
    X, y = _binary_problem(rows=150)
    search = GridSearchCV(
        DBNClassifier((8,), n_iter=2, finetune_epochs=5, random_state=0),
        {"finetune_learning_rate": [0.01, 0.1], "hidden_layer_sizes": [(8,), (16,)]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["finetune_learning_rate"] in (0.01, 0.1)
    assert search.best_score_ > 0.5


def test_the_dbn_transform_is_the_up_pass_of_its_layers():
    X, _ = _binary_problem()
    model = DBN((12, 5), n_iter=2, random_state=0).fit(X)
    assert [w.shape for w in model.coefs_] == [(24, 12), (12, 5)]
    h = X.astype(np.float64)
    for w, b in zip(model.coefs_, model.intercepts_):
        h = 1.0 / (1.0 + np.exp(-(h @ w + b)))
    assert np.allclose(model.transform(X.astype(np.float64)), h, atol=1e-12)


@pytest.mark.parametrize(
    "X, y, words",
    [
        (np.full((4, 3), np.nan), [0, 1, 0, 1], "NaN"),
        (np.full((4, 3), 2.0), [0, 1, 0, 1], "[0, 1]"),
        (np.zeros((4, 3)), [0, 0, 0, 0], "2 classes"),
        (np.zeros((4, 3)), [0.5, 1.5, 0.5, 1.5], "Unknown label type"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_problem(X, y, words):
    with pytest.raises(ValueError) as error:
        DBNClassifier((4,), n_iter=1).fit(X, y)
    assert words in str(error.value)


@pytest.mark.parametrize("sizes", [(), (0,), (4, -1)])
def test_bad_layer_sizes_are_value_errors_naming_them(sizes):
    X, y = _binary_problem(rows=20)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        DBNClassifier(sizes).fit(X, y)
