"""The generative DBN of Hinton, Osindero & Teh (2006) as a scikit-learn
classifier that also draws images of a class."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
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
    native_seed,
)


def _native_parts(parts):
    """An RBM's parts with float32 C-ordered arrays (as the core takes them)."""
    weights, hidden, visible, log_sigma, config = parts
    return (float32(weights), float32(hidden), float32(visible),
            None if log_sigma is None else float32(log_sigma), config)


class GenerativeDBN(BinaryInput, SavedAsRustFile, ClassifierMixin, BaseEstimator):
    """A DBN that models images and their labels jointly (HOT 2006): lower
    layers of binary RBMs trained greedily on the images, a top RBM over
    [the last layer's features, one softmax unit per class], then optionally
    up-down (contrastive wake-sleep) fine-tuning by HOT's recipe.

    ``predict`` gives the label whose top-level free energy with the image's
    features is lowest; ``sample(label, n_steps)`` draws images of a class
    by Gibbs sampling in the top RBM with the label clamped, then one
    top-down pass.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(500, 500)
        The lower layers (HOT: 500, 500).
    top_units : int, default=2000
        Hidden units of the top RBM (HOT: 2000).
    learning_rate, batch_size, n_iter, k, momentum, weight_decay
        The lower layers' CD-k recipe (HOT: rate 0.1, weight cost 2e-4,
        30 epochs, CD-1; batches of 100).
    final_momentum : float or None, default=None
        The momentum from epoch ``momentum_switch_epoch`` on (0-based), for
        the lower layers and the top RBM; None keeps ``momentum``
        throughout. The Rust ``generative`` presets use Hinton's 0.5, then
        0.9 from the sixth epoch (``momentum=0.5, final_momentum=0.9,
        momentum_switch_epoch=5``).
    momentum_switch_epoch : int, default=5
    top_k : int, default=1
        Gibbs steps of the top RBM's CD (HOT: CD-1).
    top_learning_rate : float, default=0.03
        The top RBM's CD learning rate (its momentum, weight decay, epochs
        and batches are the lower layers'). HOT do not publish theirs; 0.03
        is the Rust presets' (``paper``, and ``quick`` since 2026-12-05),
        chosen on validation, where 0.1 left CD-1's greedy DBN at about
        twice HOT's 2.49% test error on MNIST (docs/RESULTS.md, "The greedy
        gap with a CD-1 top RBM").
    top_sampled_reconstruction : bool, default=True
        The top RBM's negative phase from sampled visible units, the label
        group one-hot (HOT: "exactly one unit was allowed to be active"), as
        the ``paper`` preset; False takes their conditional means (the CD
        default of the lower layers).
    updown_epochs : int, default=0
        Up-down epochs after the greedy layers (HOT: 300; 0 keeps the
        greedy model). Class-balanced batches of 10 images per class,
        mean-field labels in the negative phase, 3, 6, then 10 Gibbs steps
        over the thirds of the epochs.
    updown_learning_rate, updown_momentum, updown_weight_decay : float
        Up-down's rates (HOT chose them on validation and did not publish
        them). The defaults are the Rust presets' (``quick``: 10 epochs,
        ``paper``: 300), chosen by the ``paper`` preset's sweep.
    updown_top_statistics : {"probabilities", "sampled_states"}, default="probabilities"
        The top RBM's hidden values in up-down's statistics: probabilities
        (the lower-variance choice) or sampled states, as HOT's appendix B
        code.
    top_pcd_epochs : int, default=0
        Epochs of persistent CD-1 for the top RBM last, each on a fresh
        stochastic up-pass of the images, in batches of ``batch_size``
        (momentum 0.5, weight cost 1e-5): this package's extra phase for
        more recognisable samples, not HOT's (the Rust ``quick`` preset
        runs 20). 0: none.
    top_pcd_learning_rate : float, default=0.001
        Its learning rate (of the first epoch).
    top_pcd_final_learning_rate : float or None, default=None
        The rate of its last epoch, reached linearly by epoch (at most
        ``top_pcd_learning_rate``; the ``quick`` preset's: 0.00005); None
        keeps the rate constant.
    early_stopping : bool, default=False
        HOT's choice on validation: hold out ``validation_fraction`` of the
        rows (stratified, drawn from ``random_state``), train the greedy
        layers and up-down on the rest, measure the accuracy on the held-out
        rows for the greedy model and after every up-down epoch, and keep
        the epoch with the highest (the later of equals; every epoch runs,
        as HOT's). Needs ``updown_epochs`` >= 1.
    validation_fraction : float, default=0.1
        In (0, 1); used with ``early_stopping`` (HOT: 10,000 of the 60,000
        MNIST training images, about 0.167).
    final_phase_max_epochs : int, default=0
        HOT's final phase after the choice (needs ``early_stopping``):
        up-down on all the rows, the held-out ones included, from the chosen
        epoch's model, until their accuracy is at least the chosen epoch's
        on the rows it trained on, at most this many epochs (HOT needed 59;
        ``deepbelief generative --preset paper`` allows 100). 0: none.
    random_state : int, RandomState instance or None, default=None
    device : {"flex", "wgpu"}, default="flex"
        The Burn backend that trains and samples.

    Attributes
    ----------
    classes_ : ndarray
    validation_scores_ : list of float or None
        With ``early_stopping``, the held-out accuracy of the greedy model
        (entry 0), then after each up-down epoch.
    best_epoch_ : int
        The up-down epoch kept (0: the greedy model; ``updown_epochs``
        without ``early_stopping``).
    best_validation_score_ : float or None
        With ``early_stopping``, the kept epoch's held-out accuracy.
    final_goal_ : float or None
        With ``early_stopping``, the kept epoch's accuracy on the rows it
        trained on: the final phase's goal.
    final_training_scores_ : list of float or None
        With ``early_stopping``, the accuracy on all rows after each epoch
        of the final phase (empty without one).
    final_goal_met_ : bool or None
        With ``early_stopping``, whether the final phase reached its goal
        (False where it ran to ``final_phase_max_epochs`` or did not run).
    up_layers_, down_layers_ : list of tuples
        The lower layers' recognition and generative RBMs, bottom first,
        each ``(weights (n_visible, n_hidden), hidden biases, visible biases,
        None, configuration JSON)``.
    top_layer_ : tuple
        The top RBM, as above.
    n_features_in_ : int
    """

    _file_attributes = ("up_layers_", "down_layers_", "top_layer_")

    def __init__(self, hidden_layer_sizes=(500, 500), *, top_units=2000, learning_rate=0.1,
                 batch_size=100, n_iter=30, k=1, top_k=1, top_learning_rate=0.03,
                 top_sampled_reconstruction=True, momentum=0.5, weight_decay=0.0002,
                 final_momentum=None, momentum_switch_epoch=5,
                 updown_epochs=0, updown_learning_rate=0.03, updown_momentum=0.9,
                 updown_weight_decay=2e-4, updown_top_statistics="probabilities",
                 top_pcd_epochs=0, top_pcd_learning_rate=0.001,
                 top_pcd_final_learning_rate=None, early_stopping=False,
                 validation_fraction=0.1, final_phase_max_epochs=0, random_state=None,
                 device="flex"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.top_units = top_units
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.top_k = top_k
        self.top_learning_rate = top_learning_rate
        self.top_sampled_reconstruction = top_sampled_reconstruction
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.final_momentum = final_momentum
        self.momentum_switch_epoch = momentum_switch_epoch
        self.updown_epochs = updown_epochs
        self.updown_learning_rate = updown_learning_rate
        self.updown_momentum = updown_momentum
        self.updown_weight_decay = updown_weight_decay
        self.updown_top_statistics = updown_top_statistics
        self.top_pcd_epochs = top_pcd_epochs
        self.top_pcd_learning_rate = top_pcd_learning_rate
        self.top_pcd_final_learning_rate = top_pcd_final_learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.final_phase_max_epochs = final_phase_max_epochs
        self.random_state = random_state
        self.device = device

    def fit(self, X, y):
        """Train on the images ``X`` (values in [0, 1]) and labels ``y``;
        returns self."""
        X, y = validate_data(self, X, y, reset=True, dtype=np.float32, order="C")
        check_classification_targets(y)
        X = self._unit_interval(X)
        sizes = check_layer_sizes(self)
        top_units = check_positive_int("GenerativeDBN", "top_units", self.top_units)
        seed = native_seed(self.random_state)
        lower = cd_recipe(self, seed)
        top = cd_recipe(self, seed, k=check_positive_int("GenerativeDBN", "top_k", self.top_k),
                        learning_rate=check_positive_number(
                            "GenerativeDBN", "top_learning_rate", self.top_learning_rate))
        top_sampled = check_bool("GenerativeDBN", "top_sampled_reconstruction",
                                 self.top_sampled_reconstruction)
        updown = dict(
            epochs=check_non_negative_int("GenerativeDBN", "updown_epochs", self.updown_epochs),
            learning_rate=check_positive_number(
                "GenerativeDBN", "updown_learning_rate", self.updown_learning_rate),
            momentum=check_fraction("GenerativeDBN", "updown_momentum", self.updown_momentum),
            weight_decay=check_non_negative_number(
                "GenerativeDBN", "updown_weight_decay", self.updown_weight_decay),
            top_statistics=str(self.updown_top_statistics))
        top_pcd = self._top_pcd()
        final_epochs = check_non_negative_int(
            "GenerativeDBN", "final_phase_max_epochs", self.final_phase_max_epochs)
        encoded = encode_classes(self, y)
        valid = None
        if check_bool("GenerativeDBN", "early_stopping", self.early_stopping):
            if updown["epochs"] == 0:
                raise ValueError(
                    "GenerativeDBN: early_stopping chooses an up-down epoch on the held-out "
                    "rows and needs updown_epochs >= 1, got 0")
            X, encoded, valid = held_out(
                "GenerativeDBN", X, encoded, self.validation_fraction, self.random_state)
        elif final_epochs > 0:
            raise ValueError(
                "GenerativeDBN: final_phase_max_epochs needs early_stopping=True: HOT's final "
                "phase trains towards the accuracy of the epoch chosen on the held-out rows")
        (up, down, top), report = _native.fit_generative_dbn(
            X, encoded, len(self.classes_), sizes, top_units, lower, top, top_sampled, updown,
            top_pcd, str(self.device), valid, final_epochs)
        self._set_layers(up, down, top)
        self._set_choice(report, updown["epochs"])
        return self

    def _set_choice(self, report, updown_epochs):
        """The attributes of HOT's choice on validation from the native
        side's report (errors in percent), or their values without one."""
        if report is None:
            self.validation_scores_ = self.best_validation_score_ = None
            self.final_goal_ = self.final_training_scores_ = self.final_goal_met_ = None
            self.best_epoch_ = updown_epochs
            return
        valid_errors, best, goal, final_errors, met = report
        self.validation_scores_ = [1.0 - e / 100.0 for e in valid_errors]
        self.best_epoch_ = int(best)
        self.best_validation_score_ = self.validation_scores_[self.best_epoch_]
        self.final_goal_ = 1.0 - goal / 100.0
        self.final_training_scores_ = [1.0 - e / 100.0 for e in final_errors]
        self.final_goal_met_ = bool(met)

    def _top_pcd(self):
        owner = "GenerativeDBN"
        rate = check_positive_number(owner, "top_pcd_learning_rate", self.top_pcd_learning_rate)
        final = self.top_pcd_final_learning_rate
        if final is not None:
            # That it lies at or below the first rate is the native side's rule.
            final = check_positive_number(owner, "top_pcd_final_learning_rate", final)
        epochs = check_non_negative_int(owner, "top_pcd_epochs", self.top_pcd_epochs)
        return dict(epochs=epochs, learning_rate=rate, final_learning_rate=final)

    def _set_layers(self, up, down, top):
        self.up_layers_, self.down_layers_, self.top_layer_ = list(up), list(down), top
        self.n_features_in_ = up[0][0].shape[0]

    def _parts(self):
        return ([_native_parts(p) for p in self.up_layers_],
                [_native_parts(p) for p in self.down_layers_], _native_parts(self.top_layer_))

    def predict(self, X):
        """The label of each row of ``X`` whose free energy in the top RBM,
        beside the row's features, is lowest."""
        check_is_fitted(self)
        X = self._unit_interval(validate_data(self, X, reset=False, dtype=np.float32, order="C"))
        best = _native.generative_predict(self._parts(), X, str(self.device))
        return self.classes_[best]

    def sample(self, label, n_steps=1000, *, n_samples=1, start="random_features",
               down_pass="mean_field", random_state=None):
        """``n_samples`` images of class ``label`` (``None``: the label is
        sampled too): Gibbs sampling for ``n_steps`` steps in the top RBM,
        the label clamped, then one top-down pass. Returns pixel
        probabilities of shape ``(n_samples, n_features)``.

        ``start``: ``"random_features"`` (the penultimate units on with
        probability 1/2) or ``"noise_image"`` (a stochastic up-pass from a
        random binary image, HOT's figure 9). ``down_pass``:
        ``"mean_field"`` (probabilities through every lower layer, a smooth
        image) or ``"sampled"`` (HOT's section 7: the penultimate units'
        sampled states, each lower layer sampled on the way down, the
        pixels' probabilities; ``deepbelief generative --preset paper``'s).
        With the same ``random_state`` both passes read the same chains."""
        check_is_fitted(self)
        n_steps = check_positive_int("sample", "n_steps", n_steps)
        n_samples = check_positive_int("sample", "n_samples", n_samples)
        if label is None:
            index = -1
        else:
            found = np.flatnonzero(self.classes_ == label)
            if len(found) != 1:
                raise ValueError(
                    f"sample: label {label!r} is not one of the classes {list(self.classes_)}")
            index = int(found[0])
        seed = native_seed(self.random_state if random_state is None else random_state)
        return _native.generative_sample(
            self._parts(), [index] * n_samples, n_steps, seed, str(self.device), str(start),
            str(down_pass))

    def save(self, path):
        """Write the model as the Rust side's generative DBN file
        (``dbn::load_generative``; the class labels are not part of it: the
        file's labels are 0, 1, ... in the order of ``classes_``)."""
        check_is_fitted(self)
        _native.save_generative(str(path), self._parts())

    def _read(self, path):
        self._set_layers(*_native.load_generative(str(path)))

    @classmethod
    def load(cls, path, classes=None, **params):
        """A fitted model from a generative DBN file of the Rust side (as
        ``deepbelief generative`` writes); ``classes`` names its labels
        (default 0, 1, ...)."""
        model = cls(**params)
        model._read(path)
        features = model.up_layers_[-1][0].shape[1]
        n_classes = model.top_layer_[0].shape[0] - features
        model.classes_ = np.arange(n_classes) if classes is None else np.asarray(classes)
        if len(model.classes_) != n_classes:
            raise ValueError(f"{path}: {n_classes} labels, {len(model.classes_)} names given")
        model.hidden_layer_sizes = tuple(p[0].shape[1] for p in model.up_layers_)
        model.top_units = model.top_layer_[0].shape[1]
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags
