#!/usr/bin/env bash
# Builds what plan8.sh (0ea677e; run as ../2026-12-05-j/plan9.sh) carries, from a clean checkout of main, and packs
# it into .gpu/dists.tar.xz. Run from the project root after `bash scripts/pack-gpu.sh`; then carry `.gpu` alone
# (its models moved aside, no unpacked dawn.node). Exact builds:
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
source scripts/kernel-builds.sh
build_dist dist-node
build_arith landed
build_commits prior:9730a21 before:b161473 c37f92b:b36eb2d
build_patched dist-ablate-lazy-rescale docs/h200/2026-12-05-f/lazy-rescale.patch
build_patched dist-ablate-lazy-slack docs/h200/2026-12-05-g/lazy-slack.patch
build_patched dist-ablate-quad-gqa8 docs/h200/2026-12-05-i/quad-gqa8.patch quad-gqa8
pack_builds
