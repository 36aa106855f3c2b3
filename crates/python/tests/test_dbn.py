"""DBN and DBNClassifier: scikit-learn's checks, grid search, bad input."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, train_test_split

from deepbelief import DBN, DBNClassifier


def _binary_problem(rows=300, width=24, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, width)) < 0.5
    y = rng.integers(0, 3, rows)
    X = (prototypes[y] ^ (rng.random((rows, width)) < noise)).astype(np.float32)
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


def _log_loss(model, X, y):
    p = model.predict_proba(X)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


def test_conjugate_gradients_fine_tune_the_classifier():
    X, y = _binary_problem()
    params = dict(n_iter=5, random_state=0, finetune_method="conjugate_gradient",
                  finetune_batch_size=100)
    pretrained = DBNClassifier((16, 16), finetune_epochs=0, **params).fit(X[:200], y[:200])
    tuned = DBNClassifier((16, 16), finetune_epochs=6, head_epochs=2, **params).fit(
        X[:200], y[:200])
    # The same stack below; CG lowers the training loss from the untrained
    # head's and classifies the held-out rows.
    assert _log_loss(tuned, X[:200], y[:200]) < 0.5 * _log_loss(pretrained, X[:200], y[:200])
    assert tuned.score(X[200:], y[200:]) > 0.9


@pytest.mark.parametrize(
    "method, dropout",
    [("sgd", 0.0), ("sgd", 0.3), ("conjugate_gradient", 0.0)],
)
def test_head_epochs_train_the_head_alone(method, dropout):
    X, y = _binary_problem(rows=200)
    params = dict(n_iter=3, random_state=0, finetune_method=method, finetune_batch_size=50,
                  input_dropout=dropout, hidden_dropout=dropout)
    pretrained = DBNClassifier((16, 8), finetune_epochs=0, **params).fit(X, y)
    head = DBNClassifier((16, 8), finetune_epochs=3, head_epochs=3, **params).fit(X, y)
    whole = DBNClassifier((16, 8), finetune_epochs=3, head_epochs=1, **params).fit(X, y)
    for a, b in zip(pretrained.coefs_[:-1] + pretrained.intercepts_[:-1],
                    head.coefs_[:-1] + head.intercepts_[:-1]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(pretrained.coefs_[-1], head.coefs_[-1])
    # After the head epochs the whole net trains.
    assert not np.array_equal(pretrained.coefs_[0], whole.coefs_[0])


@pytest.mark.parametrize(
    "params, field",
    [
        (dict(finetune_method="lbfgs"), "finetune_method"),
        (dict(finetune_method="conjugate_gradient", line_searches=0), "line_searches"),
        (dict(finetune_batch_size=0), "finetune_batch_size"),
        (dict(head_epochs=-1), "head_epochs"),
        (dict(finetune_epochs=2, head_epochs=3), "head_epochs"),
        (dict(finetune_learning_rate=0.0), "finetune_learning_rate"),
        (dict(finetune_learning_rate=float("nan")), "finetune_learning_rate"),
        (dict(finetune_learning_rate="fast"), "finetune_learning_rate"),
        (dict(finetune_momentum=1.0), "finetune_momentum"),
        (dict(finetune_momentum=-0.1), "finetune_momentum"),
        (dict(finetune_weight_decay=-1e-5), "finetune_weight_decay"),
        (dict(finetune_weight_decay=float("inf")), "finetune_weight_decay"),
        (dict(finetune_lr_decay=0.0), "finetune_lr_decay"),
        (dict(finetune_lr_decay=1.5), "finetune_lr_decay"),
        (dict(input_dropout=1.0), "input_dropout"),
        (dict(hidden_dropout=-0.1), "hidden_dropout"),
        (dict(hidden_dropout=True), "hidden_dropout"),
        (dict(finetune_method="conjugate_gradient", input_dropout=0.2), "input_dropout"),
        (dict(finetune_method="conjugate_gradient", finetune_weight_decay=1e-5),
         "finetune_weight_decay"),
        (dict(finetune_method="conjugate_gradient", finetune_lr_decay=0.99), "finetune_lr_decay"),
        (dict(early_stopping="yes"), "early_stopping"),
        (dict(early_stopping=True, validation_fraction=0.0), "validation_fraction"),
        (dict(early_stopping=True, validation_fraction=1.0), "validation_fraction"),
        (dict(early_stopping=True, validation_fraction="half"), "validation_fraction"),
        (dict(early_stopping=True, n_iter_no_change=0), "n_iter_no_change"),
        (dict(early_stopping=True, validation_fraction=0.01), "validation_fraction"),
    ],
)
def test_bad_fine_tuning_settings_are_value_errors_naming_them(params, field):
    X, y = _binary_problem(rows=20)
    with pytest.raises(ValueError, match=field):
        DBNClassifier((4,), n_iter=1, **params).fit(X, y)


def test_dropout_fine_tuning_learns_and_repeats_with_its_seed():
    X, y = _binary_problem()
    params = dict(n_iter=5, finetune_epochs=20, input_dropout=0.1, hidden_dropout=0.25)
    model = DBNClassifier((16, 16), random_state=0, **params).fit(X[:200], y[:200])
    assert model.score(X[200:], y[200:]) > 0.9
    again = DBNClassifier((16, 16), random_state=0, **params).fit(X[:200], y[:200])
    for a, b in zip(model.coefs_ + model.intercepts_, again.coefs_ + again.intercepts_):
        np.testing.assert_array_equal(a, b)
    plain = DBNClassifier((16, 16), n_iter=5, finetune_epochs=20, random_state=0).fit(
        X[:200], y[:200])
    assert not np.array_equal(model.coefs_[0], plain.coefs_[0])


def test_weight_decay_shrinks_the_fine_tuned_weights():
    X, y = _binary_problem(rows=200)
    params = dict(n_iter=3, finetune_epochs=20, random_state=0)
    plain = DBNClassifier((16,), **params).fit(X, y)
    decayed = DBNClassifier((16,), finetune_weight_decay=0.05, **params).fit(X, y)
    # Each step multiplies every parameter by 1 - rate * decay = 0.995
    # before the gradient moves it: over 20 epochs of 20 steps a factor of
    # 0.13 on whatever the data do not hold up.
    for a, b in zip(plain.coefs_, decayed.coefs_):
        assert np.linalg.norm(b) < 0.8 * np.linalg.norm(a)


def test_a_vanishing_rate_decay_freezes_the_net_after_its_first_whole_epoch():
    X, y = _binary_problem(rows=200)
    params = dict(n_iter=3, random_state=0, finetune_momentum=0.0, head_epochs=1)
    first = DBNClassifier((16,), finetune_epochs=2, **params).fit(X, y)
    frozen = DBNClassifier((16,), finetune_epochs=5, finetune_lr_decay=1e-12, **params).fit(X, y)
    moving = DBNClassifier((16,), finetune_epochs=5, **params).fit(X, y)
    # Epochs 3-5 step at 0.1 * 1e-12 per gradient of O(1): below f32's
    # resolution of the weights, so they stay as epoch 2 left them.
    for a, b in zip(first.coefs_ + first.intercepts_, frozen.coefs_ + frozen.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert not np.allclose(first.coefs_[0], moving.coefs_[0], rtol=0, atol=1e-6)


def test_without_early_stopping_the_last_epoch_is_kept_and_every_loss_recorded():
    X, y = _binary_problem(rows=200)
    model = DBNClassifier((16,), n_iter=3, finetune_epochs=7, random_state=0).fit(X, y)
    assert model.finetune_epochs_ == model.best_epoch_ == 7 and len(model.loss_curve_) == 7
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    # Fine-tuning lowers the training loss from its first epoch.
    assert model.loss_curve_[-1] < model.loss_curve_[0]


@pytest.mark.parametrize(
    "method", [dict(finetune_learning_rate=0.5),
               dict(finetune_method="conjugate_gradient", finetune_batch_size=100)])
def test_early_stopping_keeps_the_best_validation_epoch_and_stops_after_the_patience(method):
    X, y = _binary_problem(rows=400, seed=1, noise=0.35)
    params = dict(n_iter=3, finetune_epochs=60, head_epochs=2, early_stopping=True,
                  validation_fraction=0.25, n_iter_no_change=3, random_state=0, **method)
    model = DBNClassifier((16,), **params).fit(X, y)
    scores = model.validation_scores_
    assert len(scores) == len(model.loss_curve_) == model.finetune_epochs_
    whole_net = scores[2:]  # the head's two epochs are not candidates
    best = 2 + int(np.argmax(whole_net)) + 1
    assert model.best_epoch_ == best
    assert model.best_validation_score_ == max(whole_net)
    assert all(s <= model.best_validation_score_ for s in scores[best:])
    # Stopped by the patience unless the bound came first.
    assert model.finetune_epochs_ == min(60, best + 3)
    # The kept net is the one that scored so on the held-out rows (Python's
    # float64 forward against the core's f32: at most one row apart).
    encoded = np.searchsorted(model.classes_, y)
    _, X_valid, _, y_valid = train_test_split(X, encoded, test_size=0.25, stratify=encoded,
                                              random_state=0)
    assert abs(model.score(X_valid, model.classes_[y_valid]) - model.best_validation_score_) <= (
        1.0 / len(y_valid) + 1e-12)


@pytest.mark.parametrize("method", [dict(), dict(finetune_method="conjugate_gradient",
                                                 finetune_batch_size=100)])
def test_the_final_pass_trains_the_chosen_net_on_the_held_out_rows_too(method):
    X, y = _binary_problem(rows=400, seed=1, noise=0.35)
    params = dict(n_iter=3, finetune_epochs=12, head_epochs=2, early_stopping=True,
                  validation_fraction=0.25, n_iter_no_change=3, random_state=0, **method)
    chosen = DBNClassifier((16,), **params).fit(X, y)
    final = DBNClassifier((16,), **params, final_epochs=4).fit(X, y)
    # The choice is the same; the final pass goes on from it.
    assert final.best_epoch_ == chosen.best_epoch_
    assert final.validation_scores_ == chosen.validation_scores_
    assert chosen.final_loss_curve_ == []
    assert 1 <= len(final.final_loss_curve_) <= 4
    if "finetune_method" not in method:
        assert len(final.final_loss_curve_) == 4, "SGD has no fixed point to stop at"
    assert not np.array_equal(chosen.coefs_[0], final.coefs_[0])
    # The held-out rows are training rows of the final pass: their
    # cross-entropy falls.
    encoded = np.searchsorted(chosen.classes_, y)
    _, X_valid, _, y_valid = train_test_split(X, encoded, test_size=0.25, stratify=encoded,
                                              random_state=0)

    def held_out_loss(model):
        p = model.predict_proba(X_valid)[np.arange(len(y_valid)), y_valid]
        return -np.mean(np.log(p))

    assert held_out_loss(final) < held_out_loss(chosen)


@pytest.mark.parametrize("params, words", [
    (dict(final_epochs=2), "final_epochs needs early_stopping=True"),
    (dict(early_stopping=True, final_epochs=-1), "DBNClassifier: final_epochs"),
])
def test_bad_final_passes_are_value_errors_naming_them(params, words):
    X, y = _binary_problem(rows=60)
    with pytest.raises(ValueError, match=words):
        DBNClassifier((4,), n_iter=1, finetune_epochs=1, **params).fit(X, y)


@pytest.mark.parametrize("estimator", [DBN, DBNClassifier])
@pytest.mark.parametrize(
    "params, field",
    [
        (dict(final_momentum=1.0), "final_momentum"),
        (dict(final_momentum="high"), "final_momentum"),
        (dict(momentum_switch_epoch=-1), "momentum_switch_epoch"),
        (dict(momentum_switch_epoch=2.5), "momentum_switch_epoch"),
        (dict(sparsity_target=0.0), "sparsity_target"),
        (dict(sparsity_target=1.0), "sparsity_target"),
        (dict(sparsity_target=0.1, sparsity_cost=-1.0), "sparsity_cost"),
        (dict(sparsity_target=0.1, sparsity_decay=1.0), "sparsity_decay"),
        (dict(sparsity_cost=0.5), "sparsity_target"),
    ],
)
def test_bad_pretraining_schedules_are_value_errors_naming_them(estimator, params, field):
    X, y = _binary_problem(rows=20)
    with pytest.raises(ValueError, match=field):
        estimator((4,), n_iter=1, **params).fit(X, y)


def test_the_momentum_switches_at_its_epoch_and_not_before():
    X, _ = _binary_problem(rows=200)
    params = dict(n_iter=3, random_state=0, momentum=0.5)

    def weights(**schedule):
        return DBN((8,), **params, **schedule).fit(X).coefs_[0]

    constant = weights()
    np.testing.assert_array_equal(weights(final_momentum=0.5, momentum_switch_epoch=1), constant)
    # A switch at epoch 3 of 3 (0-based) is never reached.
    np.testing.assert_array_equal(weights(final_momentum=0.9, momentum_switch_epoch=3), constant)
    assert not np.array_equal(weights(final_momentum=0.9, momentum_switch_epoch=2), constant)


def test_a_sparsity_target_pulls_the_mean_hidden_activation_towards_it():
    X, _ = _binary_problem(rows=300)
    params = dict(n_iter=20, random_state=0, learning_rate=0.1)
    plain = DBN((16,), **params).fit(X).transform(X).mean()
    sparse = DBN((16,), sparsity_target=0.05, sparsity_cost=1.0, **params).fit(X).transform(X)
    assert sparse.mean() < plain
    assert abs(sparse.mean() - 0.05) < abs(plain - 0.05)
