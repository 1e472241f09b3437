#!/usr/bin/env bash
# Builds what plan9.sh carries beside plan8's builds (../2026-12-05-i/build-dists.sh, in .gpu/dists.tar.xz), from a
# clean checkout of main, into .gpu/dists-exp2.tar.xz:
#   dist-ablate-exp2   the landed kernels with exp2.patch (scores in base-2 units, q pre-scaled by log2 e, so every
#                      exponential is a bare exp2; the weights' select on the scores' own predicate)
#   dist-arith-exp2    the same with `build-ablations.mjs kv-rows-64` (the arithmetic alone)
set -euo pipefail
source scripts/kernel-builds.sh
git apply -3 docs/h200/2026-12-05-j/exp2.patch
build_dist dist-ablate-exp2
build_arith exp2
restore_kernels
pack_builds .gpu/dists-exp2.tar.xz
