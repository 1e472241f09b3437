#!/usr/bin/env bash
# Session of 2026-12-06 (thirteenth): builds from build-dists.sh (.gpu/dists.tar.xz), carry `.gpu` alone, timeout_s =
# the device time left. Steps in the order a time limit should cut last.
# On an H200 (~8 min): the d=128 rows in memory, taking turns: landed (9b33148), the lazy rescale skipped in a
# segment's first step (lazy-first-step.patch), the lazy rescale as plan10 had it, 6ddbb38's, b36eb2d's (the last
# H200 table), b161473's; the landed table with a fresh calibration beside cuDNN; a second turn; the float64 checks
# of landed and lazy-first; the batches and d=64 rows of landed and lazy-first.
# On an H100 (~4 min): lazy-first's float64 checks; its arithmetic alone against landed's, two turns; in memory
# against landed and the lazy rescale of plan10 (whose 1k row lost 0.3 µs), two turns; its batches and d=64 rows.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
if ! is_h200; then
  check_attention dist-lazy-first
  lengths_in_turns 2 dist-arith-lazy-first dist-arith-landed
  lengths_in_turns 2 dist-lazy-first dist-node dist-ablate-lazy-rescale
  batches_turn 1 dist-lazy-first dist-node
  d64_turn 1 dist-lazy-first dist-node
  finish_steps
  exit 0
fi
exact=(dist-node dist-lazy-first dist-ablate-lazy-rescale dist-prior dist-c37f92b dist-before)
lengths_turn 1 "${exact[@]}"
landed_table
lengths_turn 2 "${exact[@]}"
check_attention dist-node dist-lazy-first
batches_turn 1 dist-node dist-lazy-first
d64_turn 1 dist-node dist-lazy-first
finish_steps
