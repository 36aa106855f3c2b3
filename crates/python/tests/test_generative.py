"""GenerativeDBN: it classifies, its samples look like their class, and
bad requests are ValueErrors."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from deepbelief import GenerativeDBN


def _prototypes(rows=600, width=24, seed=0):
    # Three binary prototypes with 10% of pixels flipped.
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, width)) < 0.5
    y = rng.integers(0, 3, rows)
    return (prototypes[y] ^ (rng.random((rows, width)) < 0.1)).astype(np.float32), y


@pytest.fixture(scope="module")
def trained():
    X, y = _prototypes()
    names = np.array(["ant", "bee", "cat"])[y]
    model = GenerativeDBN((16,), top_units=32, n_iter=10, batch_size=10, updown_epochs=5,
                          random_state=0).fit(X[:400], names[:400])
    return model, X, names


def test_it_classifies_held_out_images(trained):
    model, X, names = trained
    # Chance is 1/3; prototypes ~12 pixels apart at 10% noise are separable.
    assert model.score(X[400:], names[400:]) > 0.95


def test_samples_of_a_class_are_classified_as_that_class_by_another_model(trained):
    model, X, names = trained
    judge = LogisticRegression(max_iter=1000).fit(X, names)
    for label in model.classes_:
        samples = model.sample(label, 200, n_samples=30, random_state=1)
        assert samples.shape == (30, 24)
        assert np.all((samples >= 0) & (samples <= 1))
        agreed = np.mean(judge.predict((samples > 0.5).astype(np.float32)) == label)
        assert agreed >= 0.9, (label, agreed)


def test_sampling_is_seeded(trained):
    model, _, _ = trained
    a = model.sample("bee", 20, n_samples=3, random_state=7)
    assert np.array_equal(a, model.sample("bee", 20, n_samples=3, random_state=7))
    assert not np.array_equal(a, model.sample("bee", 20, n_samples=3, random_state=8))
    assert model.sample(None, 20, n_samples=2, random_state=7).shape == (2, 24)


def test_hots_sampled_down_pass_reads_the_same_chains_with_its_own_noise(trained):
    model, X, names = trained
    judge = LogisticRegression(max_iter=1000).fit(X, names)
    common = dict(n_samples=30, random_state=3)
    smooth = model.sample("cat", 200, **common)
    sampled = model.sample("cat", 200, down_pass="sampled", **common)
    assert sampled.shape == smooth.shape and np.all((sampled >= 0) & (sampled <= 1))
    assert not np.array_equal(smooth, sampled)
    assert np.array_equal(sampled, model.sample("cat", 200, down_pass="sampled", **common))
    for images in (sampled, model.sample("cat", 200, start="noise_image", **common)):
        agreed = np.mean(judge.predict((images > 0.5).astype(np.float32)) == "cat")
        assert agreed >= 0.9, agreed


@pytest.mark.parametrize(
    "kwargs, words",
    [({"label": "dog"}, "dog"), ({"label": "ant", "n_steps": 0}, "n_steps"),
     ({"label": "ant", "n_samples": 0}, "n_samples"),
     ({"label": "ant", "start": "zeros"}, "sample: start"),
     ({"label": "ant", "down_pass": "sample"}, "sample: down_pass")],
)
def test_bad_sample_requests_are_value_errors_naming_them(trained, kwargs, words):
    model, _, _ = trained
    with pytest.raises(ValueError, match=words):
        model.sample(**kwargs)


@pytest.mark.parametrize(
    "params, words",
    [({"top_units": 0}, "top_units"), ({"hidden_layer_sizes": ()}, "hidden_layer_sizes"),
     ({"updown_epochs": -1}, "updown_epochs"), ({"top_k": 0}, "top_k"),
     ({"top_pcd_epochs": -1}, "top_pcd_epochs"),
     ({"top_learning_rate": 0.0}, "top_learning_rate"),
     ({"top_learning_rate": float("nan")}, "top_learning_rate"),
     ({"top_sampled_reconstruction": "no"}, "top_sampled_reconstruction must be True or False"),
     ({"updown_top_statistics": "states"}, "updown_top_statistics"),
     ({"top_pcd_learning_rate": 0.0}, "top_pcd_learning_rate"),
     ({"top_pcd_learning_rate": float("nan")}, "top_pcd_learning_rate"),
     ({"top_pcd_final_learning_rate": 0.01},
      r"top_pcd_final_learning_rate must be in \(0, top_pcd_learning_rate 0.001\], found 0.01"),
     ({"learning_rate": 0.0}, "GenerativeDBN: learning_rate"),
     ({"momentum": 1.0}, "GenerativeDBN: momentum"),
     ({"weight_decay": -1e-4}, "GenerativeDBN: weight_decay"),
     ({"updown_epochs": 1, "updown_learning_rate": float("inf")},
      "GenerativeDBN: updown_learning_rate"),
     ({"updown_epochs": 1, "updown_momentum": 1.0}, "GenerativeDBN: updown_momentum"),
     ({"updown_epochs": 1, "updown_momentum": "high"}, "GenerativeDBN: updown_momentum"),
     ({"updown_epochs": 1, "updown_weight_decay": -1.0}, "GenerativeDBN: updown_weight_decay")],
)
def test_bad_settings_are_value_errors_naming_them(params, words):
    X, y = _prototypes(rows=30)
    with pytest.raises(ValueError, match=words):
        GenerativeDBN(**params).fit(X, y)


def test_the_pcd_phase_trains_the_top_rbm_alone_and_keeps_a_classifier():
    X, y = _prototypes()
    common = dict(hidden_layer_sizes=(16,), top_units=32, n_iter=10, batch_size=10,
                  updown_epochs=2, random_state=0)
    plain = GenerativeDBN(**common).fit(X[:400], y[:400])
    pcd = GenerativeDBN(**common, top_pcd_epochs=3, top_pcd_learning_rate=0.01,
                        top_pcd_final_learning_rate=0.001).fit(X[:400], y[:400])
    for a, b in zip(plain.up_layers_ + plain.down_layers_, pcd.up_layers_ + pcd.down_layers_):
        assert np.array_equal(a[0], b[0])
    assert not np.array_equal(plain.top_layer_[0], pcd.top_layer_[0])
    assert pcd.score(X[400:], y[400:]) > 0.95
    samples = pcd.sample(y[0], 50, n_samples=4, random_state=1)
    assert samples.shape == (4, 24) and np.all((samples >= 0) & (samples <= 1))


def test_sampled_top_statistics_change_up_down_and_still_classify():
    X, y = _prototypes()
    common = dict(hidden_layer_sizes=(16,), top_units=32, n_iter=10, batch_size=10,
                  updown_epochs=3, random_state=0)
    default = GenerativeDBN(**common).fit(X[:400], y[:400])
    sampled = GenerativeDBN(**common, updown_top_statistics="sampled_states").fit(X[:400], y[:400])
    assert not np.array_equal(default.top_layer_[0], sampled.top_layer_[0])
    assert sampled.score(X[400:], y[400:]) > 0.95


def test_the_top_rbms_rate_and_reconstruction_reach_it_alone():
    # Each of the top RBM's own settings changes its weights and leaves the
    # lower layers (trained first, from the same seed) bit for bit alone.
    X, y = _prototypes()
    common = dict(hidden_layer_sizes=(16,), top_units=32, n_iter=10, batch_size=10,
                  random_state=0)
    default = GenerativeDBN(**common).fit(X[:400], y[:400])
    assert default.score(X[400:], y[400:]) > 0.95
    for change in ({"top_learning_rate": 0.1}, {"top_sampled_reconstruction": False}):
        other = GenerativeDBN(**common, **change).fit(X[:400], y[:400])
        for a, b in zip(default.up_layers_, other.up_layers_):
            assert np.array_equal(a[0], b[0]), change
        assert not np.array_equal(default.top_layer_[0], other.top_layer_[0]), change


def _noisy_prototypes(rows=400, width=24, flip=0.2, seed=2):
    # The prototypes with 20% of pixels flipped: a few rows are ambiguous,
    # so the held-out accuracy moves from epoch to epoch (with these
    # settings its best is reached twice, before the last epoch).
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, width)) < 0.5
    y = rng.integers(0, 3, rows)
    return (prototypes[y] ^ (rng.random((rows, width)) < flip)).astype(np.float32), y


HOT_SMALL = dict(hidden_layer_sizes=(16,), top_units=32, n_iter=20, batch_size=10,
                 updown_epochs=8, updown_learning_rate=0.1, random_state=0)


def test_early_stopping_keeps_the_last_epoch_of_the_best_held_out_accuracy():
    X, y = _noisy_prototypes()
    model = GenerativeDBN(**HOT_SMALL, early_stopping=True, validation_fraction=0.25).fit(X, y)
    scores = model.validation_scores_
    assert len(scores) == 8 + 1, "the greedy model, then each up-down epoch"
    best = max(scores)
    assert model.best_epoch_ == len(scores) - 1 - scores[::-1].index(best), scores
    assert len(set(scores)) > 1 and model.best_epoch_ < 8, "a choice to make"
    assert model.best_validation_score_ == best
    # The held-out rows are train_test_split's, stratified, from random_state.
    _, X_valid, _, y_valid = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    assert model.score(X_valid, y_valid) == pytest.approx(best, abs=1e-12)
    assert 0.0 < model.final_goal_ <= 1.0
    assert model.final_training_scores_ == [] and model.final_goal_met_ is False


def test_the_final_phase_trains_on_all_rows_until_the_chosen_epochs_training_accuracy():
    X, y = _noisy_prototypes()
    model = GenerativeDBN(**HOT_SMALL, early_stopping=True, validation_fraction=0.25,
                          final_phase_max_epochs=5).fit(X, y)
    scores, goal = model.final_training_scores_, model.final_goal_
    assert 1 <= len(scores) <= 5
    assert all(s < goal for s in scores[:-1]), (scores, goal)
    assert model.final_goal_met_ == (scores[-1] >= goal - 1e-12), (scores, goal)
    if not model.final_goal_met_:
        assert len(scores) == 5, "only its bound stops it short of the goal"
    # The model is the last final epoch's, scored on every row it trained on.
    assert model.score(X, y) == pytest.approx(scores[-1], abs=1e-12)


def test_without_early_stopping_nothing_is_chosen():
    X, y = _prototypes(rows=200)
    model = GenerativeDBN(**{**HOT_SMALL, "updown_epochs": 2}).fit(X, y)
    assert model.best_epoch_ == 2
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    assert model.final_goal_ is None and model.final_goal_met_ is None


@pytest.mark.parametrize(
    "params, words",
    [({"early_stopping": True, "updown_epochs": 0}, "needs updown_epochs >= 1"),
     ({"final_phase_max_epochs": 3}, "final_phase_max_epochs needs early_stopping=True"),
     ({"final_phase_max_epochs": -1}, "GenerativeDBN: final_phase_max_epochs"),
     ({"early_stopping": True, "validation_fraction": 1.0},
      r"GenerativeDBN: validation_fraction must be a number in \(0, 1\)"),
     ({"early_stopping": True, "validation_fraction": 0.01},
      "GenerativeDBN: early_stopping cannot hold out"),
     ({"early_stopping": "yes"}, "early_stopping must be True or False")],
)
def test_bad_choice_settings_are_value_errors_naming_them(params, words):
    X, y = _prototypes(rows=60)
    with pytest.raises(ValueError, match=words):
        GenerativeDBN(**{**HOT_SMALL, "updown_epochs": 1, **params}).fit(X, y)


def test_the_momentum_schedule_reaches_the_lower_layers_and_the_top_rbm():
    # Hinton's 0.5 then 0.9, as the Rust presets: a switch inside the
    # epochs changes every layer, one at the last epoch (0-based) none.
    X, y = _prototypes(rows=200)
    common = dict(hidden_layer_sizes=(16,), top_units=32, n_iter=3, batch_size=10,
                  momentum=0.5, random_state=0)
    constant = GenerativeDBN(**common).fit(X, y)
    unreached = GenerativeDBN(**common, final_momentum=0.9, momentum_switch_epoch=3).fit(X, y)
    switched = GenerativeDBN(**common, final_momentum=0.9, momentum_switch_epoch=2).fit(X, y)
    assert np.array_equal(constant.up_layers_[0][0], unreached.up_layers_[0][0])
    assert np.array_equal(constant.top_layer_[0], unreached.top_layer_[0])
    assert not np.array_equal(constant.up_layers_[0][0], switched.up_layers_[0][0])
    assert not np.array_equal(constant.top_layer_[0], switched.top_layer_[0])


@pytest.mark.parametrize(
    "params, field",
    [(dict(final_momentum=1.0), "final_momentum"), (dict(final_momentum="high"), "final_momentum"),
     (dict(momentum_switch_epoch=-1), "momentum_switch_epoch")],
)
def test_bad_momentum_schedules_are_value_errors_naming_them(params, field):
    X, y = _prototypes(rows=30)
    with pytest.raises(ValueError, match=f"GenerativeDBN: {field}"):
        GenerativeDBN((4,), n_iter=1, **params).fit(X, y)
