#!/usr/bin/env bash
# Run 3 of this folder: the token loop's machine code (run 2's cache, disassembled here with nvdisasm -b SM90) showed
# the reduce-scatter's last butterfly left as a loop inside the token loop, and a check Tint adds around every
# subgroup shuffle (lane XOR mask ≤ subgroupAdd(1) − 1, then a select). 3c7a7d2 unrolls the butterfly, swaps lanes
# 1 and 2 apart with quad swaps (which Tint does not guard), and skips the rescale of o in a step that raised no row's
# max. Builds, each made from the tracked sources with `npx vite build -c vite.node.config.ts --outDir DIR`:
#   dist-node (3c7a7d2), dist-before (3db1b32, the landed kernel), dist-ablate-unroll-only (3c7a7d2 with swapLanes
#   always a subgroupShuffleXor and the rescale unconditional), dist-ablate-no-lazy (3c7a7d2 with the rescale
#   unconditional). Carrying .gpu (without models and tools) and the four dists: OUT=$OUT bash docs/h200/2026-12-05-e/plan3.sh
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
lengths=(--lengths 1k,4k,16k,64k,128k,256k,512k --grid 256)
for pass in 1 2; do
  for dist in dist-node dist-before dist-ablate-unroll-only dist-ablate-no-lazy; do
    step "d128-$dist-$pass" 90 "${run[@]}" $dist/attention.mjs "${lengths[@]}"
  done
done
step batches-new 120 "${run[@]}" dist-node/attention.mjs --batches-only --grid 256
step batches-old 120 "${run[@]}" dist-before/attention.mjs --batches-only --grid 256
step d64-new 60 "${run[@]}" dist-node/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
step d64-old 60 "${run[@]}" dist-before/attention.mjs --lengths 1k,4k,16k,64k,256k --head-dim 64 --grid 512
for shape in llama-3.1-8b llama-3.2-1b; do
  decode=(bench-decode --shape "$shape" --contexts 1k,16k,64k --steps 32 --attention lean --skip-mask --prefill 0)
  step "$shape-new" 60 "${run[@]}" dist-node/cli.mjs "${decode[@]}"
  step "$shape-old" 60 "${run[@]}" dist-before/cli.mjs "${decode[@]}"
done
step check-attention 150 "${run[@]}" dist-node/checkAttention.mjs
# The new kernel's machine code: the driver's cache of one 64k run, brought back for nvdisasm.
mkdir -p /tmp/nvcache-new
step cache-new 60 env __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-new "${run[@]}" dist-node/attention.mjs --lengths 64k --grid 256
tar -C /tmp -czf "$OUT/nvcache-new.tgz" nvcache-new
finish_steps
