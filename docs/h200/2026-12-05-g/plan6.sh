#!/usr/bin/env bash
# Session of 2026-12-05 (ninth), run 6, with the device time left (~270 s): on an H200 only, the lazy rescale
# (dist-ablate-lazy-rescale), the same with a slack of 8 on the running max (dist-ablate-lazy-slack, lazy-slack.patch:
# FlashAttention-4's conditional rescaling, as 059d2b4 tried it with an `if` on 2026-12-04, now in the lazy build's
# loop of once or never, so that random data skip nearly every step too), the landed kernel (dist-node, 9730a21) and
# b161473's (dist-before) in memory taking turns, then the landed table beside cuDNN, then a second turn, as far as
# the call's limit goes. On an H100 nothing runs (runs 2, 3 and 5 measured the H100's part).
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
exit_unless_h200
run=(bash .gpu/run.sh .gpu)
builds=(dist-ablate-lazy-slack dist-ablate-lazy-rescale dist-node dist-before)
lengths_in_turns 1 "${builds[@]}"
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
for dist in "${builds[@]}"; do
  step "d128-$dist-2" 60 "${run[@]}" "$dist/attention.mjs" --lengths 1k,4k,16k,64k,128k,256k,512k --grid 256
done
finish_steps
