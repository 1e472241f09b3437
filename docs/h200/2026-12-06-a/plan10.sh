#!/usr/bin/env bash
# Session of 2026-12-05 (twelfth), second call: the landed kernel (9b33148, exp2 on 6ddbb38; plan9 run 1 checked and
# timed it on an H100) on an H200, and the lazy rescale on it. Build with build-dists.sh, write .gpu/COMMIT, carry
# `.gpu` alone, timeout_s = the device time left. Steps in the order a time limit should cut last.
# On an H200:
#   1. the d=128 rows in memory, taking turns: landed, 6ddbb38's, the lazy rescale on landed, b36eb2d's (the last
#      H200 table), b161473's;
#   2. the landed table with a fresh calibration, beside cuDNN;
#   3. a second turn of step 1; float64 checks of the landed build and the lazy rescale; the batches and the d=64
#      rows of landed and 6ddbb38's.
# On an H100: the lazy rescale on landed (its float64 checks; the d=128 rows' arithmetic alone against landed in two
# turns, the same in memory), then the landed table beside cuDNN.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
if ! is_h200; then
  check_attention dist-ablate-lazy-rescale
  lengths_in_turns 2 dist-arith-lazy-rescale dist-arith-landed
  lengths_in_turns 2 dist-ablate-lazy-rescale dist-node
  landed_table
  finish_steps
  exit 0
fi
exact=(dist-node dist-prior dist-ablate-lazy-rescale dist-c37f92b dist-before)
lengths_turn 1 "${exact[@]}"
landed_table
lengths_turn 2 "${exact[@]}"
check_attention dist-node dist-ablate-lazy-rescale
batches_turn 1 dist-node dist-prior
d64_turn 1 dist-node dist-prior
finish_steps
