"""deepbelief.GenerativeDBN on MNIST from Python by HOT 2006's schedule at
a small budget: the up-down epoch chosen on held-out images
(``early_stopping``), then with and without HOT's final phase on all the
training images (``final_phase_max_epochs``), side by side from the same
seed (so the same model up to the final phase).

usage: python generative_dbn_mnist.py [MNIST_DIR] [updown_epochs] [final_phase_max_epochs]
MNIST_DIR defaults to $DEEPBELIEF_MNIST_DIR, else ~/.cache/deepbelief/mnist
(raw or .gz IDX files). Trains on the 60,000 training images, 10,000 of them
held out for the choice (stratified, from the seed), and prints the held-out
accuracy of each epoch, the choice, the final phase and each arm's test
error on the 10,000 test images with its time. SEED (environment, default
1) is the ``random_state``; OUT (environment), a JSON file for the
figures.
"""

import json
import os
import sys
import time

import numpy as np

from mnist_files import images_and_labels, mnist_dir

from deepbelief import GenerativeDBN


def main():
    directory = mnist_dir(sys.argv)
    updown_epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    final_epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    seed = int(os.environ.get("SEED", "1"))
    X, y = images_and_labels(directory, "train")
    X_test, y_test = images_and_labels(directory, "t10k")
    # HOT's net and CD recipe (momentum 0.5, then 0.9 from the sixth epoch,
    # as the Rust presets) at the `quick` preset's 10 epochs a layer; the
    # top RBM and up-down rates are the `paper` preset's (GenerativeDBN's
    # defaults).
    common = dict(hidden_layer_sizes=(500, 500), top_units=2000, n_iter=10, batch_size=100,
                  learning_rate=0.1, momentum=0.5, final_momentum=0.9, momentum_switch_epoch=5,
                  weight_decay=2e-4,
                  updown_epochs=updown_epochs, early_stopping=True,
                  validation_fraction=10000 / 60000, random_state=seed)
    print(f"784-500-500-2000 (+10 labels), seed {seed}: {updown_epochs} up-down epochs, "
          f"the best of them on 10,000 held-out images", flush=True)
    summary = dict(seed=seed, updown_epochs=updown_epochs, final_phase_max_epochs=final_epochs)
    for final in (0, final_epochs):
        start = time.perf_counter()
        model = GenerativeDBN(**common, final_phase_max_epochs=final).fit(X, y)
        minutes = (time.perf_counter() - start) / 60.0
        error = 100.0 * (1.0 - model.score(X_test, y_test))
        if final == 0:
            scores = " ".join(f"{100 * (1 - s):.2f}" for s in model.validation_scores_)
            print(f"held-out error (%) of the greedy model, then each epoch: {scores}")
            print(f"chosen: epoch {model.best_epoch_} ({100 * (1 - model.best_validation_score_):.2f}%"
                  f" held out; {100 * (1 - model.final_goal_):.2f}% on its 50,000 training images,"
                  f" the final phase's goal)")
            print(f"the chosen epoch: test error {error:.2f}% in {minutes:.1f} min", flush=True)
            summary.update(
                held_out_error_percent=[100 * (1 - s) for s in model.validation_scores_],
                chosen_epoch=model.best_epoch_, goal_training_error_percent=100 * (1 - model.final_goal_),
                chosen_test_error_percent=error, chosen_minutes=minutes)
        else:
            errors = " ".join(f"{100 * (1 - s):.2f}" for s in model.final_training_scores_)
            met = "met" if model.final_goal_met_ else f"not met within {final} epochs"
            print(f"final phase on all 60,000: training error (%) {errors}; goal {met}")
            print(f"after the final phase: test error {error:.2f}% in {minutes:.1f} min",
                  flush=True)
            summary.update(
                final_training_error_percent=[100 * (1 - s) for s in model.final_training_scores_],
                final_goal_met=model.final_goal_met_, final_test_error_percent=error,
                final_minutes=minutes)
    if os.environ.get("OUT"):
        with open(os.environ["OUT"], "w") as file:
            json.dump(summary, file, indent=1)


if __name__ == "__main__":
    main()
