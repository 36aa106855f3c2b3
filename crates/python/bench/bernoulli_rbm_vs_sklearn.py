"""deepbelief.BernoulliRBM against sklearn.neural_network.BernoulliRBM, in one
Python process, on MNIST: the same parameters (PCD-1, n_components, batch
size, learning rate, epochs), the same images, fit timed on each.

usage: python bernoulli_rbm_vs_sklearn.py [MNIST_DIR] [n_iter] [n_components] [batch_size]
MNIST_DIR defaults to $DEEPBELIEF_MNIST_DIR, else ~/.cache/deepbelief/mnist
(raw or .gz IDX files). Prints samples/s of each and the ratio.
"""

import os
import sys
import time

# These machines pin OpenBLAS to an older kernel, which slows numpy (and so
# scikit-learn) on newer CPUs: drop the pin before numpy loads, so the peer
# is not slowed.
for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(name, None)

from sklearn.neural_network import BernoulliRBM as SklearnRBM  # noqa: E402

from mnist_files import images_and_labels, mnist_dir  # noqa: E402

from deepbelief import BernoulliRBM  # noqa: E402


def main():
    directory = mnist_dir(sys.argv)
    n_iter = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    n_components = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    batch_size = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    X, _ = images_and_labels(directory, "train")
    params = dict(n_components=n_components, learning_rate=0.1, batch_size=batch_size,
                  n_iter=n_iter, random_state=0)
    rates = {}
    for name, model in [("sklearn", SklearnRBM(**params)), ("deepbelief", BernoulliRBM(**params))]:
        started = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - started
        rates[name] = n_iter * len(X) / seconds
        print(f"{name}: PCD-1 784x{n_components} batch {batch_size}, {n_iter} epoch(s) of "
              f"{len(X)} images: {seconds:.1f} s, {rates[name]:.0f} samples/s", flush=True)
    print(f"ratio deepbelief/sklearn = {rates['deepbelief'] / rates['sklearn']:.2f}")


if __name__ == "__main__":
    main()
