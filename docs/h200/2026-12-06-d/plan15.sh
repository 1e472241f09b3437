#!/usr/bin/env bash
# Session of 2026-12-06 (fifteenth). Carry `.gpu` alone (../2026-12-06-b/build-dists.sh, then this directory's
# build-ablations.sh), timeout_s = the device time left, up to 600.
# On an H200: plan13's H200 branch (~8 min), as plan14 (the log's header twice, as there).
# On an H100 (~5 min): the landed kernel's call taken apart, to set the bounds in BENCHMARKS.md (fifteenth session)
# on today's kernel: the d=128 rows from the landed build and each ablation, two turns (single call, back to back,
# among others), then the first 90 s of `--choices-only` (1k first: each dispatch alone, warm and cold; on the H100 it
# printed no row: the mode calibrates every variant's grid first).
set -uo pipefail
source scripts/gpu-steps.sh
if is_h200; then
  exec bash docs/h200/2026-12-06-b/plan13.sh
fi
tar -xJf .gpu/dists.tar.xz
tar -xJf .gpu/ablations.tar.xz
lengths_in_turns 2 dist-node dist-ablate-empty-attention dist-ablate-no-token-loop dist-ablate-kv-loads-only \
  dist-ablate-no-stream-merge
step choices 90 bash .gpu/run.sh .gpu dist-node/attention.mjs --choices-only
finish_steps
