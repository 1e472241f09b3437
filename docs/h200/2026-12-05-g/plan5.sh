#!/usr/bin/env bash
# Session of 2026-12-05 (ninth), run 5. Runs 2–3 (H100): with K and V from L1 the lazy rescale took 12% off the landed
# kernel's time at 512k, more than removing the rescale's multiplies (no-rescale, 5%). The lazy build also moved the
# rescale out of each row's P·V into a loop of its own, once or never; so is its gain the skip or the new schedule?
#   dist-rescale-fenced: the lazy build whose loop always runs once (rescale-fenced.patch: every multiply done, a
#                        loop of one as a fence, as before the weighted V rows; exact, no data dependence)
#   dist-rescale-split:  the same without the loop (rescale-split.patch: the rescale of every row, then the P·V)
#   dist-ablate-lazy-rescale, dist-node: as in runs 2–3; dist-before: b161473.
# On either GPU: their arithmetic alone (dist-arith-X: kv-rows-64) taking turns, twice, then in memory once.
# On an H200 first the landed table beside cuDNN, and the memory rows twice.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
  step cuda-sdpa 30 python3 bench/cuda_sdpa.py
  lengths_in_turns 2 dist-rescale-fenced dist-ablate-lazy-rescale dist-node dist-before
  lengths_in_turns 1 dist-arith-rescale-fenced dist-arith-rescale-split dist-arith-lazy-rescale dist-arith-landed
  step check-fenced 80 "${run[@]}" dist-rescale-fenced/checkAttention.mjs
  step check-lazy 80 "${run[@]}" dist-ablate-lazy-rescale/checkAttention.mjs
else
  lengths_in_turns 2 dist-arith-rescale-fenced dist-arith-rescale-split dist-arith-lazy-rescale dist-arith-landed
  lengths_in_turns 1 dist-rescale-fenced dist-rescale-split dist-ablate-lazy-rescale dist-node
  step check-fenced 80 "${run[@]}" dist-rescale-fenced/checkAttention.mjs
fi
finish_steps
