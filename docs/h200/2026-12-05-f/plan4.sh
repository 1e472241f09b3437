#!/usr/bin/env bash
# Session of 2026-12-05 (eighth), run 4. On an H200: the landed commit's whole table with a fresh calibration beside
# cuDNN, the float64 checks, and two instruction cuts that only an H200 can judge (runs 1–3: the H100 reads at 97–99%
# of its floor from 256k, the H200 at 90–92%), each against the build before it, taking turns:
#   dist-node (9730a21):          the butterflies unrolled, against dist-before (b161473)
#   dist-ablate-lazy-rescale:     a step that raised no row's max skips the rescale (lazy-rescale.patch on 9730a21)
# On an H100: only the lazy rescale against dist-node once and the driver's cache of it (is the skip a branch?).
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
# The driver's cache of the lazy rescale (is the skip a branch?), for scan-shader-cache.py --sass.
cache_lazy() {
  mkdir -p /tmp/nvcache-lazy
  step cache-lazy 45 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-lazy "${run[@]}" dist-ablate-lazy-rescale/attention.mjs --lengths 64k --grid 256
  tar -C /tmp -czf "$OUT/nvcache-lazy.tgz" nvcache-lazy
}
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  cache_lazy
  lengths_in_turns 1 dist-ablate-lazy-rescale dist-node
  finish_steps
  exit 0
fi
builds=(dist-ablate-lazy-rescale dist-node dist-before)
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_in_turns 2 "${builds[@]}"
step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
# What a short budget may cut: the rest in the order it matters.
for dist in "${builds[@]}"; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
done
cache_lazy
step check-lazy 80 "${run[@]}" dist-ablate-lazy-rescale/checkAttention.mjs
for dist in "${builds[@]}"; do
  step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
finish_steps
