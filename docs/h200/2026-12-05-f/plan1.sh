#!/usr/bin/env bash
# Session of 2026-12-05 (eighth), run 1: two builds against the landed kernel (dist-node, b161473) in one call.
#   dist-ablate-qshared:  the query rows in workgroup memory, read once a step (qshared.patch): 64 registers fewer
#                         held, for more workgroups a compute unit (more K and V loads in flight).
#   dist-ablate-unrolled: the butterflies unrolled with quad swaps, the fence kept (../2026-12-05-e/plan6.sh).
# Then the driver's cache of both (for scan-shader-cache.py --sass: registers, and where the loads sit), their checks,
# and the landed commit's whole table beside cuDNN (owed on an H200).
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
builds=(dist-ablate-qshared dist-ablate-unrolled dist-node)
lengths_in_turns 2 "${builds[@]}"
for dist in "${builds[@]}"; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
done
for dist in dist-ablate-qshared dist-ablate-unrolled; do
  mkdir -p /tmp/nvcache-$dist
  step "cache-$dist" 60 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-$dist "${run[@]}" $dist/attention.mjs --lengths 64k --grid 256
done
tar -C /tmp -czf "$OUT/nvcache.tgz" nvcache-dist-ablate-qshared nvcache-dist-ablate-unrolled
step choices-qshared 80 env LEAN_DECODE_CACHE=/tmp/cal-qshared "${run[@]}" dist-ablate-qshared/attention.mjs --choices-only
step check-qshared 80 "${run[@]}" dist-ablate-qshared/checkAttention.mjs
step check-unrolled 80 "${run[@]}" dist-ablate-unrolled/checkAttention.mjs
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
finish_steps
