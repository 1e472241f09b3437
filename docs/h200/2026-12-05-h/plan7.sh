#!/usr/bin/env bash
# Session of 2026-12-05 (tenth): the H200 call still owed (the ninth session's plan6, never run and removed: this plan
# holds it), with two instruction cuts prepared on SwiftShader (quad-owners.patch, row-arrays.patch: exact), and on an
# H100 what that GPU can answer, so that a call is not lost on whichever comes; no device was lent in the session that
# wrote it. Build and pack what it carries with build-dists.sh, write .gpu/COMMIT, carry `.gpu` alone, and set
# timeout_s to the device time left. Steps run in the order a time limit should cut last.
# On an H100 (the H200's compute units and clocks; its memory hides every cut, so it times the arithmetic alone):
#   1. the arithmetic alone (dist-arith-*, K and V from L1), taking turns, two passes: the cuts, alone and together,
#      with the lazy rescales on top, against landed; and c37f92b's kernel and lazy-slack, whose arithmetic no call
#      has timed;
#   2. float64 checks of the cut builds (their 8- and 16-lane paths: SwiftShader's subgroups of 4 run only 4 lanes);
#   3. the driver's machine code of quad-rows (its step's instructions against the landed kernel's 911);
#   4. quad-rows against landed in memory, taking turns.
# On an H200:
#   1. the d=128 rows of the exact builds in memory, taking turns;
#   2. the float64 checks of the builds that could land, the landed table with a fresh calibration beside cuDNN;
#   3. a second turn of step 1.
# Left for a call after it on an H200: the batches and d=64 of the best builds, the landed checks (plan6's tail).
# plan6's no-rescale bound is not carried: the ninth session's H100 runs bound the lazy rescale already.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
check() {
  local name
  for name in "$@"; do
    step "check-$name" 80 "${run[@]}" "dist-ablate-$name/checkAttention.mjs"
  done
}
if ! is_h200; then
  lengths_in_turns 2 dist-arith-quad-rows-lazy-slack dist-arith-quad-rows-lazy-rescale dist-arith-quad-rows \
    dist-arith-quad-owners dist-arith-row-arrays dist-arith-landed dist-arith-c37f92b dist-arith-lazy-slack
  check quad-rows quad-rows-lazy-rescale quad-rows-lazy-slack quad-owners row-arrays
  mkdir -p /tmp/nvcache-quad-rows
  step cache-quad-rows 45 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 \
    __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-quad-rows "${run[@]}" dist-ablate-quad-rows/attention.mjs \
    --lengths 64k --grid 256
  tar -C /tmp -czf "$OUT/nvcache-quad-rows.tgz" nvcache-quad-rows
  lengths_in_turns 2 dist-ablate-quad-rows dist-node
  finish_steps
  exit 0
fi
exact=(dist-ablate-quad-rows-lazy-slack dist-ablate-quad-rows-lazy-rescale dist-ablate-quad-rows dist-ablate-quad-owners
  dist-ablate-row-arrays dist-ablate-lazy-rescale dist-node dist-before dist-c37f92b)
lengths_turn 1 "${exact[@]}"
check quad-rows quad-rows-lazy-rescale quad-rows-lazy-slack
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_turn 2 "${exact[@]}"
finish_steps
