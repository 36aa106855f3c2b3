"""Restricted Boltzmann machines as scikit-learn estimators."""

import json

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from deepbelief import _native
from deepbelief._common import (
    BinaryInput,
    SavedAsRustFile,
    cd_recipe,
    check_bool,
    check_positive_int,
    check_positive_ints,
    check_positive_number,
    float32,
    logistic,
    native_seed,
)


class _Rbm(SavedAsRustFile, TransformerMixin, BaseEstimator):
    """What both RBMs share: the learned arrays, their native parts, files."""

    _file_attributes = ("components_", "intercept_hidden_", "intercept_visible_")
    _visible_units = "bernoulli"

    def _config(self):
        n_components, n_features = self.components_.shape
        return _native.rbm_config_json(n_features, n_components, *self._units())

    def _units(self):
        return (self._visible_units, 1.0, False)

    def _parts(self):
        """The model as the native core takes it."""
        return (
            float32(self.components_.T),
            float32(self.intercept_hidden_),
            float32(self.intercept_visible_),
            None,
            self._config(),
        )

    def _set_parts(self, parts):
        weights, hidden, visible, _, _ = parts
        self.components_ = np.ascontiguousarray(weights.T)
        self.intercept_hidden_ = hidden
        self.intercept_visible_ = visible
        self.n_features_in_ = weights.shape[0]

    def _fit_native(self, X, sigma_learning_rate=None):
        check_positive_ints(self, ["n_components"])
        recipe = cd_recipe(self, native_seed(self.random_state), persistent=self.persistent)
        config = _native.rbm_config_json(X.shape[1], int(self.n_components), *self._units())
        parts, errors = _native.fit_rbm(X, config, recipe, sigma_learning_rate, str(self.device))
        self._set_parts(parts)
        for name in ("h_samples_", "_velocity"):
            self.__dict__.pop(name, None)
        if getattr(self, "verbose", 0):
            for epoch, error in enumerate(errors, 1):
                print(f"[{type(self).__name__}] Iteration {epoch}, reconstruction error = {error:.6f}")
        return self

    def log_likelihood(self, X, method="exact", *, ais_runs=100, ais_steps=None,
                       ais_side="visible", return_log_z=False):
        """Mean log-likelihood per row of ``X`` in nats, ``mean(-F(v)) - log Z``
        (for Gaussian visible units a log density of ``v`` itself).

        ``method="exact"`` sums over every state of the smaller binary layer
        (up to about 25 units); ``"ais"`` estimates log Z by annealed
        importance sampling (Salakhutdinov & Murray 2008: ``ais_runs`` runs
        from the base model that gives each visible unit the mean of ``X``,
        on their 14,501 temperatures, or ``ais_steps + 1`` equally spaced
        ones), over the visible units (``ais_side="visible"``, theirs) or
        over the hidden units (``"hidden"``: the transposed RBM from the
        base rates of ``E[h | v]``; which side serves better depends on the
        model). With ``return_log_z``, returns ``(log_likelihood, log_z,
        (log_z_low, log_z_high))``, the band being log of the mean
        importance weight -/+ 3 standard errors; a band that reaches zero
        weight (``log_z_low`` of ``-inf``) says a few runs carry the
        estimate, which is then usually too low: raise ``ais_steps``.
        """
        check_is_fitted(self)
        X = float32(self._checked_rows(X))
        if method not in ("exact", "ais"):
            raise ValueError(f"log_likelihood: method must be 'exact' or 'ais', got {method!r}")
        ais_runs = check_positive_int("log_likelihood", "ais_runs", ais_runs)
        if ais_steps is not None:
            ais_steps = check_positive_int("log_likelihood", "ais_steps", ais_steps)
        if ais_side not in ("visible", "hidden"):
            raise ValueError(
                f"log_likelihood: ais_side must be 'visible' or 'hidden', got {ais_side!r}")
        ll, log_z, low, high = _native.log_likelihood(
            self._parts(), X, method, ais_runs, ais_steps, ais_side,
            native_seed(self.random_state), str(self.device))
        return (ll, log_z, (low, high)) if return_log_z else ll

    def _checked_rows(self, X):
        """``X`` checked against the fitted model, as float32 rows."""
        return validate_data(self, X, reset=False, dtype=np.float32, order="C")

    def save(self, path):
        """Write the fitted model as the Rust side's safetensors file (what
        ``deepbelief train-rbm`` writes and ``rbm::load_rbm`` reads)."""
        check_is_fitted(self)
        _native.save_rbm(str(path), self._parts())

    def _read(self, path):
        parts = _native.load_rbm(str(path))
        config = json.loads(parts[4])
        kind = config["visible_units"]["kind"], config["hidden_units"]["kind"]
        if kind != (self._visible_units, "bernoulli"):
            raise ValueError(
                f"{path}: an RBM of {kind[0]} visible and {kind[1]} hidden units, "
                f"not a {type(self).__name__}"
            )
        self._set_parts(parts)
        return config

    @classmethod
    def load(cls, path, **params):
        """A fitted estimator from an RBM file of the Rust side
        (``n_components`` from the file; other parameters from ``params``)."""
        model = cls(**params)
        model._read(path)
        model.n_components = model.components_.shape[0]
        return model


