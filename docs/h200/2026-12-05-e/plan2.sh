#!/usr/bin/env bash
# Run 2 of this folder: run 1 (plan.sh) found the driver's cache (one .bin of zstd-compressed entries, a .toc) but
# brought none of it back, and its spirv-as (SPIRV-Tools 2023.1) did not know the execution mode
# MaximallyReconvergesKHR that Dawn emits for NVIDIA. Here the SPIR-V comes assembled: run 1's disassembly with
# that mode written as its number (`!6023`), in .gpu/tools/spv/. From the project root, carrying .gpu/ (with
# .gpu/tools/: zstd and its libraries, the Vulkan headers, the .spv files) and dist-node/:
# OUT=$OUT bash docs/h200/2026-12-05-e/plan2.sh
set -uo pipefail
source scripts/gpu-steps.sh
here=docs/h200/2026-12-05-e
tools=$PWD/.gpu/tools
export PATH=$PATH:$tools LD_LIBRARY_PATH=$tools/lib
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache
mkdir -p /tmp/nvcache /tmp/ir /tmp/elfs
# Dawn's defaults, what the table measures.
step attention-64k 240 bash .gpu/run.sh .gpu dist-node/attention.mjs --lengths 64k --grid 256
tar -C /tmp -czf "$OUT/nvcache.tgz" nvcache
step cache-scan 120 python3 docs/h200/2026-12-05-d/scan-shader-cache.py --extract /tmp/elfs /tmp/nvcache
step cache-res-usage 60 bash -c 'for f in /tmp/elfs/*.cubin; do echo "## $f"; /usr/local/cuda/bin/cuobjdump -res-usage "$f" 2>&1 | head -12; done'
step build-stats 60 cc -O1 -std=c11 -I$tools/include -o /tmp/pipeline-stats $here/pipeline-stats.c -l:libvulkan.so.1
step pipeline-stats 180 bash -c 'for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do [ -f $icd ] && export VK_DRIVER_FILES=$icd && break; done; /tmp/pipeline-stats /tmp/ir '"$tools"'/spv/*.spv'
step ir-files 60 bash -c 'ls -la /tmp/ir; for f in /tmp/ir/*.bin; do [ -f "$f" ] || continue; echo "## $f"; head -c 64 "$f" | od -A d -t x1z | head -4; done'
# Disassembly, one file: the cache's images, then each binary representation (nvdisasm says if one is no ELF).
bash -c 'for f in /tmp/elfs/*.cubin /tmp/ir/*.bin; do [ -f "$f" ] || continue; echo "## $f"; /usr/local/cuda/bin/nvdisasm -c -print-line-info "$f" 2>&1 | head -6000; done; for f in /tmp/ir/*.txt; do [ -f "$f" ] || continue; echo "## $f"; head -c 300000 "$f"; done' > "$OUT/sass.txt" 2>&1
tar -C /tmp -czf "$OUT/ir.tgz" ir elfs 2>/dev/null
finish_steps
