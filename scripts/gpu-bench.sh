#!/usr/bin/env bash
# Every GPU figure the issues ask for, in one run (device time is scarce: one call does it all).
# Here, first:  npm ci && npm run build:node && bash scripts/pack-gpu.sh   (then carry .gpu and dist-node)
# On the GPU machine, from the project root:  bash scripts/gpu-bench.sh [OUT_DIR] [attention|projections|decode|matrixunits|all]
# Writes OUT_DIR (default gpu-results/):
#   attention:   the attention kernels' float64 checks on that GPU, the read ceiling (WGSL, and PyTorch's reads),
#                bench:attention (Dawn's defaults, then a labelled diagnostic run without robustness), PyTorch's SDPA
#                on the same GPU;
#   matrixunits: with Dawn's toggles for subgroup matrices and f16 on NVIDIA: the prefill GEMM on the matrix units
#                against float64 and the portable tiles, the reference models' checks (prefill on the matrix units
#                where the KV is f16), time to the first token for 1k-32k prompts, and the portable prefill
#                kernel against the decode kernel on prefill chunks (bench:attention --prefill-only);
#   decode:      the reference models' checks on that GPU, bench-decode on the Llama-3.2-1B shape (decode at 1k/32k/128k, prefill 1k/8k/32k, and
#                prefill chunks compared) and on the built-in model (decode depths 1 and 3);
#   projections: decode, and before it bench/linear.ts (decode GEMV schedules) and the prefill GEMM's tiles.
set -uo pipefail
out=${1:-gpu-results}
part=${2:-all}
mkdir -p "$out"
[ -f .gpu/run.sh ] || { echo "no .gpu/run.sh: pack first (see the header of this script)" >&2; exit 1; }
[ -f dist-node/cli.mjs ] || { echo "no dist-node/: run npm run build:node first" >&2; exit 1; }
dawn=.gpu/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn.xz" ] && [ ! -f "$dawn" ] && xz -dk "$dawn.xz"
run() { bash .gpu/run.sh .gpu "$@"; }
if [ "$part" = attention ] || [ "$part" = all ]; then
  run dist-node/checkAttention.mjs > "$out/check.txt" 2>&1; tail -1 "$out/check.txt"
  run dist-node/bandwidth.mjs 2>&1 | tee "$out/bandwidth.txt"
  python3 bench/cuda_read.py 2>&1 | tee "$out/cuda-read.txt"
  run dist-node/attention.mjs --recalibrate 2>&1 | tee "$out/attention.txt"
  run dist-node/attention.mjs --toggles enable-dawn-features=disable_robustness,disable_workgroup_init,skip_validation \
    > "$out/attention-diagnostic.txt" 2>&1
  python3 bench/cuda_sdpa.py 2>&1 | tee "$out/cuda.txt"
fi
if [ "$part" = matrixunits ] || [ "$part" = all ]; then
  units=enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia
  run dist-node/matmul.mjs --toggles $units --tokens 512,2048 --tiles 128x128/8x8/k16/registers 2>&1 | grep -v "deprecated\|^ *\^\|^:\|subgroupMatrix\|warning\|Compilation log" \
    | tee "$out/matmul-units.txt"
  run dist-node/checkAttention.mjs --toggles $units > "$out/check-attention-units.txt" 2>&1; grep -E "matrix units|passed|FAIL" "$out/check-attention-units.txt"
  run dist-node/attention.mjs --prefill-only 2>&1 | tee "$out/attention-prefill.txt" | tail -14
  run dist-node/checkModels.mjs --models .gpu/models --toggles $units > "$out/check-models-units.txt" 2>&1; tail -1 "$out/check-models-units.txt"
  for chunk in 512 1024 2048; do
    run dist-node/cli.mjs bench-decode --shape llama-3.2-1b --contexts 1k --attention lean --steps 16 --prefill 1k,4k,8k,32k --prefill-chunk $chunk \
      --toggles $units 2>&1 | grep -v "deprecated\|^ *\^\|^:\|subgroupMatrix\|warning\|Compilation log" | tee "$out/decode-units-chunk$chunk.txt" | tail -8
  done
fi
if [ "$part" = projections ] || [ "$part" = all ]; then
  run dist-node/linear.mjs 2>&1 | tee "$out/linear.txt"
  run dist-node/matmul.mjs 2>&1 | tee "$out/matmul.txt"
fi
if [ "$part" = projections ] || [ "$part" = decode ] || [ "$part" = all ]; then
  run dist-node/checkModels.mjs --models .gpu/models > "$out/check-models.txt" 2>&1; tail -1 "$out/check-models.txt"
  run dist-node/cli.mjs bench-decode --shape llama-3.2-1b --contexts 1k,32k,128k --prefill 1k,8k,32k 2>&1 | tee "$out/decode.txt"
  for chunk in 512 1024; do
    run dist-node/cli.mjs bench-decode --shape llama-3.2-1b --contexts 1k --attention lean --steps 16 --prefill 1k,8k --prefill-chunk $chunk \
      2>&1 | tee "$out/decode-chunk$chunk.txt" | tail -5
  done
  for depth in 1 3; do
    run dist-node/cli.mjs bench-decode --contexts 1k --prefill 1k --steps 1024 --decode-depth $depth 2>&1 | tee "$out/decode-pydoc-depth$depth.txt" | tail -9
  done
fi
# The device tool brings back at most 8 files of a call's output folder, in name order: all.txt holds every table.
for f in "$out"/*.txt; do [ "$(basename "$f")" = all.txt ] || { echo "### $(basename "$f")"; cat "$f"; }; done > "$out/all.txt.part"
mv "$out/all.txt.part" "$out/all.txt"
echo "done: $(ls "$out")"
