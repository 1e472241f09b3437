#!/usr/bin/env bash
# Session of 2026-12-05 (ninth), run 1: the eighth session's owed H200 call (its plan4.sh), with an upper bound beside
# the lazy rescale. On an H200: the landed commit's whole table with a fresh calibration beside cuDNN, then the d=128
# rows of four builds taking turns, twice:
#   dist-node (9730a21, landed):  the butterflies unrolled, against
#   dist-before (b161473):        the kernel before them;
#   dist-ablate-lazy-rescale:     a step that raised no row's max skips the rescale (../2026-12-05-f/lazy-rescale.patch);
#   dist-ablate-no-rescale:       no rescale at all (`build-ablations.mjs no-rescale`: wrong results, the bound on what
#                                 the lazy rescale can buy);
# then the float64 checks, the batches, the lazy build's machine code and checks, and d=64, in the order they matter.
# On an H100 nothing runs (runs 1–4 of the eighth session measured all of this there).
set -uo pipefail
source scripts/gpu-steps.sh
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  echo "not an H200: nothing run" >> "$steps_log"
  exit 0
fi
run=(bash .gpu/run.sh .gpu)
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_in_turns 2 dist-ablate-lazy-rescale dist-ablate-no-rescale dist-node dist-before
step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
builds=(dist-ablate-lazy-rescale dist-node dist-before)
for dist in "${builds[@]}"; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
done
mkdir -p /tmp/nvcache-lazy
step cache-lazy 45 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-lazy "${run[@]}" dist-ablate-lazy-rescale/attention.mjs --lengths 64k --grid 256
tar -C /tmp -czf "$OUT/nvcache-lazy.tgz" nvcache-lazy
step check-lazy 80 "${run[@]}" dist-ablate-lazy-rescale/checkAttention.mjs
for dist in "${builds[@]}"; do
  step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
finish_steps
