"""Restricted Boltzmann machines as scikit-learn estimators."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from deepbelief import _native


def _logistic(x):
    # exp of a negative argument only: no overflow at any input.
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


def check_positive_ints(estimator, fields):
    """A ValueError naming the first of ``fields`` of ``estimator`` that is
    not a positive integer."""
    for field in fields:
        value = getattr(estimator, field)
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"{type(estimator).__name__}: {field} must be a positive integer, got {value!r}"
            )


def native_seed(random_state):
    """The native core's seed drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


class BernoulliRBM(TransformerMixin, BaseEstimator):
    """Binary RBM trained by contrastive divergence on deepbelief's Rust core.

    The parameters and learned attributes are scikit-learn's
    ``sklearn.neural_network.BernoulliRBM``'s (a drop-in replacement),
    plus what it lacks: ``k`` Gibbs steps, ``persistent`` (PCD, scikit-learn's
    algorithm, the default) or CD, ``momentum`` and ``weight_decay``.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.1
        Learning rate of the weight and bias updates.
    batch_size : int, default=10
        Examples per mini-batch.
    n_iter : int, default=10
        Passes over the training data (epochs).
    verbose : int, default=0
        Unused (kept for scikit-learn compatibility).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and sampling.
    k : int, default=1
        Gibbs steps per update.
    persistent : bool, default=True
        Persistent CD (chains carried across mini-batches), else CD-k.
    momentum : float, default=0.0
        Momentum of the updates, in [0, 1).
    weight_decay : float, default=0.0
        L2 penalty on the weights (times the learning rate).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix.
    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases.
    intercept_visible_ : ndarray of shape (n_features,)
        Visible biases.
    n_features_in_ : int
        Number of features seen during ``fit``.
    """

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.1,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        k=1,
        persistent=True,
        momentum=0.0,
        weight_decay=0.0,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay

    def _check_input(self, X, reset, dtype):
        X = validate_data(self, X, reset=reset, dtype=dtype, order="C")
        return check_unit_interval("BernoulliRBM", X)

    def fit(self, X, y=None):
        """Fit the model to the rows of ``X`` (values in [0, 1]); returns self."""
        # The native core trains in float32 (a copy only for other dtypes).
        X = self._check_input(X, reset=True, dtype=np.float32)
        check_positive_ints(self, ["n_components", "batch_size", "n_iter", "k"])
        seed = native_seed(self.random_state)
        weights, hidden, visible = _native.fit_bernoulli_rbm(
            X,
            int(self.n_components),
            float(self.learning_rate),
            int(self.batch_size),
            int(self.n_iter),
            seed,
            int(self.k),
            bool(self.persistent),
            float(self.momentum),
            float(self.weight_decay),
        )
        self.components_ = np.ascontiguousarray(weights.T)
        self.intercept_hidden_ = hidden
        self.intercept_visible_ = visible
        return self

    def transform(self, X):
        """Hidden unit probabilities P(h = 1 | v) of the rows of ``X``."""
        check_is_fitted(self)
        # Computed in the input's precision (float64 stays float64).
        X = self._check_input(X, reset=False, dtype=(np.float64, np.float32))
        weights = self.components_.astype(X.dtype, copy=False)
        return _logistic(X @ weights.T + self.intercept_hidden_.astype(X.dtype, copy=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def save(self, path):
        """Write the fitted model as the Rust side's safetensors file (what
        ``deepbelief train-rbm`` writes and ``rbm::load_rbm`` reads)."""
        check_is_fitted(self)
        _native.save_bernoulli_rbm(
            str(path),
            np.ascontiguousarray(self.components_.T, dtype=np.float32),
            np.ascontiguousarray(self.intercept_hidden_, dtype=np.float32),
            np.ascontiguousarray(self.intercept_visible_, dtype=np.float32),
        )

    @classmethod
    def load(cls, path, **params):
        """A fitted estimator from a binary RBM file of the Rust side
        (``n_components`` from the file; other parameters from ``params``)."""
        weights, hidden, visible = _native.load_bernoulli_rbm(str(path))
        model = cls(n_components=weights.shape[1], **params)
        model.components_ = np.ascontiguousarray(weights.T)
        model.intercept_hidden_ = hidden
        model.intercept_visible_ = visible
        model.n_features_in_ = weights.shape[0]
        return model



class GaussianRBM(TransformerMixin, BaseEstimator):
    """RBM with Gaussian visible units and binary hidden units (real-valued
    data such as whitened image patches), trained by contrastive divergence
    on deepbelief's Rust core.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.001
        Learning rate (Gaussian units need a smaller one than binary units).
    batch_size : int, default=10
        Examples per mini-batch.
    n_iter : int, default=10
        Passes over the training data (epochs).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and sampling.
    sigma : float, default=1.0
        Standard deviation of every visible unit (1 for standardised data),
        or its starting value with ``learn_sigma``.
    learn_sigma : bool, default=False
        Learn one sigma per visible unit, within [sigma / 100, sigma * 100].
    sigma_learning_rate : float, default=0.001
        Learning rate of log sigma.
    k : int, default=1
        Gibbs steps per update.
    persistent : bool, default=False
        Persistent CD, else CD-k.
    momentum : float, default=0.0
        Momentum of the updates, in [0, 1).
    weight_decay : float, default=0.0
        L2 penalty on the weights (times the learning rate).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    sigma_ : ndarray of shape (n_features,)
        Standard deviation of each visible unit.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.001,
        batch_size=10,
        n_iter=10,
        random_state=None,
        sigma=1.0,
        learn_sigma=False,
        sigma_learning_rate=0.001,
        k=1,
        persistent=False,
        momentum=0.0,
        weight_decay=0.0,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.sigma = sigma
        self.learn_sigma = learn_sigma
        self.sigma_learning_rate = sigma_learning_rate
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay

    def fit(self, X, y=None):
        """Fit the model to the rows of ``X`` (real values); returns self."""
        X = validate_data(self, X, reset=True, dtype=np.float32, order="C")
        check_positive_ints(self, ["n_components", "batch_size", "n_iter", "k"])
        seed = native_seed(self.random_state)
        (weights, hidden, visible), sigma = _native.fit_gaussian_rbm(
            X,
            int(self.n_components),
            float(self.learning_rate),
            int(self.batch_size),
            int(self.n_iter),
            seed,
            int(self.k),
            bool(self.persistent),
            float(self.momentum),
            float(self.weight_decay),
            float(self.sigma),
            bool(self.learn_sigma),
            float(self.sigma_learning_rate),
        )
        self.components_ = np.ascontiguousarray(weights.T)
        self.intercept_hidden_ = hidden
        self.intercept_visible_ = visible
        self.sigma_ = sigma
        return self

    def transform(self, X):
        """Hidden unit probabilities P(h = 1 | v) = logistic((v / sigma) W + c)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32), order="C")
        weights = self.components_.astype(X.dtype, copy=False)
        scaled = X / self.sigma_.astype(X.dtype, copy=False)
        return _logistic(scaled @ weights.T + self.intercept_hidden_.astype(X.dtype, copy=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
