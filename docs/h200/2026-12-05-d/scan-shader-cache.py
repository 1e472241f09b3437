"""What NVIDIA's driver cached of the pipelines Dawn built: ELF images in its shader cache, with each section's size
(SASS is 16 bytes an instruction) and the registers and stack each function's .nv.info declares. The driver stores
its entries zstd-compressed (a "CDVN" header, then frames; run 2 of 2026-12-05-e saw it), so each zstd frame is
opened with the `zstd` command and searched too. Those ELF images turned out to hold no code (876 bytes each); the
machine code is in the entries that begin "NVDANVVMNVuc": a header whose u32 at byte 76 is the code's size (the
Binary Size that VK_KHR_pipeline_executable_properties reports) and whose u32 at byte 80, plus 8, is where the code
starts, as raw SM90 instructions that `nvdisasm -b SM90` reads. CUDA 11.8's does, on a machine without a GPU: with
Debian's non-free component in the apt sources, `apt-get download nvidia-cuda-toolkit`, then `dpkg -x` the package
into a folder and pass its usr/bin/nvdisasm.

    python3 docs/h200/2026-12-05-d/scan-shader-cache.py [--extract DIR] [--sass DIR [--nvdisasm PATH]] [CACHE_DIR ...]
    (default CACHE_DIR: ~/.cache/nvidia)

--extract writes each ELF image to DIR/N.cubin; --sass writes each entry's code to DIR/N.sass and, with nvdisasm,
its disassembly to DIR/N.txt, and prints its instruction count, highest register and loops (backward branches).
"""
import os
import re
import struct
import subprocess
import sys

ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'

# .nv.info attributes worth naming (cuobjdump's EIATTR_* codes).
ATTRIBUTES = {0x2F: 'REGCOUNT', 0x23: 'MAX_STACK_SIZE', 0x11: 'FRAME_SIZE', 0x12: 'MIN_STACK_SIZE', 0x1B: 'MAXREG_COUNT'}


def image_size(image):
    """Bytes of the ELF image at the start of `image`: to the end of its section headers or last section."""
    shoff, = struct.unpack_from('<Q', image, 0x28)
    shentsize, shnum = struct.unpack_from('<HH', image, 0x3A)
    end = shoff + shentsize * shnum
    for _, offset, size in sections(image):
        end = max(end, offset + size)
    return end


