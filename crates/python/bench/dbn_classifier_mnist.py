"""deepbelief.DBNClassifier on MNIST from Python: the same pretrained-net
recipe fine-tuned without and with the `paper` preset's dropout, side by
side (the same seed, so the same stack below each arm).

usage: python dbn_classifier_mnist.py [MNIST_DIR] [finetune_epochs] [hidden ...]
MNIST_DIR defaults to $DEEPBELIEF_MNIST_DIR, else ~/.cache/deepbelief/mnist
(raw or .gz IDX files). Trains on the first 50,000 training images, prints
each arm's test error on the 10,000 test images and its time. Nothing is
chosen on the test set: the arms are fixed here.

SEEDS (environment, comma-separated, default 1) runs each arm for each seed
(`random_state`), one seed after the other, and then each arm's mean and
standard error over them; ARMS (`plain`, `dropout`, comma-separated,
default both) chooses the arms.
"""

import os
import sys
import time

import numpy as np

from mnist_files import images_and_labels, mnist_dir

from deepbelief import DBNClassifier


def main():
    directory = mnist_dir(sys.argv)
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    hidden = tuple(int(h) for h in sys.argv[3:]) or (500, 500)
    X, y = images_and_labels(directory, "train")
    X, y = X[:50000], y[:50000]
    X_test, y_test = images_and_labels(directory, "t10k")
    # The pretraining of `deepbelief classify --preset quick` (5 CD-1 epochs
    # a layer, rate 0.1, momentum 0.5, batches of 100) and its fine-tuning
    # rate, momentum, batch and L2; the head alone for 5 epochs first.
    common = dict(hidden_layer_sizes=hidden, n_iter=5, batch_size=100, learning_rate=0.1,
                  momentum=0.5, finetune_epochs=epochs, head_epochs=5,
                  finetune_learning_rate=0.1, finetune_momentum=0.9,
                  finetune_weight_decay=1e-5, finetune_lr_decay=0.99)
    arms = {
        "plain": ("no dropout", dict()),
        "dropout": ("dropout 0.1 / 0.25 (the paper preset's)",
                    dict(input_dropout=0.1, hidden_dropout=0.25)),
    }
    chosen = os.environ.get("ARMS", "plain,dropout").split(",")
    unknown = [arm for arm in chosen if arm not in arms]
    if unknown:
        sys.exit(f"ARMS: unknown arm(s) {unknown}; expected some of {list(arms)}")
    seeds = [int(seed) for seed in os.environ.get("SEEDS", "1").split(",")]
    print(f"784-{'-'.join(map(str, hidden))}-10, {epochs} fine-tuning epochs (5 of the head)")
    errors = {arm: [] for arm in chosen}
    for seed in seeds:
        for arm in chosen:
            name, extra = arms[arm]
            start = time.perf_counter()
            model = DBNClassifier(**common, **extra, random_state=seed).fit(X, y)
            seconds = time.perf_counter() - start
            error = 100.0 * (1.0 - model.score(X_test, y_test))
            errors[arm].append(error)
            print(f"seed {seed}, {name}: test error {error:.2f}% in {seconds / 60:.1f} min",
                  flush=True)
    if len(seeds) > 1:
        for arm, values in errors.items():
            mean = float(np.mean(values))
            standard_error = float(np.std(values, ddof=1) / np.sqrt(len(values)))
            print(f"{arms[arm][0]}: {mean:.2f} +- {standard_error:.2f}% over seeds {seeds}")


if __name__ == "__main__":
    main()
