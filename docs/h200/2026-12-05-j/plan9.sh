#!/usr/bin/env bash
# Session of 2026-12-05 (twelfth): plan8 (../2026-12-05-i/plan8.sh at 0ea677e, removed: the landed kernel 6ddbb38 on an H200 at last, the
# lazy rescale on it, quad-gqa8.patch) with exp2.patch beside it (scores in base-2 units: every exponential a bare
# exp2, 5 multiplies a step less; the weights' select on the scores' own predicate). Build with
# ../2026-12-05-i/build-dists.sh, then this directory's build-dists.sh; write .gpu/COMMIT, carry `.gpu` alone,
# timeout_s = the device time left. Steps in the order a time limit should cut last.
# On an H200:
#   1. the d=128 rows in memory, taking turns: landed, 9730a21's, the lazy rescale without and with slack on the
#      landed kernel, exp2, b36eb2d's (the last H200 table), b161473's;
#   2. float64 checks of the landed build, the two lazy builds, exp2 and quad-gqa8;
#   3. the landed table with a fresh calibration, beside cuDNN;
#   4. a second turn of step 1; the batches (ragged, misfit splits, GQA 8 in the 40/5 heads row) of landed,
#      9730a21's and quad-gqa8, and the d=64 rows of landed and 9730a21's.
# On an H100 (its memory hides the arithmetic): exp2's and quad-gqa8's float64 checks; the d=128 rows' arithmetic
# alone (K and V from L1) of exp2 against landed in two turns, the same in memory; then quad-gqa8 alone: the
# batches' arithmetic alone against landed in two turns, the same in memory.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
tar -xJf .gpu/dists-exp2.tar.xz
source scripts/gpu-steps.sh
if ! is_h200; then
  check_attention dist-ablate-exp2 dist-ablate-quad-gqa8
  lengths_in_turns 2 dist-arith-exp2 dist-arith-landed
  lengths_in_turns 2 dist-ablate-exp2 dist-node
  batches_turn 1 dist-arith-quad-gqa8 dist-arith-landed
  batches_turn 2 dist-arith-quad-gqa8 dist-arith-landed
  batches_turn 1 dist-ablate-quad-gqa8 dist-node
  batches_turn 2 dist-ablate-quad-gqa8 dist-node
  finish_steps
  exit 0
fi
exact=(dist-node dist-prior dist-ablate-lazy-rescale dist-ablate-lazy-slack dist-ablate-exp2 dist-c37f92b dist-before)
lengths_turn 1 "${exact[@]}"
check_attention dist-node dist-ablate-lazy-rescale dist-ablate-lazy-slack dist-ablate-exp2 dist-ablate-quad-gqa8
landed_table
lengths_turn 2 "${exact[@]}"
batches_turn 1 dist-node dist-prior dist-ablate-quad-gqa8
d64_turn 1 dist-node dist-prior
finish_steps
