#!/usr/bin/env bash
# Builds what plan10.sh carries, from a clean checkout of main, and packs it into .gpu/dists.tar.xz. Run from the
# project root after `bash scripts/pack-gpu.sh`; then carry `.gpu` alone (its models moved aside, no unpacked
# dawn.node). Exact builds:
#   dist-node                 the landed kernels (9b33148: scores in base-2 units, on 6ddbb38)
#   dist-prior                6ddbb38's attention kernel (quad owners, K/V as arrays of rows)
#   dist-before, dist-c37f92b b161473's and b36eb2d's attention kernels (b36eb2d's is the last H200 table's)
#   dist-ablate-lazy-rescale  the landed kernels with ../2026-12-05-f/lazy-rescale.patch (merged in three ways)
# and, with `build-ablations.mjs kv-rows-64` (K and V from L1: the arithmetic alone), dist-arith-landed and
# dist-arith-lazy-rescale.
set -euo pipefail
source scripts/kernel-builds.sh
build_dist dist-node
build_arith landed
build_commits prior:6ddbb38 before:b161473 c37f92b:b36eb2d
build_patched dist-ablate-lazy-rescale docs/h200/2026-12-05-f/lazy-rescale.patch lazy-rescale
pack_builds
