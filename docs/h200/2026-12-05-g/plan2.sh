#!/usr/bin/env bash
# Session of 2026-12-05 (ninth), run 2: the eighth session's owed H200 call (../2026-12-05-f/plan4.sh, with no-rescale
# as the lazy rescale's bound), and on either GPU the same builds with their K and V rows wrapped into the pool's first
# 64 (`build-ablations.mjs kv-rows-64`: they come from L1, so the kernel's time is its arithmetic's), taking turns. The
# H100 has the H200's compute units and clocks: with the loads out of the way it times an instruction cut as the H200
# would, where its own memory hides every cut (runs 1–4 of the eighth session). The builds travel packed in
# .gpu/dists.tar.xz (the carry's 8 paths and 64 MiB):
#   dist-node (9730a21, landed), dist-before (b161473), dist-ablate-lazy-rescale (9730a21 + ../2026-12-05-f/
#   lazy-rescale.patch), dist-ablate-no-rescale (`build-ablations.mjs no-rescale`: wrong results, the bound on what
#   the lazy rescale can buy), and dist-arith-X: each of them with kv-rows-64 (wrong results, times only).
set -uo pipefail
tar -xJf .gpu/dists.tar.xz
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
arithmetic=(dist-arith-lazy-rescale dist-arith-no-rescale dist-arith-landed dist-arith-before)
if ! nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200; then
  lengths_in_turns 3 "${arithmetic[@]}"
  finish_steps
  exit 0
fi
step table-landed 110 "${run[@]}" dist-node/attention.mjs --recalibrate
step cuda-sdpa 30 python3 bench/cuda_sdpa.py
lengths_in_turns 2 dist-ablate-lazy-rescale dist-ablate-no-rescale dist-node dist-before
lengths_in_turns 1 "${arithmetic[@]}"
step check-landed 80 "${run[@]}" dist-node/checkAttention.mjs
builds=(dist-ablate-lazy-rescale dist-node dist-before)
for dist in "${builds[@]}"; do
  step "batches-$dist" 60 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
done
mkdir -p /tmp/nvcache-lazy
step cache-lazy 45 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-lazy "${run[@]}" dist-ablate-lazy-rescale/attention.mjs --lengths 64k --grid 256
tar -C /tmp -czf "$OUT/nvcache-lazy.tgz" nvcache-lazy
step check-lazy 80 "${run[@]}" dist-ablate-lazy-rescale/checkAttention.mjs
for dist in "${builds[@]}"; do
  step "d64-$dist" 45 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
finish_steps
