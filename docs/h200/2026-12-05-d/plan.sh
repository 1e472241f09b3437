#!/usr/bin/env bash
# Run 1 of docs/h200/2026-12-05-d, as it ran (from the project root: OUT=$OUT bash docs/h200/2026-12-05-d/plan.sh,
# carrying .gpu/ and dist-node/; the driver wrote no shader cache: its directories did not exist, so make them first).
# Session of 2026-12-05 (sixth): which subgroup-matrix loads Dawn gets right on this GPU, and what the driver's
# shader cache tells of the pipelines Dawn built (docs/h200/2026-12-05-d/).
set -uo pipefail
source scripts/gpu-steps.sh
here=docs/h200/2026-12-05-d
probe=$here/probe-matrix-loads.mjs
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1
export __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-probe
step probe-defaults 120 bash .gpu/run.sh .gpu $probe
step probe-f16 180 bash .gpu/run.sh .gpu $probe enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia
step probe-f16-no-robustness 180 bash .gpu/run.sh .gpu $probe enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia,disable_robustness
export __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache-attention
step attention-64k 240 bash .gpu/run.sh .gpu dist-node/attention.mjs --lengths 64k --grid 256
step tools 60 bash -c 'which nvdisasm cuobjdump nvcc ptxas; ls -d /usr/local/cuda* 2>&1; find / -xdev \( -name "nvdisasm*" -o -name "cuobjdump*" \) 2>/dev/null | head; ls -laR /tmp/nvcache-probe /tmp/nvcache-attention ~/.cache/nvidia 2>&1 | head -40'
step scan-probe 60 python3 $here/scan-shader-cache.py /tmp/nvcache-probe
step scan-attention 60 python3 $here/scan-shader-cache.py --extract /tmp/elfs /tmp/nvcache-attention ~/.cache/nvidia
step res-usage 60 bash -c 'for f in /tmp/elfs/*.cubin; do echo "## $f"; cuobjdump -res-usage "$f" 2>&1 | head -20; done'
bash -c 'for f in /tmp/elfs/*.cubin; do echo "## $f"; nvdisasm -c "$f" 2>&1 || cuobjdump -sass "$f" 2>&1; done' > "$OUT/sass.txt" 2>&1
tar -C /tmp -czf "$OUT/nvcache.tgz" nvcache-probe nvcache-attention 2>/dev/null
finish_steps
