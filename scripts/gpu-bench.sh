#!/usr/bin/env bash
# Every GPU figure the issues ask for, in one run (device time is scarce: one call does it all).
# Here, first:  npm ci && npm run build:node && bash ../shared/gpu/pack.sh .gpu && cp ../shared/gpu/run.sh .gpu/
# On the GPU machine, from the project root:  bash scripts/gpu-bench.sh [OUT_DIR]
# Writes OUT_DIR (default gpu-results/): the attention kernels' float64 checks on that GPU, bench:attention (Dawn's
# defaults, then a labelled diagnostic run without robustness), PyTorch's SDPA on the same GPU, bench-decode.
set -uo pipefail
out=${1:-gpu-results}
mkdir -p "$out"
[ -f .gpu/run.sh ] || { echo "no .gpu/run.sh: pack first (see the header of this script)" >&2; exit 1; }
[ -f dist-node/cli.mjs ] || { echo "no dist-node/: run npm run build:node first" >&2; exit 1; }
bash .gpu/run.sh .gpu dist-node/checkAttention.mjs > "$out/check.txt" 2>&1; tail -1 "$out/check.txt"
bash .gpu/run.sh .gpu dist-node/attention.mjs --recalibrate 2>&1 | tee "$out/attention.txt"
bash .gpu/run.sh .gpu dist-node/attention.mjs --toggles enable-dawn-features=disable_robustness,disable_workgroup_init,skip_validation \
  > "$out/attention-diagnostic.txt" 2>&1
python3 bench/cuda_sdpa.py 2>&1 | tee "$out/cuda.txt"
bash .gpu/run.sh .gpu dist-node/cli.mjs bench-decode --shape llama-3.2-1b --contexts 1k,32k,128k --prefill 4k 2>&1 | tee "$out/decode.txt"
echo "done: $(ls "$out")"
