#!/usr/bin/env bash
# Session of 2026-12-05 (eleventh): the landed kernel (6ddbb38, quad owners and K/V as arrays of rows, checked and
# timed on an H100 by plan7) on an H200 at last. Build and pack with build-dists.sh, write .gpu/COMMIT, carry `.gpu`
# alone, timeout_s = the device time left. Steps in the order a time limit should cut last.
# On an H200:
#   1. the d=128 rows in memory, taking turns: landed, 9730a21's, the lazy rescale without and with slack on the
#      landed kernel, b36eb2d's (the last H200 table), b161473's;
#   2. float64 checks of the landed build and the two lazy builds;
#   3. the landed table with a fresh calibration, beside cuDNN;
#   4. a second turn of step 1; the batches (ragged, misfit splits, GQA 8) and d=64 rows of landed against 9730a21's.
# On any other GPU nothing runs: its H100 branch (the d=64 rows and batches of landed against 9730a21's, the lazy
# builds in memory) ran at 47e6da1 (run1-plan8-h100.txt), and a second H100 would only repeat it.
set -uo pipefail
source scripts/gpu-steps.sh
exit_unless_h200
tar -xJf .gpu/dists.tar.xz
run=(bash .gpu/run.sh .gpu)
# `others_turn PASS BUILD...`: the d=64 single-sequence rows and the batches of each build in turn.
others_turn() {
  local pass=$1 dist
  shift
  for dist in "$@"; do
    step "d64-$dist-$pass" 60 "${run[@]}" "$dist/attention.mjs" --lengths 1k,4k,16k,64k,128k,256k,512k --grid 256 \
      --head-dim 64
    step "batches-$dist-$pass" 90 "${run[@]}" "$dist/attention.mjs" --batches-only --grid 256
  done
}
exact=(dist-node dist-prior dist-ablate-lazy-rescale dist-ablate-lazy-slack dist-c37f92b dist-before)
lengths_turn 1 "${exact[@]}"
check_attention dist-node dist-ablate-lazy-rescale dist-ablate-lazy-slack
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_turn 2 "${exact[@]}"
others_turn 1 dist-node dist-prior
finish_steps
