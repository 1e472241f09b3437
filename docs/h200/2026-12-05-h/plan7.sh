#!/usr/bin/env bash
# Session of 2026-12-05 (tenth): the H200 call still owed (../2026-12-05-g/plan6.sh), with quad-owners.patch added,
# and on an H100 what that GPU can answer, so that a call is not lost on whichever comes. No device was lent in the
# session that wrote it. Build and pack what it carries with build-dists.sh, write .gpu/COMMIT, carry `.gpu` alone,
# and set timeout_s to the device time left; steps run in the order a time limit should cut last.
# On an H100:
#   1. the arithmetic alone (dist-arith-*, K and V from L1), taking turns, two passes: quad-owners and its lazy
#      variants against landed, and c37f92b's kernel and lazy-slack, whose arithmetic no call has timed;
#   2. float64 checks of quad-owners and its lazy variants (their 8- and 16-lane paths: SwiftShader's subgroups of 4
#      run only the 4-lane one);
#   3. the driver's machine code of quad-owners (its step's instructions against the landed kernel's 911);
#   4. quad-owners against landed in memory, taking turns.
# On an H200:
#   1. the d=128 rows of the exact builds in memory, taking turns;
#   2. the float64 checks of the quad-owners builds, the landed table with a fresh calibration beside cuDNN;
#   3. a second turn of step 1 (the arithmetic alone is the H100's to time: the same compute units and clocks).
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
quad=(dist-ablate-quad-owners dist-ablate-quad-owners-lazy-rescale dist-ablate-quad-owners-lazy-slack)
check_quad() {
  local dist
  for dist in "${quad[@]}"; do
    step "check-${dist#dist-ablate-}" 80 "${run[@]}" "$dist/checkAttention.mjs"
  done
}
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  lengths_in_turns 2 dist-arith-quad-owners-lazy-slack dist-arith-quad-owners-lazy-rescale dist-arith-quad-owners \
    dist-arith-landed dist-arith-c37f92b dist-arith-lazy-slack
  check_quad
  mkdir -p /tmp/nvcache-quad
  step cache-quad-owners 45 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 \
    __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-quad "${run[@]}" dist-ablate-quad-owners/attention.mjs --lengths 64k --grid 256
  tar -C /tmp -czf "$OUT/nvcache-quad.tgz" nvcache-quad
  lengths_in_turns 2 dist-ablate-quad-owners dist-node
  finish_steps
  exit 0
fi
exact=(dist-ablate-quad-owners-lazy-slack dist-ablate-quad-owners-lazy-rescale dist-ablate-quad-owners
  dist-ablate-lazy-slack dist-ablate-lazy-rescale dist-node dist-before dist-c37f92b)
lengths_turn 1 "${exact[@]}"
check_quad
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_turn 2 "${exact[@]}"
finish_steps
