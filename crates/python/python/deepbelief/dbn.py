"""Deep belief nets as scikit-learn estimators: the greedy stack as a
transformer, and the stack with a softmax head fine-tuned as a classifier."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from deepbelief import _native
from deepbelief._common import (
    BinaryInput,
    SavedAsRustFile,
    cd_recipe,
    check_bool,
    check_fraction,
    check_layer_sizes,
    check_non_negative_int,
    check_non_negative_number,
    check_positive_int,
    check_positive_number,
    encode_classes,
    float32,
    held_out,
    logistic,
    native_seed,
)


def _binary_input(estimator, X, reset, dtype):
    X = validate_data(estimator, X, reset=reset, dtype=dtype, order="C")
    return estimator._unit_interval(X)


class DBN(BinaryInput, SavedAsRustFile, TransformerMixin, BaseEstimator):
    """A greedy stack of binary RBMs (Hinton, Osindero & Teh 2006); its
    ``transform`` is the top layer's hidden probabilities.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
    learning_rate, batch_size, n_iter, k, momentum, weight_decay
        Each layer's CD-k recipe.
    final_momentum : float or None, default=None
        The momentum from epoch ``momentum_switch_epoch`` (0-based) on, in
        [0, 1); None keeps ``momentum`` throughout (Hinton & Salakhutdinov's
        ``rbm.m``: 0.5, then 0.9 from epoch 5).
    momentum_switch_epoch : int, default=5
    sparsity_target, sparsity_cost, sparsity_decay : float or None, 0.0, 0.9
        A sparsity penalty on the hidden units (Hinton's guide, section
        11): each unit's running mean activation q (decay
        ``sparsity_decay``) is pulled towards ``sparsity_target`` in (0, 1)
        by ``sparsity_cost * (q - target)`` times the rate on its bias and
        weights; None (the default) is no penalty. ``deepbelief classify
        --preset paper`` pretrains with 0.1, 0.11, 0.9, 1,000 epochs at rate
        0.01, weight decay 1e-3 and momentum 0.5 then 0.9.
    random_state : int, RandomState instance or None, default=None
    device : {"flex", "wgpu"}, default="flex"
        The Burn backend that trains.

    Attributes
    ----------
    coefs_ : list of ndarray of shape (n_inputs, n_outputs)
        Each layer's recognition weights, bottom first.
    intercepts_ : list of ndarray of shape (n_outputs,)
        Each layer's hidden biases.
    visible_intercepts_ : list of ndarray of shape (n_inputs,)
        Each layer's visible biases (what generating from the stack needs).
    n_features_in_ : int
    """

    _file_attributes = ("coefs_", "intercepts_", "visible_intercepts_")

    def __init__(self, hidden_layer_sizes=(256, 256), *, learning_rate=0.1, batch_size=10,
                 n_iter=10, random_state=None, k=1, momentum=0.5, weight_decay=0.0002,
                 final_momentum=None, momentum_switch_epoch=5, sparsity_target=None,
                 sparsity_cost=0.0, sparsity_decay=0.9, device="flex"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.final_momentum = final_momentum
        self.momentum_switch_epoch = momentum_switch_epoch
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.sparsity_decay = sparsity_decay
        self.device = device

    def fit(self, X, y=None):
        """Train the stack layer by layer on the rows of ``X``; returns self."""
        X = _binary_input(self, X, reset=True, dtype=np.float32)
        recipe = cd_recipe(self, native_seed(self.random_state))
        layers = _native.fit_dbn(X, check_layer_sizes(self), recipe, str(self.device))
        self._set_layers(layers)
        return self

    def _set_layers(self, layers):
        self.coefs_ = [weights for weights, *_ in layers]
        self.intercepts_ = [hidden for _, hidden, *_ in layers]
        self.visible_intercepts_ = [visible for _, _, visible, *_ in layers]
        self.n_features_in_ = self.coefs_[0].shape[0]

    def transform(self, X):
        """The top layer's hidden probabilities (one up-pass of probabilities)."""
        check_is_fitted(self)
        X = _binary_input(self, X, reset=False, dtype=(np.float64, np.float32))
        for w, b in zip(self.coefs_, self.intercepts_):
            X = logistic(X @ w.astype(X.dtype, copy=False) + b.astype(X.dtype, copy=False))
        return X

    def save(self, path):
        """Write the stack as the Rust side's stack file (``dbn::load_stack``)."""
        check_is_fitted(self)
        layers = []
        for w, hidden, visible in zip(self.coefs_, self.intercepts_, self.visible_intercepts_):
            config = _native.rbm_config_json(w.shape[0], w.shape[1], "bernoulli", 1.0, False)
            layers.append((float32(w), float32(hidden), float32(visible), None, config))
        _native.save_stack(str(path), layers)

    def _read(self, path):
        layers = _native.load_stack(str(path))
        for i, (_, _, _, log_sigma, _) in enumerate(layers):
            if log_sigma is not None:
                raise ValueError(f"{path}: layer {i} has Gaussian visible units; DBN is binary")
        self._set_layers(layers)

    @classmethod
    def load(cls, path, **params):
        """A fitted DBN from a stack file of the Rust side (layer sizes from
        the file; other parameters from ``params``)."""
        model = cls(**params)
        model._read(path)
        model.hidden_layer_sizes = tuple(w.shape[1] for w in model.coefs_)
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class DBNClassifier(BinaryInput, SavedAsRustFile, ClassifierMixin, BaseEstimator):
    """A DBN classifier (Hinton & Salakhutdinov 2006): the greedy stack of
    binary RBMs, a softmax head, then fine-tuning of the whole net on the
    labels, by SGD with momentum or by H&S's own conjugate gradients.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
    learning_rate, batch_size, n_iter, k, momentum, weight_decay
        Each layer's CD-k recipe (pretraining).
    final_momentum, momentum_switch_epoch, sparsity_target, sparsity_cost, sparsity_decay
        The pretraining's momentum schedule and sparsity penalty, as
        :class:`DBN`'s.
    finetune_epochs : int, default=10
        Epochs of backprop; 0 keeps the pretrained layers and leaves the
        softmax head at its initial (random) weights.
    finetune_learning_rate : float, default=0.1
    finetune_momentum : float, default=0.9
        SGD's rate (positive) and momentum (in [0, 1)); unused by
        conjugate gradients.
    finetune_weight_decay : float, default=0.0
        SGD's L2 penalty on every weight and bias (``deepbelief classify``:
        1e-5).
    finetune_lr_decay : float, default=1.0
        SGD's rate is multiplied by this after each whole-net epoch, in
        (0, 1] (``deepbelief classify --preset paper``: 0.99, there in
        per-batch steps).
    input_dropout, hidden_dropout : float, default=0.0
        SGD's dropout (Hinton et al. 2012): each input and each hidden unit
        is zeroed with this probability, in [0, 1), in every training
        step, the kept ones scaled by ``1 / (1 - p)``; prediction uses the
        whole net (``deepbelief classify --preset paper``: 0.1 and 0.25).
        Conjugate gradients refuse non-default values of these four.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified,
        drawn from ``random_state``), measure the accuracy on them after
        every fine-tuning epoch and keep the whole-net epoch with the
        highest (the earliest of equals); stop after ``n_iter_no_change``
        epochs without a higher one (``deepbelief classify``'s choice on
        validation and ``--patience``; scikit-learn's ``MLPClassifier``
        names).
    validation_fraction : float, default=0.1
        In (0, 1); used with ``early_stopping``.
    n_iter_no_change : int, default=10
        Used with ``early_stopping``.
    final_epochs : int, default=0
        With ``early_stopping``: epochs of the kept net on all the rows
        after the choice, the held-out ones included, with a fresh velocity
        and SGD's rate going on from the kept epoch's (``deepbelief classify
        --final-epochs``; the ``paper`` preset's 10). Conjugate gradients
        stop early at a fixed point.
    finetune_method : {"sgd", "conjugate_gradient"}, default="sgd"
        ``"conjugate_gradient"`` is ``backpropclassify.m``'s: on each fixed
        batch (one shuffle), ``line_searches`` line searches of Rasmussen's
        ``minimize`` on the summed cross-entropy (``deepbelief classify
        --preset hs``: 1,000 images, 3 line searches, 5 head epochs).
    finetune_batch_size : int or None, default=None
        Fine-tuning's batch: None takes ``batch_size`` for SGD and 1,000
        (H&S) for conjugate gradients; at most the number of rows.
    line_searches : int, default=3
        Conjugate gradients' line searches per batch.
    head_epochs : int, default=0
        The first of the ``finetune_epochs`` train the softmax head alone on
        the fixed hidden layers' output (H&S: 5).
    random_state : int, RandomState instance or None, default=None
    device : {"flex", "wgpu"}, default="flex"
        The Burn backend that trains.

    Attributes
    ----------
    classes_ : ndarray
    coefs_, intercepts_ : lists of ndarray
        Each layer's weights ``(n_inputs, n_outputs)`` and biases after
        fine-tuning, the softmax head last.
    loss_curve_ : list of float
        The mean training cross-entropy of each fine-tuning epoch run.
    validation_scores_ : list of float or None
        With ``early_stopping``, the validation accuracy after each epoch.
    best_validation_score_ : float or None
        With ``early_stopping``, the kept epoch's validation accuracy.
    finetune_epochs_ : int
        Fine-tuning epochs run (fewer than ``finetune_epochs`` when early
        stopping or a fixed point of conjugate gradients ended them).
    best_epoch_ : int
        The epoch whose net is kept (1-based; the last one run without
        ``early_stopping``, 0 when none ran).
    final_loss_curve_ : list of float
        The mean training cross-entropy of each final-pass epoch run
        (empty without ``final_epochs``); the coefficients are the last
        one's.
    n_features_in_ : int
    """

    _file_attributes = ("coefs_", "intercepts_")

    def __init__(self, hidden_layer_sizes=(256, 256), *, learning_rate=0.1, batch_size=10,
                 n_iter=10, random_state=None, k=1, momentum=0.5, weight_decay=0.0002,
                 final_momentum=None, momentum_switch_epoch=5, sparsity_target=None,
                 sparsity_cost=0.0, sparsity_decay=0.9, finetune_epochs=10, finetune_learning_rate=0.1, finetune_momentum=0.9,
                 finetune_method="sgd", finetune_batch_size=None, line_searches=3,
                 head_epochs=0, finetune_weight_decay=0.0, finetune_lr_decay=1.0,
                 input_dropout=0.0, hidden_dropout=0.0, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, final_epochs=0, device="flex"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.random_state = random_state
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.final_momentum = final_momentum
        self.momentum_switch_epoch = momentum_switch_epoch
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.sparsity_decay = sparsity_decay
        self.finetune_epochs = finetune_epochs
        self.finetune_learning_rate = finetune_learning_rate
        self.finetune_momentum = finetune_momentum
        self.finetune_method = finetune_method
        self.finetune_batch_size = finetune_batch_size
        self.line_searches = line_searches
        self.head_epochs = head_epochs
        self.finetune_weight_decay = finetune_weight_decay
        self.finetune_lr_decay = finetune_lr_decay
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.final_epochs = final_epochs
        self.device = device

    def fit(self, X, y):
        """Pretrain, then fine-tune on ``(X, y)``; returns self."""
        X, y = validate_data(self, X, y, reset=True, dtype=np.float32, order="C")
        check_classification_targets(y)
        X = self._unit_interval(X)
        recipe = cd_recipe(self, native_seed(self.random_state))
        sizes = check_layer_sizes(self)
        finetune = dict(
            epochs=check_non_negative_int("DBNClassifier", "finetune_epochs", self.finetune_epochs),
            **self._finetune_method(),
            **self._sgd_settings())
        encoded = encode_classes(self, y)
        valid, patience = None, None
        final_epochs = check_non_negative_int("DBNClassifier", "final_epochs", self.final_epochs)
        if check_bool("DBNClassifier", "early_stopping", self.early_stopping):
            patience = check_positive_int(
                "DBNClassifier", "n_iter_no_change", self.n_iter_no_change)
            X, encoded, valid = held_out("DBNClassifier", X, encoded, self.validation_fraction,
                                         self.random_state)
        elif final_epochs > 0:
            raise ValueError(
                "DBNClassifier: final_epochs needs early_stopping=True: the final pass trains "
                "the epoch chosen on the held-out rows on all of them")
        layers, losses, scores, best, final_losses = _native.fit_dbn_classifier(
            X, encoded, len(self.classes_), sizes, recipe, finetune, str(self.device),
            valid, patience, final_epochs)
        self._set_layers(layers)
        self.final_loss_curve_ = list(final_losses)
        self.loss_curve_ = list(losses)
        self.finetune_epochs_ = len(losses)
        self.best_epoch_ = int(best)
        self.validation_scores_ = list(scores) if valid is not None else None
        self.best_validation_score_ = (
            scores[best - 1] if valid is not None and best > 0 else None)
        return self

    def _finetune_method(self):
        """The method, its batch (None: the native side's default), line
        searches and head epochs; the method's name and the head epochs'
        bound are the native side's rules."""
        name = "DBNClassifier"
        batch = self.finetune_batch_size
        return dict(
            method=str(self.finetune_method),
            batch_size=None if batch is None else check_positive_int(
                name, "finetune_batch_size", batch),
            line_searches=check_positive_int(name, "line_searches", self.line_searches),
            head_epochs=check_non_negative_int(name, "head_epochs", self.head_epochs))

    def _sgd_settings(self):
        """SGD's rate, momentum, weight decay, rate decay and dropout,
        each checked (a ValueError names the parameter); conjugate
        gradients, which use none of them, refuse any of the last four
        that is not its default rather than drop it."""
        name = "DBNClassifier"
        settings = dict(
            learning_rate=check_positive_number(
                name, "finetune_learning_rate", self.finetune_learning_rate),
            momentum=check_fraction(name, "finetune_momentum", self.finetune_momentum),
            weight_decay=check_non_negative_number(
                name, "finetune_weight_decay", self.finetune_weight_decay),
            lr_decay=check_positive_number(name, "finetune_lr_decay", self.finetune_lr_decay),
            input_dropout=check_fraction(name, "input_dropout", self.input_dropout),
            hidden_dropout=check_fraction(name, "hidden_dropout", self.hidden_dropout))
        if settings["lr_decay"] > 1.0:
            raise ValueError(
                f"{name}: finetune_lr_decay must be in (0, 1], got {self.finetune_lr_decay!r}")
        defaults = dict(weight_decay=0.0, lr_decay=1.0, input_dropout=0.0, hidden_dropout=0.0)
        if self.finetune_method == "conjugate_gradient":
            for field, default in defaults.items():
                if settings[field] != default:
                    public = field if "dropout" in field else f"finetune_{field}"
                    raise ValueError(
                        f"{name}: {public} is SGD's; finetune_method=\"conjugate_gradient\" "
                        f"takes it at its default {default}, got {settings[field]!r}")
        return settings

    def _set_layers(self, layers):
        self.coefs_ = [w for w, _ in layers]
        self.intercepts_ = [b for _, b in layers]
        self.n_features_in_ = self.coefs_[0].shape[0]

    def predict_proba(self, X):
        """Class probabilities: the softmax of the head over the hidden layers."""
        check_is_fitted(self)
        X = _binary_input(self, X, reset=False, dtype=(np.float64, np.float32))
        for w, b in zip(self.coefs_[:-1], self.intercepts_[:-1]):
            X = logistic(X @ w.astype(X.dtype, copy=False) + b.astype(X.dtype, copy=False))
        logits = X @ self.coefs_[-1].astype(X.dtype, copy=False) + self.intercepts_[-1].astype(X.dtype, copy=False)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row."""
        best = np.argmax(self.predict_proba(X), axis=1)
        return self.classes_[best]

    def save(self, path):
        """Write the classifier as the Rust side's classifier file
        (``dbn::load_classifier``; the class labels are not part of it:
        the file's classes are 0, 1, ... in the order of ``classes_``)."""
        check_is_fitted(self)
        _native.save_classifier(
            str(path), [(float32(w), float32(b)) for w, b in zip(self.coefs_, self.intercepts_)])

    def _read(self, path):
        self._set_layers(_native.load_classifier(str(path)))

    @classmethod
    def load(cls, path, classes=None, **params):
        """A fitted classifier from a classifier file of the Rust side;
        ``classes`` names its classes (default 0, 1, ...)."""
        model = cls(**params)
        model._read(path)
        n_classes = model.coefs_[-1].shape[1]
        model.classes_ = np.arange(n_classes) if classes is None else np.asarray(classes)
        if len(model.classes_) != n_classes:
            raise ValueError(f"{path}: {n_classes} classes, {len(model.classes_)} names given")
        model.hidden_layer_sizes = tuple(w.shape[1] for w in model.coefs_[:-1])
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags
