#!/usr/bin/env bash
# Run 5 of this folder: the commit that keeps run 4's fence (dist-node) against the landed kernel (dist-before,
# 3db1b32), d=128, two passes taking turns. Carrying .gpu (without models and tools) and both dists:
# OUT=$OUT bash docs/h200/2026-12-05-e/plan5.sh
set -uo pipefail
source scripts/gpu-steps.sh
run=(bash .gpu/run.sh .gpu)
for pass in 1 2; do
  for dist in dist-node dist-before; do
    step "d128-$dist-$pass" 60 "${run[@]}" $dist/attention.mjs --lengths 1k,4k,16k,64k,128k,256k,512k --grid 256
  done
done
finish_steps
