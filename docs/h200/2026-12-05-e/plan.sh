#!/usr/bin/env bash
# Session of 2026-12-05 (seventh): the machine code NVIDIA's driver makes of the streamed attention kernel, two ways
# in one call. (1) The driver's shader disk cache (docs/h200/2026-12-05-d/scan-shader-cache.py: ELF images,
# cuobjdump -res-usage, nvdisasm). (2) The SPIR-V Dawn generated (its dump_shaders toggle, which only logs), built
# again by pipeline-stats.c with VK_KHR_pipeline_executable_properties: registers, local memory, binary size, and any
# internal representation the driver gives. From the project root, carrying .gpu/ (with .gpu/tools/: spirv-as,
# pipeline-stats built here, the Vulkan headers to build it there) and dist-node/: OUT=$OUT bash docs/h200/2026-12-05-e/plan.sh
set -uo pipefail
source scripts/gpu-steps.sh
here=docs/h200/2026-12-05-e
tools=$PWD/.gpu/tools
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache
mkdir -p /tmp/nvcache /tmp/spv /tmp/ir /tmp/elfs
step attention-64k-dump 240 bash -c 'bash .gpu/run.sh .gpu dist-node/attention.mjs --lengths 64k --grid 256 --toggles enable-dawn-features=dump_shaders > /tmp/dump.txt 2>&1; rc=$?; grep -E "^(adapter|streaming|N=|kernels|fixed|DIAGNOSTIC)" /tmp/dump.txt; ls -la /tmp/dump.txt; exit $rc'
# (1) the driver's cache
step cache 30 bash -c 'ls -laR /tmp/nvcache | head -30; ls -laR ~/.cache/nvidia 2>&1 | head -20'
step cache-scan 60 python3 docs/h200/2026-12-05-d/scan-shader-cache.py --extract /tmp/elfs /tmp/nvcache ~/.cache/nvidia
step cache-bytes 30 bash -c 'find /tmp/nvcache ~/.cache/nvidia -type f -printf "%s %p\n" 2>/dev/null | sort -rn | head -3 | while read s f; do echo "## $f ($s bytes)"; head -c 160 "$f" | od -A d -t x1z | head -12; done'
step cache-res-usage 60 bash -c 'for f in /tmp/elfs/*.cubin; do echo "## $f"; /usr/local/cuda/bin/cuobjdump -res-usage "$f" 2>&1 | head -20; done'
# (2) the pipeline's statistics, from Dawn's SPIR-V
step split 60 bash -c "python3 $here/split-shader-dump.py /tmp/dump.txt /tmp/spv && for f in /tmp/spv/*.spvasm; do $tools/spirv-as --target-env vulkan1.2 \$f -o \${f%.spvasm}.spv || echo FAILED \$f; done; for f in /tmp/spv/*.wgsl; do echo \"\$f: \$(grep -hE '^const [A-Z_]+: (u32|bool) = ' \$f | head -14 | tr '\n' ' ')\"; done"
step build-stats 60 bash -c "(cc -O1 -std=c11 -I$tools/include -o /tmp/pipeline-stats $here/pipeline-stats.c -l:libvulkan.so.1 && echo built here) || cp $tools/pipeline-stats /tmp/pipeline-stats"
step pipeline-stats 180 bash -c 'for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do [ -f $icd ] && export VK_DRIVER_FILES=$icd && break; done; /tmp/pipeline-stats /tmp/ir /tmp/spv/*.spv'
step ir-files 60 bash -c 'ls -la /tmp/ir; for f in /tmp/ir/*.bin; do [ -f "$f" ] || continue; echo "## $f"; head -c 64 "$f" | od -A d -t x1z | head -4; done'
# Everything disassembled into one file: the cache's images, then any binary representation that is an ELF.
bash -c 'for f in /tmp/elfs/*.cubin /tmp/ir/*.bin; do [ -f "$f" ] || continue; echo "## $f"; /usr/local/cuda/bin/nvdisasm -c "$f" 2>&1 | head -4000 || /usr/local/cuda/bin/cuobjdump -sass "$f" 2>&1 | head -4000; done; for f in /tmp/ir/*.txt; do [ -f "$f" ] || continue; echo "## $f"; head -c 400000 "$f"; done' > "$OUT/sass.txt" 2>&1
tar -C /tmp -czf "$OUT/spv.tgz" spv 2>/dev/null
finish_steps