def sections(image):
    """(name, offset, size) of each section of a 64-bit little-endian ELF image, or [] if it is not one."""
    if image[:4] != b'\x7fELF' or image[4] != 2 or len(image) < 64:
        return []
    shoff, = struct.unpack_from('<Q', image, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', image, 0x3A)
    if shoff == 0 or shoff + shnum * shentsize > len(image):
        return []
    headers = [struct.unpack_from('<IIQQQQIIQQ', image, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4] if shstrndx < shnum else 0
    result = []
    for h in headers:
        name_end = image.find(b'\0', names_at + h[0])
        result.append((image[names_at + h[0]:name_end].decode('latin1'), h[4], h[5]))
    return result


def nv_info(data):
    """(attribute, values) of an .nv.info section: entries of format u8, attribute u8, then a u16 size and that many
    bytes (format 4), or a u16 value (format 3)."""
    at = 0
    while at + 4 <= len(data):
        fmt, attribute = data[at], data[at + 1]
        if fmt == 4:
            size, = struct.unpack_from('<H', data, at + 2)
            payload = data[at + 4:at + 4 + size]
            yield ATTRIBUTES.get(attribute, hex(attribute)), struct.unpack_from('<%dI' % (len(payload) // 4), payload)
            at += 4 + size
        elif fmt in (1, 2, 3):
            yield ATTRIBUTES.get(attribute, hex(attribute)), struct.unpack_from('<H', data, at + 2)
            at += 4
        else:
            return


def zstd_frames(blob):
    """The decompressed contents of each zstd frame in `blob` (the command stops at the frame's end; what follows it
    only makes it complain)."""
    start = blob.find(ZSTD_MAGIC)
    while start >= 0:
        run = subprocess.run(['zstd', '-dcq'], input=blob[start:], capture_output=True)
        if run.stdout:
            yield start, run.stdout
        start = blob.find(ZSTD_MAGIC, start + 4)


def scan(path, extract, sass):
    with open(path, 'rb') as f:
        blob = f.read()
    found = scan_blob(path, blob, extract)
    for offset, contents in zstd_frames(blob):
        print(f'{path} @ {offset}: zstd frame, {len(contents)} bytes decompressed')
        found += scan_blob(f'{path} @ {offset} (decompressed)', contents, extract)
        if sass and contents.startswith(b'NVDANVVMNVuc'):
            write_sass(contents, sass)
    return found


def write_sass(entry, sass):
    """The entry's code to DIR/N.sass; disassembled and summed up where nvdisasm is at hand."""
    size, header_end = struct.unpack_from('<II', entry, 76)
    start = header_end + 8
    base = os.path.join(sass['dir'], str(len([n for n in os.listdir(sass['dir']) if n.endswith('.sass')])))
    with open(base + '.sass', 'wb') as f:
        f.write(entry[start:start + size])
    print(f'  machine code: {size} bytes = {size // 16} instructions, written to {base}.sass')
    if not sass['nvdisasm']:
        return
    listing = subprocess.run([sass['nvdisasm'], '-b', 'SM90', base + '.sass'], capture_output=True, text=True).stdout
    with open(base + '.txt', 'w') as f:
        f.write(listing)
    lines = [line for line in listing.split('\n') if line.strip().startswith('/*') and '*/' in line]
    registers = [int(r) for line in lines for r in re.findall(r'\bR(\d+)\b', line)]
    print(f'  {base}.txt: highest register R{max(registers, default=-1)}')
    for line in lines:
        branch = re.search(r'BRA (0x[0-9a-f]+)', line)
        address = int(line.split('*/')[0].strip(' /*'), 16)
        if branch and int(branch.group(1), 16) < address:
            first = int(branch.group(1), 16) // 16
            print(f'    loop {branch.group(1)}..{address:#x}: {address // 16 - first + 1} instructions')


def scan_blob(path, blob, extract):
    start = blob.find(b'\x7fELF')
    found = 0
    while start >= 0:
        image = blob[start:]
        listed = sections(image)
        if listed:
            found += 1
            print(f'{path} @ {start}: ELF, {len(listed)} sections')
            if extract:
                name = os.path.join(extract, f'{len(os.listdir(extract))}.cubin')
                with open(name, 'wb') as f:
                    f.write(image[:image_size(image)])
                print(f'  written to {name}')
            for name, offset, size in listed:
                if name.startswith('.text'):
                    print(f'  {name}: {size} bytes = {size // 16} instructions')
                elif name.startswith('.nv.info') and size:
                    info = ', '.join(f'{a}={v}' for a, v in nv_info(image[offset:offset + size]) if a in ATTRIBUTES.values())
                    print(f'  {name}: {info}')
                elif name.startswith('.nv.shared') or name.startswith('.nv.local') or name.startswith('.nv.constant'):
                    print(f'  {name}: {size} bytes')
        start = blob.find(b'\x7fELF', start + 4)
    return found


def main():
    args = sys.argv[1:]
    extract = sass = None
    if args[:1] == ['--extract']:
        extract = args[1]
        os.makedirs(extract, exist_ok=True)
        args = args[2:]
    if args[:1] == ['--sass']:
        sass = {'dir': args[1], 'nvdisasm': None}
        os.makedirs(sass['dir'], exist_ok=True)
        args = args[2:]
        if args[:1] == ['--nvdisasm']:
            sass['nvdisasm'] = args[1]
            args = args[2:]
    roots = args or [os.path.expanduser('~/.cache/nvidia')]
    files = images = 0
    for root in roots:
        for directory, _, names in os.walk(root):
            for name in names:
                path = os.path.join(directory, name)
                files += 1
                images += scan(path, extract, sass)
    print(f'{files} cache files, {images} ELF images')


main()
