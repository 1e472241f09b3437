#!/usr/bin/env bash
# Session of 2026-12-05 (ninth): the H200 call owed (no H200 came in this session; runs 2, 3, 5 and 6 measured the
# H100's part). Build and pack what it carries with build-dists.sh, then carry `.gpu` alone. On an H200, in the order
# that a time limit should cut last (the device time left sets the call's limit):
#   1. the d=128 rows of these builds in memory, taking turns:
#        dist-ablate-lazy-slack    9730a21 + lazy-slack.patch: a row's max raised only where a score passes it by 8
#                                  (FlashAttention-4's conditional rescaling) and the rescale skipped in a loop of
#                                  once or never where no row of the subgroup rose (059d2b4 tried the slack with an
#                                  `if`, which the driver may have turned into unconditional multiplies)
#        dist-ablate-lazy-rescale  9730a21 + ../2026-12-05-f/lazy-rescale.patch (no slack: the same bits as landed)
#        dist-node                 the landed kernels (9730a21)
#        dist-before               b161473's kernel (the butterflies' level in a loop of one: its arithmetic alone
#                                  was 6% faster than the landed kernel's at 512k on the H100, run 2)
#        dist-c37f92b              the kernel of the last H200 table (b36eb2d): what the three H100-judged changes
#                                  since (601555b, 61947c8, 9730a21) did on the H200
#        dist-ablate-no-rescale    the bound (wrong results)
#   2. the landed table with a fresh calibration, beside cuDNN;
#   3. the lazy builds' float64 checks (both passed on an H100: runs 3 and 6), a second turn of step 1, the batches,
#      d=64, the landed checks.
# On any other GPU nothing runs.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
exit_unless_h200
run=(bash .gpu/run.sh .gpu)
exact=(dist-ablate-lazy-slack dist-ablate-lazy-rescale dist-node dist-before dist-c37f92b)
lengths_turn 1 "${exact[@]}" dist-ablate-no-rescale
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
step check-lazy-slack 80 "${run[@]}" dist-ablate-lazy-slack/checkAttention.mjs
step check-lazy 80 "${run[@]}" dist-ablate-lazy-rescale/checkAttention.mjs
lengths_turn 2 "${exact[@]}"
for dist in "${exact[@]}"; do
  step "batches-$dist" 60 "${run[@]}" "$dist/attention.mjs" --batches-only --grid 256
done
for dist in "${exact[@]}"; do
  step "d64-$dist" 45 "${run[@]}" "$dist/attention.mjs" --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
finish_steps
