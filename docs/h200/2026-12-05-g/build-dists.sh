#!/usr/bin/env bash
# Builds what plan6.sh carries, from a clean checkout of main, and packs it into .gpu/dists.tar.xz (the
# carry holds 8 paths and 64 MiB; packed, the builds take ~0.5 MB). Run from the project root after
# `bash scripts/pack-gpu.sh`; then carry `.gpu` alone (its models moved aside, no unpacked dawn.node).
#   dist-node:                the landed kernels (9730a21's attention kernel)
#   dist-before:              b161473's attention kernel
#   dist-c37f92b:             the attention kernel of the last H200 table (b36eb2d)
#   dist-ablate-lazy-rescale: ../2026-12-05-f/lazy-rescale.patch
#   dist-ablate-lazy-slack:   lazy-slack.patch
#   dist-ablate-no-rescale:   `build-ablations.mjs no-rescale` (the bound on skipping the rescale; wrong results)
set -euo pipefail
kernel=(kernels/attention/streamed_attention.wgsl kernels/attention/variant.ts)
git diff --quiet -- kernels || { echo "kernels/ has changes: commit or stash them first" >&2; exit 1; }
trap 'git checkout HEAD -- kernels' EXIT
build() { rm -rf "$1" && npx vite build -c vite.node.config.ts --outDir "$1" > /dev/null; }
build dist-node
git checkout b161473 -- "${kernel[@]}"
build dist-before
git checkout b36eb2d -- "${kernel[@]}"
build dist-c37f92b
git checkout HEAD -- "${kernel[@]}"
for patch in docs/h200/2026-12-05-f/lazy-rescale.patch docs/h200/2026-12-05-g/lazy-slack.patch; do
  git apply "$patch"
  build "dist-ablate-$(basename "$patch" .patch)"
  git checkout HEAD -- kernels
done
node scripts/build-ablations.mjs no-rescale > /dev/null
tar -cJf .gpu/dists.tar.xz dist-node dist-before dist-c37f92b dist-ablate-lazy-rescale dist-ablate-lazy-slack dist-ablate-no-rescale
echo "packed $(du -h .gpu/dists.tar.xz | cut -f1) into .gpu/dists.tar.xz; now write .gpu/COMMIT"
