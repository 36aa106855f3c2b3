"""Peer of `deepbelief bench products`: the matrix products of one fine-tuning step of the
784-500-500-2000-10 net at batch 100 (4 forward, 4 weight gradients, 3 input gradients, the
transposes as views), in PyTorch on this machine's CPU threads, alone.
usage: TORCH_PY scripts/peer-torch-products.py   -> ms per step, 5 repeats of 200 steps.
Environment: TORCH_THREADS (default 2); PEER_PRODUCTS=numpy does the same products by numpy's
OpenBLAS (its native kernel, as many threads), for CPUs where PyTorch's MKL takes a generic path
(AMD's)."""
import os
import time

# As ../shared/bench's peers: drop the machine's OpenBLAS pin before numpy/torch load.
for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(variable, None)
threads = os.environ.get("TORCH_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", threads)
import torch

torch.set_num_threads(int(threads))
engine = os.environ.get("PEER_PRODUCTS", "torch")
if engine not in ("torch", "numpy"):
    raise SystemExit(f"PEER_PRODUCTS: expected torch or numpy, found {engine!r}")
sizes, batch = [784, 500, 500, 2000, 10], 100
generator = torch.Generator().manual_seed(1)
layers = list(zip(sizes, sizes[1:]))
weights = [torch.rand(i, o, generator=generator) - 0.5 for i, o in layers]
activities = [torch.rand(batch, i, generator=generator) for i, _ in layers]
deltas = [torch.rand(batch, o, generator=generator) - 0.5 for _, o in layers]
flops = sum(2 * batch * i * o for i, o in layers) * 3 - 2 * batch * layers[0][0] * layers[0][1]


if engine == "numpy":
    weights = [w.numpy() for w in weights]
    activities = [a.numpy() for a in activities]
    deltas = [d.numpy() for d in deltas]

    def mm(a, b):
        return a @ b
else:
    mm = torch.mm


def step():
    for a, w in zip(activities, weights):
        mm(a, w)
    for a, d in zip(activities, deltas):
        mm(a.T, d)
    for d, w in list(zip(deltas, weights))[1:]:
        mm(d, w.T)


for _ in range(50):
    step()
times = []
for repeat in range(5):
    started = time.perf_counter()
    for _ in range(200):
        step()
    times.append((time.perf_counter() - started) / 200 * 1e3)
    print(f"repeat {repeat + 1}: {times[-1]:.2f} ms per step ({flops / times[-1] / 1e6:.0f} GFLOP/s)")
median = sorted(times)[len(times) // 2]
print(f"{engine} products of one step, threads={threads}: median {median:.2f} ms, "
      f"best {min(times):.2f} ms; {flops / median / 1e6:.0f} GFLOP/s at the median")
print(f"ms_per_step={median:.3f}")
