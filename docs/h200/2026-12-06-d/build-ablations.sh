#!/usr/bin/env bash
# Builds what plan15.sh carries beside ../2026-12-06-b/build-dists.sh's builds: the landed kernel's ablations that
# take a call apart (scripts/build-ablations.mjs: the attention dispatch returning at once, no token loop, the loop's
# loads alone, no end-of-segment stream merge), packed into .gpu/ablations.tar.xz. Run from the project root after
# build-dists.sh; then carry `.gpu` alone.
set -euo pipefail
source scripts/kernel-builds.sh
names=(empty-attention no-token-loop kv-loads-only no-stream-merge)
node scripts/build-ablations.mjs "${names[@]}" > /dev/null
builds=("${names[@]/#/dist-ablate-}")
pack_builds .gpu/ablations.tar.xz
