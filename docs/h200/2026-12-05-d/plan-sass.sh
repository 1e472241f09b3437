#!/usr/bin/env bash
# Not run as it stands: docs/h200/2026-12-05-e/plan.sh ran it, with Dawn's SPIR-V dump beside it (run 1 there). It was
# the next call of this folder's question: the machine code NVIDIA's driver builds for the streamed
# attention kernel, from its shader disk cache (run 1 found none: the cache directory did not exist, and the driver
# does not make it). From the project root, carrying .gpu/ and dist-node/: OUT=$OUT bash docs/h200/2026-12-05-d/plan-sass.sh
# Brings back $OUT/all.txt (each image's sections, registers, stack; cuobjdump -res-usage) and $OUT/sass.txt.
set -uo pipefail
source scripts/gpu-steps.sh
here=docs/h200/2026-12-05-d
export __GL_SHADER_DISK_CACHE=1 __GL_SHADER_DISK_CACHE_SKIP_CLEANUP=1 __GL_SHADER_DISK_CACHE_PATH=/tmp/nvcache
mkdir -p /tmp/nvcache
step attention-64k 240 bash .gpu/run.sh .gpu dist-node/attention.mjs --lengths 64k --grid 256
step cache 30 ls -laR /tmp/nvcache
# Where else a cache could be: the default directory, or any GLCache the driver made elsewhere.
step cache-elsewhere 60 bash -c 'ls -laR ~/.cache/nvidia 2>&1 | head -40; find / -xdev \( -path /proc -o -path /sys \) -prune -o -name GLCache -print 2>/dev/null | head'
step scan 60 python3 $here/scan-shader-cache.py --extract /tmp/elfs /tmp/nvcache ~/.cache/nvidia
# If no ELF shows: the first bytes of the largest entries say what the format is (compressed, or another container).
step cache-bytes 30 bash -c 'find /tmp/nvcache ~/.cache/nvidia -type f -printf "%s %p\n" 2>/dev/null | sort -rn | head -4 | while read s f; do echo "## $f ($s bytes)"; head -c 192 "$f" | od -A d -t x1z | head -14; done'
step res-usage 60 bash -c 'for f in /tmp/elfs/*.cubin; do echo "## $f"; cuobjdump -res-usage "$f" 2>&1 | head -20; done'
bash -c 'for f in /tmp/elfs/*.cubin; do echo "## $f"; nvdisasm -c "$f" 2>&1 || cuobjdump -sass "$f" 2>&1; done' > "$OUT/sass.txt" 2>&1
finish_steps
