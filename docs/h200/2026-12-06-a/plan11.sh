#!/usr/bin/env bash
# Session of 2026-12-05 (twelfth), last call, with ~300 s of device time left: on an H200 only (an H100 ends at
# once), plan10's builds (build-dists.sh): the d=128 rows in memory of landed (9b33148), b36eb2d's (the last H200
# table), 6ddbb38's and the lazy rescale on landed, one turn; then the landed table with a fresh calibration and cuDNN.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
exit_unless_h200
lengths_turn 1 dist-node dist-c37f92b dist-prior dist-ablate-lazy-rescale
landed_table
finish_steps
