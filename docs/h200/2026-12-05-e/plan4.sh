#!/usr/bin/env bash
# Run 4 of this folder: run 3 found 3c7a7d2 slower from 64k, and its cache showed why: with the butterfly loop
# unrolled, NVIDIA's scheduler moved the step's V loads below the scores. 3c7a7d2 is reverted (0e3e7a4); here
# dist-node is the next commit (every token's butterflies in one loop, after all scatter levels: one fence where
# there were four), dist-ablate-fence the same with the next step's page-table read inside a one-trip loop right after
# the V loads (a fence there too), dist-before the landed kernel (3db1b32). Carrying .gpu (without models and
# tools) and the three dists: OUT=$OUT bash docs/h200/2026-12-05-e/plan4.sh
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
lengths=(--lengths 1k,4k,16k,64k,128k,256k,512k --grid 256)
for pass in 1 2; do
  for dist in dist-node dist-before dist-ablate-fence; do
    step "d128-$dist-$pass" 90 "${run[@]}" $dist/attention.mjs "${lengths[@]}"
  done
done
for dist in dist-node dist-before dist-ablate-fence; do
  step "batches-$dist" 120 "${run[@]}" $dist/attention.mjs --batches-only --grid 256
  step "d64-$dist" 60 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
done
for dist in dist-node dist-ablate-fence; do
  step "check-attention-$dist" 150 "${run[@]}" $dist/checkAttention.mjs
  mkdir -p /tmp/nvcache-$dist
  step "cache-$dist" 60 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-$dist "${run[@]}" $dist/attention.mjs --lengths 64k --grid 256
done
tar -C /tmp -czf "$OUT/nvcache.tgz" nvcache-dist-node nvcache-dist-ablate-fence
finish_steps
