#!/usr/bin/env bash
# Builds what plan13.sh carries, from a clean checkout of main (af72443: kernels as 9b33148, one WGSL comment
# changed), and packs it into .gpu/dists.tar.xz. Run from the project root after `bash scripts/pack-gpu.sh`; then
# carry `.gpu` alone. Exact builds:
#   dist-node                 the landed kernels (9b33148: scores in base-2 units)
#   dist-prior                6ddbb38's attention kernel (quad owners)
#   dist-before, dist-c37f92b b161473's and b36eb2d's attention kernels (b36eb2d's is the last H200 table's)
#   dist-ablate-lazy-rescale  landed + ../2026-12-05-f/lazy-rescale.patch
#   dist-lazy-first           landed + lazy-first-step.patch (the lazy rescale, skipped with its vote in a
#                             segment's first step, where o is still 0)
# and, with `build-ablations.mjs kv-rows-64` (the arithmetic alone), dist-arith-landed and dist-arith-lazy-first.
set -euo pipefail
source scripts/kernel-builds.sh
build_dist dist-node
build_arith landed
build_commits prior:6ddbb38 before:b161473 c37f92b:b36eb2d
build_patched dist-ablate-lazy-rescale docs/h200/2026-12-05-f/lazy-rescale.patch
build_patched dist-lazy-first docs/h200/2026-12-06-b/lazy-first-step.patch lazy-first
pack_builds
