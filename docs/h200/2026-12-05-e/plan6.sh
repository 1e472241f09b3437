#!/usr/bin/env bash
# The next call of this folder's question, not yet run: the butterflies unrolled (constant masks, quad swaps for 1 and
# 2) with the fence of 61947c8 in place. Run 3 unrolled them with no fence: 6% faster at 4k, 2–3% slower from 64k,
# because the V loads sank below the scores; the fence should keep them up. Builds, from the project root:
#   npx vite build -c vite.node.config.ts                                   # dist-node: main
#   git apply docs/h200/2026-12-05-e/next-unrolled-butterflies.patch
#   npx vite build -c vite.node.config.ts --outDir dist-ablate-unrolled && git checkout kernels
# (the patch passed the attention tests on SwiftShader at 784529c: 199 passed). Carrying .gpu (without models) and
# both dists: OUT=$OUT bash docs/h200/2026-12-05-e/plan6.sh. The cache comes back for
# `scan-shader-cache.py --sass`: check that all 16 K and V loads still sit at the top of the step.
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
for pass in 1 2; do
  for dist in dist-ablate-unrolled dist-node; do
    step "d128-$dist-$pass" 90 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,128k,256k,512k --grid 256
  done
done
for dist in dist-ablate-unrolled dist-node; do
  step "batches-$dist" 120 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
  step "d64-$dist" 60 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
step check-attention 150 "${run[@]}" dist-ablate-unrolled/checkAttention.mjs
mkdir -p /tmp/nvcache-unrolled
step cache-unrolled 60 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-unrolled "${run[@]}" dist-ablate-unrolled/attention.mjs --lengths 64k --grid 256
tar -C /tmp -czf "$OUT/nvcache-unrolled.tgz" nvcache-unrolled
finish_steps
