#!/usr/bin/env bash
# Session of 2026-12-05 (ninth), run 3. Run 2 (an H100, the builds' arithmetic alone, K and V from L1) found the lazy
# rescale's arithmetic 12% faster than the landed kernel's at 512k, and the landed kernel's 6% slower than b161473's
# (its butterflies in a loop of one): so the lazy rescale on b161473's kernel joins the builds of plan2.
#   dist-node (9730a21, landed), dist-before (b161473), dist-ablate-lazy-rescale (9730a21 + ../2026-12-05-f/
#   lazy-rescale.patch), dist-before-lazy-rescale (b161473 + the same patch), dist-ablate-no-rescale (wrong results:
#   the bound on what skipping the rescale can buy), and dist-arith-X: each with kv-rows-64 (wrong results, times only).
# On an H200: the landed table beside cuDNN, the five builds' d=128 rows taking turns, the checks, the batches, d=64.
# On an H100: the arithmetic of the four exact builds taking turns, their d=128 rows, the new build's checks.
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
exact=(dist-before-lazy-rescale dist-ablate-lazy-rescale dist-node dist-before)
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  lengths_in_turns 2 dist-arith-before-lazy-rescale dist-arith-lazy-rescale dist-arith-landed dist-arith-before
  lengths_in_turns 1 "${exact[@]}"
  step check-before-lazy 80 "${run[@]}" dist-before-lazy-rescale/checkAttention.mjs
  finish_steps
  exit 0
fi
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_in_turns 2 "${exact[@]}" dist-ablate-no-rescale
step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
step check-lazy 80 "${run[@]}" dist-ablate-lazy-rescale/checkAttention.mjs
step check-before-lazy 80 "${run[@]}" dist-before-lazy-rescale/checkAttention.mjs
for dist in "${exact[@]}"; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
done
for dist in "${exact[@]}"; do
  step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
finish_steps
