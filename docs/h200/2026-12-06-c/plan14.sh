#!/usr/bin/env bash
# Session of 2026-12-06 (fourteenth): plan13's H200 branch alone, since its H100 branch ran (plan13-h100.txt). The
# builds of ../2026-12-06-b/build-dists.sh (.gpu/dists.tar.xz); carry `.gpu` alone, timeout_s = the device time left.
# On anything but an H200 it ends at once. On an H200 the log's header (commit, GPU) appears twice: both scripts
# source gpu-steps.sh.
set -uo pipefail
source scripts/gpu-steps.sh
exit_unless_h200
exec bash docs/h200/2026-12-06-b/plan13.sh
