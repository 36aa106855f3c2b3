"""What every estimator of the package shares: input checks, the seed of
the native core, the logistic, and pickling through the Rust side's files."""

import os
import tempfile

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state


def logistic(x):
    """1 / (1 + exp(-x)), computed with exp of a non-positive argument
    only, so no input overflows."""
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1.0 + e)
    return out


def check_unit_interval(name, X):
    """``X`` if its values lie in [0, 1] (binary units), else a ValueError
    naming ``name`` and the offending extreme."""
    if X.size and X.min() < 0.0:
        raise ValueError(
            f"Negative values in data passed to {name}: binary units take values in [0, 1]; "
            f"found a minimum of {X.min()}"
        )
    if X.size and X.max() > 1.0:
        raise ValueError(
            f"{name}: X must hold values in [0, 1] (binary units); found a maximum of {X.max()}"
        )
    return X


class BinaryInput:
    """Estimators of binary visible units: their input must lie in [0, 1]."""

    def _unit_interval(self, X):
        return check_unit_interval(type(self).__name__, X)


def check_positive_int(owner, field, value):
    """``value`` as an int if it is a positive integer, else a ValueError
    naming ``owner`` and ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {field} must be a positive integer, got {value!r}")
    return int(value)


def check_positive_ints(estimator, fields):
    """A ValueError naming the first of ``fields`` of ``estimator`` that is
    not a positive integer."""
    for field in fields:
        check_positive_int(type(estimator).__name__, field, getattr(estimator, field))


def check_layer_sizes(estimator, field="hidden_layer_sizes"):
    """The layer sizes in ``field`` of ``estimator`` as a list of ints, or
    a ValueError naming the field."""
    sizes = getattr(estimator, field)
    try:
        layers = list(sizes)
    except TypeError:
        layers = None
    if not layers or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in layers
    ):
        raise ValueError(
            f"{type(estimator).__name__}: {field} must be a non-empty sequence of positive "
            f"integers, got {sizes!r}"
        )
    return [int(n) for n in layers]


def check_non_negative_int(owner, field, value):
    """``value`` as an int if it is a non-negative integer, else a
    ValueError naming ``owner`` and ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{owner}: {field} must be a non-negative integer, got {value!r}")
    return int(value)


def check_bool(owner, field, value):
    """``value`` as a bool if it is one (Python's or numpy's), else a
    ValueError naming ``owner`` and ``field``: a string such as "no" would
    otherwise read as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {field} must be True or False, got {value!r}")
    return bool(value)


def check_positive_number(owner, field, value):
    """``value`` as a float if it is a positive finite number, else a
    ValueError naming ``owner`` and ``field``."""
    number = _finite(value)
    if number is None or number <= 0:
        raise ValueError(f"{owner}: {field} must be a positive finite number, got {value!r}")
    return number


def check_non_negative_number(owner, field, value):
    """``value`` as a float if it is a finite number >= 0, else a
    ValueError naming ``owner`` and ``field``."""
    number = _finite(value)
    if number is None or number < 0:
        raise ValueError(f"{owner}: {field} must be a finite number >= 0, got {value!r}")
    return number


def check_fraction(owner, field, value):
    """``value`` as a float if it lies in [0, 1) (a momentum, a dropout
    probability), else a ValueError naming ``owner`` and ``field``."""
    number = _finite(value)
    if number is None or not 0.0 <= number < 1.0:
        raise ValueError(f"{owner}: {field} must be a number in [0, 1), got {value!r}")
    return number


def _finite(value):
    """``value`` as a float if it is a finite real number (not a bool),
    else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def cd_recipe(estimator, seed, *, persistent=False, **overrides):
    """The native core's CD recipe from ``estimator``'s parameters
    (``learning_rate``, ``batch_size``, ``n_iter``, ``k``, ``momentum``,
    ``weight_decay``; any of them replaced by ``overrides``; and where the
    estimator has them, ``final_momentum`` with ``momentum_switch_epoch``
    and ``sparsity_target``, ``sparsity_cost``, ``sparsity_decay``), each
    value and ``persistent`` checked: a ValueError names the parameter."""
    values = {name: getattr(estimator, name) for name in
              ("learning_rate", "batch_size", "n_iter", "k", "momentum", "weight_decay")}
    values.update(overrides)
    owner = type(estimator).__name__
    persistent = check_bool(owner, "persistent", persistent)
    for field in ("batch_size", "n_iter", "k"):
        values[field] = check_positive_int(owner, field, values[field])
    values["learning_rate"] = check_positive_number(owner, "learning_rate", values["learning_rate"])
    values["momentum"] = check_fraction(owner, "momentum", values["momentum"])
    values["weight_decay"] = check_non_negative_number(owner, "weight_decay", values["weight_decay"])
    final = getattr(estimator, "final_momentum", None)
    values["final_momentum"] = (values["momentum"] if final is None
                                else check_fraction(owner, "final_momentum", final))
    values["momentum_switch_epoch"] = check_non_negative_int(
        owner, "momentum_switch_epoch", getattr(estimator, "momentum_switch_epoch", 0))
    values["sparsity"] = _sparsity(estimator, owner)
    return dict(values, seed=seed, persistent=persistent)


