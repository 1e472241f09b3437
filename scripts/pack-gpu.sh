#!/usr/bin/env bash
# Packs .gpu/ (git-ignored) for a GPU machine, which gets the working tree and at most 64 MiB with what is carried:
# Node.js, Dawn and the Vulkan loader (../shared/gpu/pack.sh), its run.sh, and the reference models' files for
# dist-node/checkModels.mjs (scripts/pack-gpu-models.sh). Dawn's binary travels xz-compressed (21 → 5 MiB);
# scripts/gpu-bench.sh unpacks it there. Run from the project root, after npm ci && npm run build:node.
set -euo pipefail
bash ../shared/gpu/pack.sh .gpu
cp ../shared/gpu/run.sh .gpu/
dawn=.gpu/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] && xz -9 -f "$dawn"
bash scripts/pack-gpu-models.sh
echo "to carry: .gpu $(du -sh .gpu | cut -f1), dist-node $(du -sh dist-node | cut -f1); the tracked tree: $(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1) bytes"
