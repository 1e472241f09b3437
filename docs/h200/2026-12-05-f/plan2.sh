#!/usr/bin/env bash
# Session of 2026-12-05 (eighth), run 2: software pipelining again (ffe2ec3 tried it on 2026-12-03 without a fence:
# 0.96–1.02x), now with the fence the machine code showed is needed (a loop after the next step's K loads, so that
# the scheduler cannot sink them to the end of the step), against the landed kernel (dist-node, b161473) and against
# the same pipelining without the fence.
#   dist-ablate-pipelined:         pipelined.patch
#   dist-ablate-pipelined-nofence: pipelined-nofence.patch
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
builds=(dist-ablate-pipelined dist-ablate-pipelined-nofence dist-node)
lengths_in_turns 2 "${builds[@]}"
for dist in "${builds[@]}"; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
done
for dist in dist-ablate-pipelined dist-node; do
  step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
for dist in dist-ablate-pipelined dist-ablate-pipelined-nofence; do
  mkdir -p /tmp/nvcache-$dist
  step "cache-$dist" 45 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-$dist "${run[@]}" $dist/attention.mjs --lengths 64k --grid 256
done
tar -C /tmp -czf "$OUT/nvcache.tgz" nvcache-dist-ablate-pipelined nvcache-dist-ablate-pipelined-nofence
step check-pipelined 80 "${run[@]}" dist-ablate-pipelined/checkAttention.mjs
if nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
  step cuda-sdpa 30 python3 bench/cuda_sdpa.py
fi
finish_steps
