#!/usr/bin/env bash
# Builds what plan7.sh carries, from a clean checkout of main, and packs it into .gpu/dists.tar.xz (the carry holds
# 8 paths and 64 MiB; packed, the builds take ~1.5 MB). Run from the project root after `bash scripts/pack-gpu.sh`;
# then carry `.gpu` alone (its models moved aside, no unpacked dawn.node). Exact builds (right results):
#   dist-node                         the landed kernels (9730a21's attention kernel)
#   dist-before                       b161473's attention kernel
#   dist-c37f92b                      the attention kernel of the last H200 table (b36eb2d)
#   dist-ablate-quad-owners           quad-owners.patch: the scatter pairs the nearest lanes first, so every quad owns
#                                     every row and the weights come by quad broadcasts (Tint guards 4 shuffles a step
#                                     instead of 28 at d=128 GQA 4)
#   dist-ablate-quad-owners-lazy-rescale, dist-ablate-quad-owners-lazy-slack: quad-owners.patch, then the lazy
#                                     rescale without and with the slack (the *-after-quad-owners patches)
#   dist-ablate-lazy-rescale, dist-ablate-lazy-slack: the landed kernel with ../2026-12-05-f/lazy-rescale.patch and
#                                     ../2026-12-05-g/lazy-slack.patch
# and each with `build-ablations.mjs kv-rows-64` as dist-arith-NAME (K and V from L1: the arithmetic alone; wrong
# results, the times the point), NAME one of landed, before, c37f92b, quad-owners, quad-owners-lazy-rescale,
# quad-owners-lazy-slack, lazy-rescale, lazy-slack.
set -euo pipefail
here=docs/h200/2026-12-05-h
kernel=(kernels/attention/streamed_attention.wgsl kernels/attention/variant.ts)
git diff --quiet -- kernels || { echo "kernels/ has changes: commit or stash them first" >&2; exit 1; }
trap 'git checkout HEAD -- kernels' EXIT
# `both NAME DIST`: the working tree's kernels built as DIST and, with kv-rows-64, as dist-arith-NAME.
both() {
  rm -rf "$2" "dist-arith-$1" && npx vite build -c vite.node.config.ts --outDir "$2" > /dev/null
  node scripts/build-ablations.mjs kv-rows-64 > /dev/null
  mv dist-ablate-kv-rows-64 "dist-arith-$1"
}
both landed dist-node
git checkout b161473 -- "${kernel[@]}"
both before dist-before
git checkout b36eb2d -- "${kernel[@]}"
both c37f92b dist-c37f92b
git checkout HEAD -- kernels
git apply "$here/quad-owners.patch"
both quad-owners dist-ablate-quad-owners
for lazy in lazy-rescale lazy-slack; do
  git apply "$here/$lazy-after-quad-owners.patch"
  both "quad-owners-$lazy" "dist-ablate-quad-owners-$lazy"
  git apply -R "$here/$lazy-after-quad-owners.patch"
done
git checkout HEAD -- kernels
for patch in docs/h200/2026-12-05-f/lazy-rescale.patch docs/h200/2026-12-05-g/lazy-slack.patch; do
  name=$(basename "$patch" .patch)
  git apply "$patch"
  both "$name" "dist-ablate-$name"
  git checkout HEAD -- kernels
done
names=(landed before c37f92b quad-owners quad-owners-lazy-rescale quad-owners-lazy-slack lazy-rescale lazy-slack)
tar -cJf .gpu/dists.tar.xz dist-node dist-before dist-c37f92b dist-ablate-quad-owners dist-ablate-quad-owners-lazy-rescale \
  dist-ablate-quad-owners-lazy-slack dist-ablate-lazy-rescale dist-ablate-lazy-slack "${names[@]/#/dist-arith-}"
echo "packed $(du -h .gpu/dists.tar.xz | cut -f1) into .gpu/dists.tar.xz; now write .gpu/COMMIT"
