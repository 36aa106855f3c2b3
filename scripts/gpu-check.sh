#!/usr/bin/env bash
# The GPU check, as one command of at most 9 minutes on a machine with an
# NVIDIA GPU and PyTorch (CUDA), from the kit of scripts/gpu-kit.sh:
#  1. the Vulkan/EGL loaders unpacked, the NVIDIA ICD found;
#  2. the RBM and DBN test binaries on every compiled backend, wgpu
#     required (DEEPBELIEF_REQUIRE_WGPU=1);
#  3. `bench cd` (CD-1, sampled reconstruction: the peer's work), `bench
#     finetune` and `bench updown` on wgpu at each batch size, beside
#     PyTorch's hand-written CD-1 and fine-tuning on the same GPU, with
#     each pair's ratio (ours / PyTorch's samples per second);
#  4. `generative --preset quick` end to end (GENERATIVE=0 skips it;
#     GENERATIVE_TIMEOUT, default 300 s).
# Carry runs/classify-quick/model.safetensors too for step 4's
# independent labeller.
# Environment: BATCHES (default "100 1000 10000"), TESTS (the test
# binaries to run; empty: none), PEER_DEVICE (cuda),
# PYTHON (python3), DEVICE (wgpu), ROWS (50000: images per timed epoch),
# OUT (where the log goes; default /tmp/gpu-check).
set -uo pipefail
cd "$(dirname "$0")/.."
kit=.gpu
out="${OUT:-/tmp/gpu-check}"
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
batches="${BATCHES:-100 1000 10000}"
peer_device="${PEER_DEVICE:-cuda}"
python="${PYTHON:-python3}"
device="${DEVICE:-wgpu}"
rows="${ROWS:-50000}"
started=$(date +%s)
elapsed() { echo "[$(( $(date +%s) - started )) s]"; }

# 1. Loaders and driver.
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  for f in "$kit"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
bin=/tmp/gpu-kit-bin
mkdir -p "$bin"
xz -dc "$kit/bin.tar.xz" | tar -xf - -C "$bin" && chmod +x "$bin"/*
export DEEPBELIEF_MNIST_DIR="$PWD/$kit/mnist" DEEPBELIEF_REQUIRE_WGPU=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
db="$bin/deepbelief"
# Which Vulkan driver loads, and why one fails: the loader's own account
# of one tiny run, kept apart.
VK_LOADER_DEBUG=error,driver timeout 60 "$db" bench cd --device "$device" --no-fetch --batches 1 --warmup 1 --repeats 1 \
    >"$out/vulkan-loader.log" 2>&1
grep -E 'Using "|ERROR|error' "$out/vulkan-loader.log" | sort | uniq -c | head -5

# 2. Tests on every compiled backend (Flex and wgpu).
for t in ${TESTS-rbm_core dbn_classifier}; do
  echo "== $t $(elapsed)"
  timeout 200 "$bin/$t" --test-threads 2 2>&1 | grep -E '^test |test result|panicked|skipped' 
  echo "$t exit=${PIPESTATUS[0]}"
done

# 3. Throughput, ours and PyTorch's, per batch size.
value() { grep -o "$1[0-9.]*" | tail -1 | sed "s/$1//"; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "n/a"; fi; }
printf '%s\n' "| batch | CD-1 ours | CD-1 torch | ratio | fine-tune ours | fine-tune torch | ratio | up-down ours |" >"$out/table.md"
printf '%s\n' "|---|---|---|---|---|---|---|---|" >>"$out/table.md"
for b in $batches; do
  n=$(( rows / b )); [ "$n" -lt 3 ] && n=3
  echo "== batch $b $(elapsed)"
  cd_ours=$(timeout 120 "$db" bench cd --device "$device" --no-fetch --cd-batch "$b" --sampled-reconstruction \
      --batches "$n" --warmup 3 --repeats 3 | tee /dev/stderr | value 'samples_per_sec=')
  cd_torch=$(PEER_DEVICE="$peer_device" PEER_BATCH="$b" timeout 120 "$python" "$kit/peers/peer_torch_rbm.py" "$DEEPBELIEF_MNIST_DIR" 2 \
      | tee /dev/stderr | grep torch_cd1 | sed -E 's/.*: ([0-9]+) samples\/s.*/\1/')
  ft_ours=$(timeout 150 "$db" bench finetune --device "$device" --no-fetch --batch "$b" --train-rows "$rows" \
      --finetune-epochs 1 --finetune-weight-decay 0 | tee /dev/stderr | value 'samples_per_sec=')
  ft_torch=$(PEER_DEVICE="$peer_device" PEER_BATCH="$b" timeout 120 "$python" "$kit/peers/peer_torch_mlp.py" "$DEEPBELIEF_MNIST_DIR" 2 \
      | tee /dev/stderr | grep torch_finetune | sed -E 's/.*\(([0-9]+) samples\/s\).*/\1/')
  ud_ours=$(timeout 120 "$db" bench updown --device "$device" --no-fetch --batch "$b" --train-rows "$rows" \
      | tee /dev/stderr | value 'samples_per_sec=')
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$b" "${cd_ours:-n/a}" "${cd_torch:-n/a}" "$(ratio "$cd_ours" "$cd_torch")" \
      "${ft_ours:-n/a}" "${ft_torch:-n/a}" "$(ratio "$ft_ours" "$ft_torch")" "${ud_ours:-n/a}" >>"$out/table.md"
done
echo "== samples/s, ours on $device, PyTorch on $peer_device $(elapsed)"
cat "$out/table.md"

# 4. The generative DBN's quick preset end to end (3.1 min on an H200 on
# 2026-11-30), with the CPU run's quick classifier as the independent
# labeller when the call carries it (runs/classify-quick/model.safetensors).
if [ "${GENERATIVE:-1}" = 1 ]; then
  echo "== generative --preset quick on $device $(elapsed)"
  classifier=runs/classify-quick/model.safetensors
  labeller=(); [ -f "$classifier" ] && labeller=(--classifier "$classifier")
  timeout "${GENERATIVE_TIMEOUT:-300}" "$db" generative --device "$device" --preset quick --no-fetch \
      "${labeller[@]}" --out "$(mktemp -d)/generative-quick" 2>&1 | tee "$out/generative-quick.log" | tail -n 8
fi
echo "== done $(elapsed)"
