#!/usr/bin/env bash
# Session of 2026-12-05 (ninth), run 4: on an H200 only (runs 2 and 3 measured the H100's part). Run 3 (an H100): the
# lazy rescale's arithmetic is 12% faster than the landed kernel's at 512k with K and V from L1, equal in memory on
# the H100; on b161473's kernel it buys nothing, so that build stays out. On an H200: the landed table beside cuDNN,
# then the d=128 rows of dist-ablate-lazy-rescale (9730a21 + ../2026-12-05-f/lazy-rescale.patch), dist-node (9730a21),
# dist-before (b161473) and dist-ablate-no-rescale (the bound) taking turns, twice; the lazy build's checks, then the batches, d=64 and the
# landed checks as far as the call's limit goes.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
exit_unless_h200
run=(bash .gpu/run.sh .gpu)
builds=(dist-ablate-lazy-rescale dist-node dist-before)
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_in_turns 2 "${builds[@]}" dist-ablate-no-rescale
step check-lazy 80 "${run[@]}" dist-ablate-lazy-rescale/checkAttention.mjs
# What the call's time limit may cut (the device time left decides it), in the order it matters.
for dist in "${builds[@]}"; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
done
for dist in "${builds[@]}"; do
  step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
finish_steps