class BernoulliRBM(BinaryInput, _Rbm):
    """Binary RBM trained by contrastive divergence on deepbelief's Rust core.

    The parameters, learned attributes and methods are scikit-learn's
    ``sklearn.neural_network.BernoulliRBM``'s (a drop-in replacement), plus
    what it lacks: ``k`` Gibbs steps, ``persistent`` (PCD, scikit-learn's
    algorithm, the default) or CD, ``momentum``, ``weight_decay``, the
    backend (``device``), ``log_likelihood`` (exact or AIS) and files.

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
        Print each epoch's reconstruction error after ``fit``.
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
    device : {"flex", "wgpu"}, default="flex"
        The Burn backend that trains: Flex on the CPU, or wgpu (Vulkan,
        Metal, DX12) on a GPU. The ``deepbelief`` command's ``--device``.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix.
    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases.
    intercept_visible_ : ndarray of shape (n_features,)
        Visible biases.
    h_samples_ : ndarray of shape (n_rows, n_components)
        Hidden states of the persistent chains after the last
        ``partial_fit`` (PCD only).
    n_features_in_ : int
        Number of features seen during ``fit``.
    """

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10,
                 verbose=0, random_state=None, k=1, persistent=True, momentum=0.0,
                 weight_decay=0.0, device="flex"):
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
        self.device = device

    def _checked_rows(self, X):
        return self._check_input(X, reset=False, dtype=np.float32)

    def _check_input(self, X, reset, dtype):
        return self._unit_interval(validate_data(self, X, reset=reset, dtype=dtype, order="C"))

    def fit(self, X, y=None):
        """Fit the model to the rows of ``X`` (values in [0, 1]); returns self."""
        # The native core trains in float32 (a copy only for other dtypes).
        return self._fit_native(self._check_input(X, reset=True, dtype=np.float32))

    def partial_fit(self, X, y=None):
        """One update with all rows of ``X`` as the mini-batch (scikit-learn's
        ``partial_fit``); PCD chains (``h_samples_``) and momentum carry over
        to the next call. Returns self."""
        first = not hasattr(self, "components_")
        X = self._check_input(X, reset=first, dtype=np.float32)
        check_positive_ints(self, ["n_components"])
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        # One update on all of X: its rows are the batch, one pass.
        recipe = cd_recipe(self, native_seed(self.random_state_), persistent=self.persistent,
                           batch_size=len(X), n_iter=1)
        config = _native.rbm_config_json(X.shape[1], int(self.n_components), *self._units())
        chains = getattr(self, "h_samples_", None)
        parts, chains, velocity = _native.partial_fit_rbm(
            X, None if first else self._parts(), config,
            None if chains is None else float32(chains), getattr(self, "_velocity", None),
            recipe, str(self.device))
        self._set_parts(parts)
        if chains is not None:
            self.h_samples_ = chains
        self._velocity = velocity
        return self

    def transform(self, X):
        """Hidden unit probabilities P(h = 1 | v) of the rows of ``X``."""
        check_is_fitted(self)
        # Computed in the input's precision (float64 stays float64).
        X = self._check_input(X, reset=False, dtype=(np.float64, np.float32))
        weights = self.components_.astype(X.dtype, copy=False)
        return logistic(X @ weights.T + self.intercept_hidden_.astype(X.dtype, copy=False))

    def _free_energy(self, v):
        # F(v) = -v.b - sum_j log(1 + exp(c_j + v.W_j)).
        return -(v @ self.intercept_visible_) - np.logaddexp(
            0, v @ self.components_.T + self.intercept_hidden_).sum(axis=1)

    def gibbs(self, v):
        """One Gibbs step from the visible states ``v``: hidden states drawn
        from P(h | v), then visible states from P(v | h) (booleans, as
        scikit-learn's)."""
        check_is_fitted(self)
        v = self._check_input(v, reset=False, dtype=(np.float64, np.float32))
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        rng = self.random_state_
        p_hidden = logistic(v @ self.components_.T + self.intercept_hidden_)
        h = rng.uniform(size=p_hidden.shape) < p_hidden
        p_visible = logistic(h @ self.components_ + self.intercept_visible_)
        return rng.uniform(size=p_visible.shape) < p_visible

    def score_samples(self, X):
        """Pseudo-log-likelihood of each row (scikit-learn's estimate): the
        number of features times log P(v_i | v_-i) of one feature per row,
        drawn at random (from ``random_state``)."""
        check_is_fitted(self)
        v = self._check_input(X, reset=False, dtype=(np.float64, np.float32))
        rng = check_random_state(self.random_state)
        rows = np.arange(v.shape[0])
        flipped_feature = rng.randint(0, v.shape[1], v.shape[0])
        flipped = v.copy()
        flipped[rows, flipped_feature] = 1 - flipped[rows, flipped_feature]
        gap = self._free_energy(flipped) - self._free_energy(v)
        return -v.shape[1] * np.logaddexp(0, -gap)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class GaussianRBM(_Rbm):
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
    device : {"flex", "wgpu"}, default="flex"
        The Burn backend that trains.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    sigma_ : ndarray of shape (n_features,)
        Standard deviation of each visible unit.
    log_sigma_ : ndarray of shape (n_features,)
        Its logarithm, the parameter that is learned and saved.
    n_features_in_ : int
    """

    _file_attributes = _Rbm._file_attributes + ("sigma_", "log_sigma_")
    _visible_units = "gaussian"

    def __init__(self, n_components=256, *, learning_rate=0.001, batch_size=10, n_iter=10,
                 random_state=None, sigma=1.0, learn_sigma=False, sigma_learning_rate=0.001,
                 k=1, persistent=False, momentum=0.0, weight_decay=0.0, device="flex"):
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
        self.device = device

    def _units(self):
        owner = type(self).__name__
        learn_sigma = check_bool(owner, "learn_sigma", self.learn_sigma)
        return ("gaussian", check_positive_number(owner, "sigma", self.sigma), learn_sigma)

    def _parts(self):
        weights, hidden, visible, _, config = super()._parts()
        return weights, hidden, visible, float32(self.log_sigma_), config

    def _set_parts(self, parts):
        super()._set_parts(parts)
        self.log_sigma_ = parts[3]
        self.sigma_ = np.exp(parts[3])

    def _read(self, path):
        sigma = super()._read(path)["visible_sigma"]
        self.sigma, self.learn_sigma = sigma["initial"], sigma["learned"]

    def fit(self, X, y=None):
        """Fit the model to the rows of ``X`` (real values); returns self."""
        X = validate_data(self, X, reset=True, dtype=np.float32, order="C")
        rate = None
        if check_bool(type(self).__name__, "learn_sigma", self.learn_sigma):
            rate = check_positive_number(
                type(self).__name__, "sigma_learning_rate", self.sigma_learning_rate)
        return self._fit_native(X, rate)

    def transform(self, X):
        """Hidden unit probabilities P(h = 1 | v) = logistic((v / sigma) W + c)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32), order="C")
        weights = self.components_.astype(X.dtype, copy=False)
        scaled = X / self.sigma_.astype(X.dtype, copy=False)
        return logistic(scaled @ weights.T + self.intercept_hidden_.astype(X.dtype, copy=False))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
