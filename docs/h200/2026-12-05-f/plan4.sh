#!/usr/bin/env bash
# Session of 2026-12-05 (eighth), run 4, for an H200 only (on an H100 it stops at once: runs 1–3 said what an H100
# can): the landed commit's whole table with a fresh calibration beside cuDNN, the float64 checks, and the unrolled
# butterflies (dist-node, 9730a21) against the kernel before them (dist-before, b161473), taking turns.
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  echo "not an H200: nothing run" >> "$steps_log"
  exit 0
fi
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
for pass in 1 2; do
  for dist in dist-node dist-before; do
    step "d128-$dist-$pass" 60 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,128k,256k,512k --grid 256
  done
done
for dist in dist-node dist-before; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
  step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
step table-landed-again 110 "${run[@]}" dist-node/attention.mjs
step cuda-sdpa-again 30 python3 bench/cuda_sdpa.py
finish_steps
