"""Peer of `deepbelief bench finetune` where PyTorch's own products are slowed: the work of
../shared/bench/peer_torch_mlp.py (784-500-500-2000-10 sigmoid net, softmax cross-entropy, SGD
momentum 0.9, rate 0.1, batch 100, one epoch over 50,000 MNIST images), PyTorch's autograd,
loss and optimizer, but each linear layer's 3 products done by numpy's OpenBLAS on its native
kernel instead of MKL. Why: the MKL inside PyTorch's wheels takes a generic path on AMD CPUs
(about the AVX2 rate where the CPU has AVX-512), so on those the stock peer is a slowed one.
usage: TORCH_PY scripts/peer-torch-mlp-openblas.py MNIST_DIR [epochs]  -> seconds per epoch.
Environment: TORCH_THREADS (default 2) for PyTorch; OpenBLAS uses as many threads; OpenMP's
threads wait passively (OMP_WAIT_POLICY) unless told otherwise."""
import os
import sys
import time

# As ../shared/bench's peers: drop the machine's OpenBLAS pin before numpy loads.
for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(variable, None)
threads = os.environ.get("TORCH_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", threads)
# PyTorch's OpenMP threads and OpenBLAS's threads take turns on the same cores; with OpenMP's
# default spin-wait each pool's idle threads starve the other (866 samples/s against 17,800).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np
import torch

from mnist_idx import read_idx

torch.set_num_threads(int(threads))


class OpenBlasLinear(torch.autograd.Function):
    """y = x W^T + b with the products by numpy (zero-copy views of the tensors)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        y = torch.from_numpy(x.detach().numpy() @ weight.detach().numpy().T)
        return y.add_(bias)

    @staticmethod
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        g = grad_y.contiguous().numpy()
        grad_x = torch.from_numpy(g @ weight.detach().numpy()) if ctx.needs_input_grad[0] else None
        grad_weight = torch.from_numpy(g.T @ x.detach().numpy())
        return grad_x, grad_weight, grad_y.sum(0)


class Linear(torch.nn.Linear):
    def forward(self, x):
        return OpenBlasLinear.apply(x, self.weight, self.bias)


mnist = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
images = read_idx(mnist + "/train-images-idx3-ubyte", 16, (60000, 784)).astype(np.float32) / 255
x = torch.from_numpy(images)[:50000].contiguous()
y = torch.from_numpy(read_idx(mnist + "/train-labels-idx1-ubyte", 8, (60000,)).astype(np.int64))[:50000]
torch.manual_seed(0)
net = torch.nn.Sequential(Linear(784, 500), torch.nn.Sigmoid(), Linear(500, 500), torch.nn.Sigmoid(),
                          Linear(500, 2000), torch.nn.Sigmoid(), Linear(2000, 10))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()
started = time.perf_counter()
for _ in range(epochs):
    order = torch.randperm(50000)
    total = 0.0
    for i in range(0, 50000, 100):
        batch = order[i:i + 100]
        optimizer.zero_grad()
        loss = loss_fn(net(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        total += loss.item()
    print(f"mean training loss {total / 500:.4f}", file=sys.stderr)
seconds = (time.perf_counter() - started) / epochs
print(f"torch_openblas_finetune_epoch 784-500-500-2000-10 batch100 threads={torch.get_num_threads()}: "
      f"{seconds:.2f} s/epoch ({50000 / seconds:.0f} samples/s)")
