#!/usr/bin/env bash
# One device call that times a build against another and checks the new one, as the sessions of issue 13 compare a
# kernel change: the H200s lent differ by 1–3%, so builds compare only within one call, each in its own processes,
# taking turns. Here, first:
#   git stash; npm run build:node; cp -r dist-node dist-before; git stash pop; npm run build:node; bash scripts/pack-gpu.sh
# (or node scripts/build-ablations.mjs NAME for a dist-ablate-NAME/), then on the GPU machine, carrying .gpu and both:
#   OUT=$OUT bash scripts/gpu-compare.sh NEW_DIST OLD_DIST [--no-models]
# Writes $OUT/all.txt: the single-sequence rows of bench:attention at d=128, its batches of several sequences or odd
# head counts (--batches-only), and the single-sequence rows at d=64 (each new, old, new, old), the 8B and 1B shapes'
# decode steps (new, old, new), then checkAttention and checkModels (the reference models of .gpu/models; --no-models
# skips them where .gpu/models stayed behind to fit the 64 MiB that travel) on the new build.
set -uo pipefail
new=${1:?usage: gpu-compare.sh NEW_DIST OLD_DIST [--no-models]}
old=${2:?usage: gpu-compare.sh NEW_DIST OLD_DIST [--no-models]}
models=${3:-}
for dist in "$new" "$old"; do
  [ -f "$dist/attention.mjs" ] || { echo "no $dist/attention.mjs: build it first (see the header)" >&2; exit 1; }
done
source "$(dirname "$0")/gpu-steps.sh"
echo "new: $new, old: $old" >> "$steps_log"
run=(bash .gpu/run.sh .gpu)
lengths=(--lengths 1k,4k,16k,64k,128k,256k,512k)
for pass in 1 2; do
  step "d128-new-$pass" 120 "${run[@]}" "$new/attention.mjs" "${lengths[@]}" --grid 256
  step "d128-old-$pass" 120 "${run[@]}" "$old/attention.mjs" "${lengths[@]}" --grid 256
done
for pass in 1 2; do
  step "batches-new-$pass" 150 "${run[@]}" "$new/attention.mjs" --batches-only --grid 256
  step "batches-old-$pass" 150 "${run[@]}" "$old/attention.mjs" --batches-only --grid 256
done
for pass in 1 2; do
  step "d64-new-$pass" 90 "${run[@]}" "$new/attention.mjs" "${lengths[@]}" --head-dim 64 --grid 512
  step "d64-old-$pass" 90 "${run[@]}" "$old/attention.mjs" "${lengths[@]}" --head-dim 64 --grid 512
done
for shape in llama-3.1-8b llama-3.2-1b; do
  decode=(bench-decode --shape "$shape" --contexts 1k,16k,64k --steps 32 --attention lean --skip-mask --prefill 0)
  step "$shape-new-1" 90 "${run[@]}" "$new/cli.mjs" "${decode[@]}"
  step "$shape-old" 90 "${run[@]}" "$old/cli.mjs" "${decode[@]}"
  step "$shape-new-2" 90 "${run[@]}" "$new/cli.mjs" "${decode[@]}"
done
step check-attention 150 "${run[@]}" "$new/checkAttention.mjs"
[ "$models" = --no-models ] || step check-models 120 "${run[@]}" "$new/checkModels.mjs" --models .gpu/models
finish_steps
