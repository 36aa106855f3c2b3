"""An independent check of `deepbelief classify`'s dropout fine-tuning: the same recipe
written in PyTorch, started from the same pretrained stack, so that its validation curve
can be set beside the run's. If the two agree, the classifier's error is the recipe's and
the stack's, not this project's implementation's.

What it does, as `classify --preset paper` does (crates/dbn/src/finetune, experiments/src/runs/
classify.rs): the stack's weights and hidden biases as the logistic layers, a softmax head
drawn uniform in +-sqrt(6 / (fan_in + fan_out)) with zero bias; the first 50,000 training
images to train on, the last 10,000 to validate; pixel intensities / 255. The head alone
for --head-epochs at the first rate without decay (dropout on, its own velocity), then the
whole net with a fresh velocity: SGD with classical momentum, `gradient + weight_decay *
parameter` on every parameter, the rate multiplied by decay^(1/batches) after every batch,
inverted dropout on the inputs and on every hidden layer's output, batches of 100 in a new
order each epoch; the best validation epoch of at most --epochs (a tie keeps the earlier),
stopped --patience epochs after it, then --final-epochs on all 60,000 at the chosen epoch's rate; the test error.
What differs: PyTorch's own random numbers (batch order, masks, head), so the two runs
agree in distribution, not bit for bit.

usage: TORCH_PY crosscheck-finetune-torch.py PRETRAINED.safetensors MNIST_DIR OUT.json [flags]
Environment: TORCH_THREADS (default 1). Not a test and not part of the build: a probe whose
summary is committed under docs/results/.
"""
import argparse, json, os, sys, time

for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)
import numpy as np
import torch

from mnist_idx import read_idx
from stack_file import read_safetensors


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pretrained")
    p.add_argument("mnist_dir")
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=200, help="whole-net epochs on the 50,000, at most")
    p.add_argument("--patience", type=int, default=60, help="stop this many epochs after the best; 0: never")
    p.add_argument("--head-epochs", type=int, default=5)
    p.add_argument("--final-epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--decay", type=float, default=0.99, help="rate factor per epoch")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-5)
    p.add_argument("--input-dropout", type=float, default=0.1)
    p.add_argument("--hidden-dropout", type=float, default=0.25)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--max-norm", type=float, default=0.0,
                   help="after every step, scale each unit's incoming weight vector to at most this L2 norm "
                        "(Hinton et al. 2012's constraint; the preset has none); 0: off")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"{a.out}: exists; a probe never overwrites another's summary")
    torch.manual_seed(a.seed)
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))

    d = a.mnist_dir
    images = read_idx(f"{d}/train-images-idx3-ubyte", 16, (60000, 784)).astype(np.float32) / 255
    labels = read_idx(f"{d}/train-labels-idx1-ubyte", 8, (60000,)).astype(np.int64)
    test_x = torch.from_numpy(read_idx(f"{d}/t10k-images-idx3-ubyte", 16, (10000, 784)).astype(np.float32) / 255)
    test_y = torch.from_numpy(read_idx(f"{d}/t10k-labels-idx1-ubyte", 8, (10000,)).astype(np.int64))
    all_x, all_y = torch.from_numpy(images), torch.from_numpy(labels)
    train_x, train_y = all_x[:50000], all_y[:50000]
    valid_x, valid_y = all_x[50000:], all_y[50000:]

    stack = read_safetensors(a.pretrained)
    layers = []
    i = 0
    while f"layers.{i}.weight" in stack:
        w = torch.from_numpy(stack[f"layers.{i}.weight"])  # [inputs, outputs]
        b = torch.from_numpy(stack[f"layers.{i}.hidden_bias"])
        layers.append([w.clone().requires_grad_(), b.clone().requires_grad_()])
        i += 1
    if not layers:
        sys.exit(f"{a.pretrained}: no tensor layers.0.weight; not an RBM stack")
    top = layers[-1][0].shape[1]
    limit = (6.0 / (top + 10)) ** 0.5
    head = [((torch.rand(top, 10) * 2 - 1) * limit).requires_grad_(), torch.zeros(10, requires_grad=True)]

    weights = [pair[0] for pair in layers] + [head[0]]  # what --max-norm constrains

    def forward(x, train):
        def drop(h, prob):
            if not train or prob <= 0:
                return h
            keep = 1 - prob
            return h * (torch.rand_like(h) < keep).to(h.dtype) / keep

        h = drop(x, a.input_dropout)
        for w, b in layers:
            h = drop(torch.sigmoid(h @ w + b), a.hidden_dropout)
        return h @ head[0] + head[1]

    def errors(x, y):
        with torch.no_grad():
            return sum(int((forward(x[s : s + 1000], False).argmax(1) != y[s : s + 1000]).sum()) for s in range(0, len(x), 1000))

    def epochs(params, x, y, n, lr, decay, label, log):
        opt = torch.optim.SGD(params, lr=lr, momentum=a.momentum, weight_decay=a.weight_decay)
        batches = (len(x) + a.batch - 1) // a.batch
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=decay ** (1.0 / batches))
        for e in range(1, n + 1):
            t = time.perf_counter()
            order = torch.randperm(len(x))
            wrong, total_loss = 0, 0.0
            for s in range(0, len(x), a.batch):
                idx_b = order[s : s + a.batch]
                logits = forward(x[idx_b], True)
                loss = torch.nn.functional.cross_entropy(logits, y[idx_b])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if a.max_norm > 0:
                    with torch.no_grad():
                        for w in weights:  # [inputs, outputs]
                            w.mul_((a.max_norm / w.norm(dim=0, keepdim=True).clamp_min(1e-12)).clamp(max=1.0))
                sched.step()
                wrong += int((logits.argmax(1) != y[idx_b]).sum())
                total_loss += float(loss) * len(idx_b)
            v = errors(valid_x, valid_y)
            row = {"phase": label, "epoch": e, "train_error_percent": 100 * wrong / len(x), "train_loss": total_loss / len(x),
                   "valid_error_percent": v / 100, "seconds": time.perf_counter() - t}
            log.append(row)
            print(json.dumps(row), flush=True)
            yield e, v

    log = []
    started = time.perf_counter()
    for _ in epochs(head, train_x, train_y, a.head_epochs, a.lr, 1.0, "head", log):
        pass
    params = [t for pair in layers for t in pair] + head
    best = None
    for e, v in epochs(params, train_x, train_y, a.epochs, a.lr, a.decay, "finetune", log):
        if best is None or v < best[1]:
            best = (e, v, [t.detach().clone() for t in params])
        if a.patience and e - best[0] >= a.patience:
            break
    best_epoch, best_valid, state = best
    with torch.no_grad():
        for t, s in zip(params, state):
            t.copy_(s)
    test_before = errors(test_x, test_y) / 100
    final_lr = a.lr * a.decay ** best_epoch
    for _ in epochs(params, all_x, all_y, a.final_epochs, final_lr, a.decay, "final pass", log):
        pass
    summary = {
        "what": "crosscheck of classify's dropout fine-tuning in PyTorch (scripts/crosscheck-finetune-torch.py)",
        "pretrained": a.pretrained, "flags": vars(a), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "best_epoch": best_epoch, "best_valid_error_percent": best_valid / 100,
        "test_error_percent_before_final_pass": test_before, "test_error_percent": errors(test_x, test_y) / 100,
        "minutes": (time.perf_counter() - started) / 60, "epochs": log,
    }
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"best epoch {best_epoch} (validation {best_valid / 100:.2f}%), test {summary['test_error_percent']:.2f}%")


if __name__ == "__main__":
    main()
