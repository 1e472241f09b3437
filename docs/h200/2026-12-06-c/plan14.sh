#!/usr/bin/env bash
# Session of 2026-12-06 (fourteenth): plan13's H200 branch alone, since its H100 branch ran (plan13-h100.txt). The
# builds of ../2026-12-06-b/build-dists.sh (.gpu/dists.tar.xz); carry `.gpu` alone, timeout_s = the device time left.
# On anything but an H200 it ends at once. Steps in the order a time limit should cut last.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
exit_unless_h200
exact=(dist-node dist-lazy-first dist-ablate-lazy-rescale dist-prior dist-c37f92b dist-before)
lengths_turn 1 "${exact[@]}"
landed_table
lengths_turn 2 "${exact[@]}"
check_attention dist-node dist-lazy-first
batches_turn 1 dist-node dist-lazy-first
d64_turn 1 dist-node dist-lazy-first
finish_steps
