#!/usr/bin/env bash
# Session of 2026-12-05 (eighth), run 5, with what device time was left (~270 s): on an H200 only, the landed commit's
# whole table with a fresh calibration beside cuDNN, then the unrolled butterflies (dist-node, 9730a21) against the
# kernel before them (dist-before, b161473) once, as far as the time goes. On an H100 nothing runs.
set -uo pipefail
source scripts/gpu-steps.sh
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  echo "not an H200: nothing run" >> "$steps_log"
  exit 0
fi
step table-landed 110 bash .gpu/run.sh .gpu dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_in_turns 1 dist-node dist-before
finish_steps