def _sparsity(estimator, owner):
    """``(target, cost, decay)`` of ``estimator``'s sparsity penalty, or
    None when ``sparsity_target`` is None; a cost or decay given without a
    target is a ValueError (it would be ignored)."""
    target = getattr(estimator, "sparsity_target", None)
    cost = check_non_negative_number(owner, "sparsity_cost",
                                     getattr(estimator, "sparsity_cost", 0.0))
    decay = check_fraction(owner, "sparsity_decay", getattr(estimator, "sparsity_decay", 0.9))
    if target is None:
        if cost != 0.0 or decay != 0.9:
            raise ValueError(f"{owner}: sparsity_cost and sparsity_decay need a sparsity_target, "
                             f"got sparsity_target=None")
        return None
    number = _finite(target)
    if number is None or not 0.0 < number < 1.0:
        raise ValueError(f"{owner}: sparsity_target must be a number in (0, 1), got {target!r}")
    return (number, cost, decay)


def encode_classes(estimator, y):
    """Sets ``estimator.classes_`` to the sorted labels of ``y`` and returns
    each row's class index; fewer than 2 classes is a ValueError."""
    estimator.classes_, encoded = np.unique(y, return_inverse=True)
    if len(estimator.classes_) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs samples of at least 2 classes in the data, "
            f"got {len(estimator.classes_)} class")
    return encoded.astype(np.int64)


def held_out(owner, X, encoded, fraction, random_state):
    """``X`` and its class indices without the validation rows, and the
    validation rows and indices: ``fraction`` of them (``validation_fraction``,
    in (0, 1)), stratified by class, drawn from ``random_state``; one of each
    class on both sides, or a ValueError saying why."""
    number = None if isinstance(fraction, bool) else fraction
    if not isinstance(number, (int, float, np.number)) or not 0.0 < float(number) < 1.0:
        raise ValueError(
            f"{owner}: validation_fraction must be a number in (0, 1), got {fraction!r}")
    try:
        X_train, X_valid, y_train, y_valid = train_test_split(
            X, encoded, test_size=float(number), stratify=encoded, random_state=random_state)
    except ValueError as error:
        raise ValueError(
            f"{owner}: early_stopping cannot hold out validation_fraction={fraction!r} "
            f"of {len(encoded)} rows with one of each class on both sides: {error}") from error
    return (np.ascontiguousarray(X_train), np.ascontiguousarray(y_train),
            (np.ascontiguousarray(X_valid), np.ascontiguousarray(y_valid)))


def native_seed(random_state):
    """The native core's seed drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def float32(array):
    """``array`` as a C-ordered float32 array (the native core's layout;
    no copy when it already is one)."""
    return np.ascontiguousarray(array, dtype=np.float32)


class SavedAsRustFile:
    """Pickles a fitted estimator through the Rust side's file: the state
    holds the file's bytes instead of the learned arrays, so a pickle is
    exactly what ``save`` writes. Subclasses name the attributes the file
    holds (``_file_attributes``) and implement ``save(path)`` and
    ``_read(path)`` (which sets them)."""

    _file_attributes = ()

    def __getstate__(self):
        # A copy: the base class may hand back the instance's own __dict__.
        state = dict(super().__getstate__())
        if self._file_attributes and all(hasattr(self, n) for n in self._file_attributes):
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "model.safetensors")
                self.save(path)
                with open(path, "rb") as file:
                    state["_rust_file"] = file.read()
            for name in self._file_attributes:
                state.pop(name, None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_rust_file", None)
        super().__setstate__(state)
        if data is not None:
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "model.safetensors")
                with open(path, "wb") as file:
                    file.write(data)
                self._read(path)
