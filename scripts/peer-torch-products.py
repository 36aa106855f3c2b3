"""Peer of `deepbelief bench products`: the matrix products of one fine-tuning step of the
784-500-500-2000-10 net at batch 100 (4 forward, 4 weight gradients, 3 input gradients, the
transposes as views), in PyTorch on this machine's CPU threads, alone.
usage: TORCH_PY scripts/peer-torch-products.py   -> ms per step, 5 repeats of 200 steps.
Environment: TORCH_THREADS (default 2)."""
import os
import time

# As ../shared/bench's peers: drop the machine's OpenBLAS pin before numpy/torch load.
for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(variable, None)
import torch

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
sizes, batch = [784, 500, 500, 2000, 10], 100
generator = torch.Generator().manual_seed(1)
layers = list(zip(sizes, sizes[1:]))
weights = [torch.rand(i, o, generator=generator) - 0.5 for i, o in layers]
activities = [torch.rand(batch, i, generator=generator) for i, _ in layers]
deltas = [torch.rand(batch, o, generator=generator) - 0.5 for _, o in layers]
flops = sum(2 * batch * i * o for i, o in layers) * 3 - 2 * batch * layers[0][0] * layers[0][1]


def step():
    for a, w in zip(activities, weights):
        torch.mm(a, w)
    for a, d in zip(activities, deltas):
        torch.mm(a.t(), d)
    for d, w in list(zip(deltas, weights))[1:]:
        torch.mm(d, w.t())


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
print(f"torch products of one step, threads={torch.get_num_threads()}: median {median:.2f} ms, "
      f"best {min(times):.2f} ms; {flops / median / 1e6:.0f} GFLOP/s at the median")
print(f"ms_per_step={median:.3f}")
