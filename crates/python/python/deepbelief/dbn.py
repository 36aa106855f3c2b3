"""Deep belief nets as scikit-learn estimators: the greedy stack as a
transformer, and the stack with a softmax head fine-tuned as a classifier."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from deepbelief import _native
from deepbelief.rbm import _logistic, check_positive_ints, check_unit_interval, native_seed


def _check_sizes(estimator):
    """The hidden layer sizes of ``estimator`` after its CD recipe's
    integers are checked: ValueErrors name what is wrong."""
    check_positive_ints(estimator, ["batch_size", "n_iter", "k"])
    sizes = estimator.hidden_layer_sizes
    layers = list(sizes)
    if not layers or any(not isinstance(n, (int, np.integer)) or n < 1 for n in layers):
        raise ValueError(
            f"{type(estimator).__name__}: hidden_layer_sizes must be positive integers, got {sizes!r}")
    return [int(n) for n in layers]


class DBN(TransformerMixin, BaseEstimator):
    """A greedy stack of binary RBMs (Hinton, Osindero & Teh 2006); its
    ``transform`` is the top layer's hidden probabilities.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
    learning_rate, batch_size, n_iter, k, momentum, weight_decay
        Each layer's CD-k recipe.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    coefs_ : list of ndarray of shape (n_inputs, n_outputs)
        Each layer's recognition weights, bottom first.
    intercepts_ : list of ndarray of shape (n_outputs,)
        Each layer's hidden biases.
    n_features_in_ : int
    """

    def __init__(self, hidden_layer_sizes=(256, 256), *, learning_rate=0.1, batch_size=10,
                 n_iter=10, random_state=None, k=1, momentum=0.5, weight_decay=0.0002):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay

    def fit(self, X, y=None):
        """Train the stack layer by layer on the rows of ``X``; returns self."""
        X = check_unit_interval("DBN", validate_data(self, X, reset=True, dtype=np.float32, order="C"))
        sizes = _check_sizes(self)
        seed = native_seed(self.random_state)
        layers = _native.fit_dbn(X, sizes, float(self.learning_rate), int(self.batch_size),
                                 int(self.n_iter), seed, int(self.k), float(self.momentum),
                                 float(self.weight_decay))
        self.coefs_ = [w for w, _ in layers]
        self.intercepts_ = [b for _, b in layers]
        return self

    def transform(self, X):
        """The top layer's hidden probabilities (one up-pass of probabilities)."""
        check_is_fitted(self)
        X = check_unit_interval(
            "DBN", validate_data(self, X, reset=False, dtype=(np.float64, np.float32), order="C"))
        for w, b in zip(self.coefs_, self.intercepts_):
            X = _logistic(X @ w.astype(X.dtype, copy=False) + b.astype(X.dtype, copy=False))
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class DBNClassifier(ClassifierMixin, BaseEstimator):
    """A DBN classifier (Hinton & Salakhutdinov 2006): the greedy stack of
    binary RBMs, a softmax head, then fine-tuning of the whole net by SGD
    with momentum on the labels.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
    learning_rate, batch_size, n_iter, k, momentum, weight_decay
        Each layer's CD-k recipe (pretraining).
    finetune_epochs : int, default=10
    finetune_learning_rate : float, default=0.1
    finetune_momentum : float, default=0.9
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    classes_ : ndarray
    coefs_, intercepts_ : lists of ndarray
        Each layer's weights and biases after fine-tuning, the head last.
    n_features_in_ : int
    """

    def __init__(self, hidden_layer_sizes=(256, 256), *, learning_rate=0.1, batch_size=10,
                 n_iter=10, random_state=None, k=1, momentum=0.5, weight_decay=0.0002,
                 finetune_epochs=10, finetune_learning_rate=0.1, finetune_momentum=0.9):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.finetune_epochs = finetune_epochs
        self.finetune_learning_rate = finetune_learning_rate
        self.finetune_momentum = finetune_momentum

    def fit(self, X, y):
        """Pretrain, then fine-tune on ``(X, y)``; returns self."""
        X, y = validate_data(self, X, y, reset=True, dtype=np.float32, order="C")
        check_unit_interval("DBNClassifier", X)
        check_classification_targets(y)
        sizes = _check_sizes(self)
        if not isinstance(self.finetune_epochs, (int, np.integer)) or self.finetune_epochs < 0:
            raise ValueError(
                f"DBNClassifier: finetune_epochs must be a non-negative integer, got {self.finetune_epochs!r}")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"DBNClassifier needs samples of at least 2 classes in the data, got {len(self.classes_)} class")
        seed = native_seed(self.random_state)
        layers = _native.fit_dbn_classifier(
            X, encoded.astype(np.int64), len(self.classes_), sizes, float(self.learning_rate),
            int(self.batch_size), int(self.n_iter), seed, int(self.k), float(self.momentum),
            float(self.weight_decay), int(self.finetune_epochs), float(self.finetune_learning_rate),
            float(self.finetune_momentum))
        self.coefs_ = [w for w, _ in layers]
        self.intercepts_ = [b for _, b in layers]
        return self

    def predict_proba(self, X):
        """Class probabilities: the softmax of the head over the hidden layers."""
        check_is_fitted(self)
        X = check_unit_interval(
            "DBNClassifier", validate_data(self, X, reset=False, dtype=(np.float64, np.float32), order="C"))
        for w, b in zip(self.coefs_[:-1], self.intercepts_[:-1]):
            X = _logistic(X @ w.astype(X.dtype, copy=False) + b.astype(X.dtype, copy=False))
        logits = X @ self.coefs_[-1].astype(X.dtype, copy=False) + self.intercepts_[-1].astype(X.dtype, copy=False)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags
