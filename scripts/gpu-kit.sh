#!/usr/bin/env bash
# Builds, on this machine, the kit that scripts/gpu-check.sh runs on a GPU
# machine without network (the device tool's H200): `.gpu/` (git-ignored,
# carried as one path, under 64 MiB):
#   bin.tar.xz the stripped release binary and the two test binaries that
#              run on every compiled backend (rbm_core, dbn_classifier),
#              built with --features wgpu
#   mnist/     MNIST as .gz (the IDX loader reads them)
#   gl/        the Vulkan/EGL loader packages (Debian's; never its NVIDIA
#              driver packages: their version differs from the machine's)
#   peers/     the PyTorch peers (peer_torch_rbm.py, peer_torch_mlp.py)
# Usage: scripts/gpu-kit.sh [PEERS_DIR]   (default ../shared/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
peers="${1:-../shared/bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/deepbelief-target}"
kit=.gpu
rm -rf "$kit"
mkdir -p "$kit/bin" "$kit/mnist" "$kit/gl" "$kit/peers"

cargo build --release --features wgpu
cp "$CARGO_TARGET_DIR/release/deepbelief" "$kit/bin/deepbelief"
cargo test --release --features wgpu --no-run --message-format=json \
    --test rbm_core --test dbn_classifier 2>/dev/null |
  python3 -c '
import json, shutil, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        shutil.copy(m["executable"], sys.argv[1] + "/" + m["target"]["name"])
' "$kit/bin"
# One archive with a dictionary larger than a binary: the three share most
# of their code (Burn, wgpu), so together they pack to ~29 MB, not ~43.
strip "$kit"/bin/*
tar -cf - -C "$kit/bin" . | xz -T1 --lzma2=preset=6,dict=384MiB >"$kit/bin.tar.xz"
rm -r "$kit/bin"

mnist="${DEEPBELIEF_MNIST_DIR:-$HOME/.cache/deepbelief/mnist}"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [ -f "$mnist/$name" ]; then gzip -9c "$mnist/$name" >"$kit/mnist/$name.gz"
  else cp "$mnist/$name.gz" "$kit/mnist/"; fi
done

# The loaders, for amd64 whatever this machine is (the device README's recipe).
lists=/tmp/gpu-kit-apt-lists
mkdir -p "$lists/partial"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
apt-get "${apt_opts[@]}" update -qq
(cd "$kit/gl" && apt-get "${apt_opts[@]}" download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)

cp "$peers/peer_torch_rbm.py" "$peers/peer_torch_mlp.py" "$kit/peers/"
du -sh "$kit" "$kit"/*
