#!/usr/bin/env bash
# Builds what plan7.sh carries, from a clean checkout of main, and packs it into .gpu/dists.tar.xz (the carry holds
# 8 paths and 64 MiB; packed, the builds take ~0.5 MB). Run from the project root after `bash scripts/pack-gpu.sh`;
# then carry `.gpu` alone (its models moved aside, no unpacked dawn.node). Exact builds (right results):
#   dist-node                     the landed kernels (9730a21's attention kernel)
#   dist-before                   b161473's attention kernel
#   dist-c37f92b                  the attention kernel of the last H200 table (b36eb2d)
#   dist-ablate-quad-owners       quad-owners.patch: the scatter pairs the nearest lanes first, so that every quad
#                                 owns every row and the weights come by quad broadcasts (Tint guards 4 shuffles a
#                                 step at d=128 GQA 4 instead of 28)
#   dist-ablate-row-arrays        row-arrays.patch: K and V bound as arrays of rows, so that Dawn's robustness clamps
#                                 a row index once a token and buffer (8 a step) instead of every load's (16)
#   dist-ablate-quad-rows         both patches
#   dist-ablate-quad-rows-lazy-rescale, dist-ablate-quad-rows-lazy-slack: both, then the lazy rescale without and
#                                 with the slack (merged in three ways: they were written against the landed kernel)
#   dist-ablate-lazy-rescale, dist-ablate-lazy-slack: the landed kernel with ../2026-12-05-f/lazy-rescale.patch and
#                                 ../2026-12-05-g/lazy-slack.patch
# and each with `build-ablations.mjs kv-rows-64` as dist-arith-NAME (K and V from L1: the arithmetic alone; wrong
# results, the times the point), NAME: landed, before, c37f92b, or the dist-ablate-NAME above.
set -euo pipefail
source scripts/kernel-builds.sh
here=docs/h200/2026-12-05-h
# `both NAME DIST`: the working tree's kernels built as DIST and, with kv-rows-64, as dist-arith-NAME.
both() {
  build_dist "$2"
  build_arith "$1"
}
# `patched NAME PATCH...`: the landed kernels with the patches applied in turn, as dist-ablate-NAME.
patched() {
  local name=$1
  shift
  restore_kernels
  for patch in "$@"; do git apply -3 "$patch"; done
  both "$name" "dist-ablate-$name"
  restore_kernels
}
both landed dist-node
git checkout b161473 -- "${attention_kernel[@]}"
both before dist-before
git checkout b36eb2d -- "${attention_kernel[@]}"
both c37f92b dist-c37f92b
patched quad-owners "$here/quad-owners.patch"
patched row-arrays "$here/row-arrays.patch"
patched quad-rows "$here/quad-owners.patch" "$here/row-arrays.patch"
for lazy in docs/h200/2026-12-05-f/lazy-rescale.patch docs/h200/2026-12-05-g/lazy-slack.patch; do
  name=$(basename "$lazy" .patch)
  patched "quad-rows-$name" "$here/quad-owners.patch" "$here/row-arrays.patch" "$lazy"
  patched "$name" "$lazy"
done
pack_builds
