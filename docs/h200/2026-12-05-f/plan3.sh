#!/usr/bin/env bash
# Session of 2026-12-05 (eighth), run 3: what only an H200 can tell. On the H100 the landed kernel reads at 97–99% of
# its floor from 256k (runs 1, 2), so arithmetic no longer limits it there; the H200 streams 1.4x faster with the same
# compute units, and its table stops at 92%. The butterflies unrolled with quad swaps (fewer instructions a step,
# ../2026-12-05-e/plan6.sh) can only be judged there. Then the landed commit's whole table beside cuDNN (owed on an
# H200). On an H100 only the comparison runs.
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
builds=(dist-ablate-unrolled dist-node)
lengths_in_turns 2 "${builds[@]}"
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  for dist in "${builds[@]}"; do
    step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
    step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
  done
  step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
  step cuda-sdpa 30 python3 bench/cuda_sdpa.py
  step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
fi
finish_steps
