"""Dawn's dump_shaders log (each shader's WGSL, then its SPIR-V disassembly, each block after a line "info:") cut
into one .spvasm file per distinct shader, named by the first line of its WGSL, for spirv-as and pipeline-stats.
The execution mode MaximallyReconvergesKHR, which Tint emits for NVIDIA, is written as its number (!6023): Debian 12's
SPIRV-Tools (2023.1) does not know its name, and every spirv-as reads the number.

    python3 docs/h200/2026-12-05-e/split-shader-dump.py LOG OUT_DIR
"""
import os
import re
import sys


def blocks(text):
    """The log's "info:" blocks as (kind, body): kind 'wgsl' or 'spirv'."""
    for block in re.split(r'^info:\n', text, flags=re.M):
        if block.startswith('// Dumped WGSL:'):
            yield 'wgsl', block.split('\n', 1)[1]
        elif block.startswith('/* Dumped SPIRV disassembly */'):
            # The disassembly ends where the program's own output goes on (a line not indented SPIR-V).
            lines = block.split('\n')[1:]
            body = []
            for line in lines:
                if line and not (line.startswith(' ') or line.startswith('%') or line.startswith(';')):
                    break
                body.append(line)
            yield 'spirv', re.sub(r' MaximallyReconvergesKHR$', ' !6023', '\n'.join(body), flags=re.M) + '\n'


def main():
    log, out_dir = sys.argv[1:3]
    os.makedirs(out_dir, exist_ok=True)
    with open(log, encoding='utf-8', errors='replace') as f:
        text = f.read()
    seen = set()
    wgsl = ''
    for kind, body in blocks(text):
        if kind == 'wgsl':
            wgsl = body
            continue
        if body in seen:
            continue
        seen.add(body)
        first = next((line for line in wgsl.split('\n') if line.strip()), 'unnamed')
        slug = re.sub(r'[^a-z0-9]+', '-', first.lower().lstrip('/ '))[:40].strip('-')
        name = os.path.join(out_dir, f'{len(seen):02d}-{slug}')
        with open(name + '.spvasm', 'w') as f:
            f.write(body)
        with open(name + '.wgsl', 'w') as f:
            f.write(wgsl)
        print(f'{name}.spvasm: {body.count(chr(10))} lines; WGSL: {first[:100]}')


main()
