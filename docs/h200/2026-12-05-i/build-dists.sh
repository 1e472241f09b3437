#!/usr/bin/env bash
# Builds what plan8.sh carries, from a clean checkout of main, and packs it into .gpu/dists.tar.xz. Run from the
# project root after `bash scripts/pack-gpu.sh`; then carry `.gpu` alone (its models moved aside, no unpacked
# dawn.node). Exact builds:
#   dist-node                 the landed kernels (6ddbb38: quad owners and K/V as arrays of rows)
#   dist-prior                9730a21's attention kernel (landed before 6ddbb38)
#   dist-before, dist-c37f92b b161473's and b36eb2d's attention kernels (b36eb2d's is the last H200 table's)
#   dist-ablate-lazy-rescale, dist-ablate-lazy-slack: the landed kernels with ../2026-12-05-f/lazy-rescale.patch and
#                             ../2026-12-05-g/lazy-slack.patch (merged in three ways: written against 9730a21)
#   dist-ablate-quad-gqa8     the landed kernels with quad-gqa8.patch (GQA 8: 8 rows on 8 or 16 lanes spread over 4,
#                             2 rows a lane, so that their weights come by quad broadcasts too)
# and, with `build-ablations.mjs kv-rows-64` (K and V from L1: the arithmetic alone; wrong results, the times the
# point), dist-arith-landed and dist-arith-quad-gqa8.
set -euo pipefail
here=docs/h200/2026-12-05-i
kernel=(kernels/attention/streamed_attention.wgsl kernels/attention/variant.ts)
git diff --quiet -- kernels || { echo "kernels/ has changes: commit or stash them first" >&2; exit 1; }
restore() { git reset -q -- kernels && git checkout HEAD -- kernels; }
trap restore EXIT
names=()
build() {
  rm -rf "$1" && npx vite build -c vite.node.config.ts --outDir "$1" > /dev/null
  names+=("$1")
}
# `arith NAME`: the working tree's kernels with kv-rows-64, as dist-arith-NAME.
arith() {
  rm -rf "dist-arith-$1" && node scripts/build-ablations.mjs kv-rows-64 > /dev/null
  mv dist-ablate-kv-rows-64 "dist-arith-$1"
  names+=("dist-arith-$1")
}
build dist-node
arith landed
for pair in prior:9730a21 before:b161473 c37f92b:b36eb2d; do
  git checkout "${pair#*:}" -- "${kernel[@]}"
  build "dist-${pair%%:*}"
  restore
done
for lazy in docs/h200/2026-12-05-f/lazy-rescale.patch docs/h200/2026-12-05-g/lazy-slack.patch; do
  git apply -3 "$lazy"
  build "dist-ablate-$(basename "$lazy" .patch)"
  restore
done
git apply -3 "$here/quad-gqa8.patch"
build dist-ablate-quad-gqa8
arith quad-gqa8
restore
tar -cJf .gpu/dists.tar.xz "${names[@]}"
echo "packed ${#names[@]} builds, $(du -h .gpu/dists.tar.xz | cut -f1), into .gpu/dists.tar.xz; now write .gpu/COMMIT"
