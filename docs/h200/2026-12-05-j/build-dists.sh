#!/usr/bin/env bash
# Builds what plan9.sh carries beside plan8's builds (../2026-12-05-i/build-dists.sh, in .gpu/dists.tar.xz), from a
# clean checkout of main, into .gpu/dists-exp2.tar.xz:
#   dist-ablate-exp2   the landed kernels with exp2.patch (scores in base-2 units, q pre-scaled by log2 e, so every
#                      exponential is a bare exp2; the weights' select on the scores' own predicate)
#   dist-arith-exp2    the same with `build-ablations.mjs kv-rows-64` (the arithmetic alone)
set -euo pipefail
source scripts/kernel-builds.sh
build_patched dist-ablate-exp2 docs/h200/2026-12-05-j/exp2.patch exp2
pack_builds .gpu/dists-exp2.tar.xz
