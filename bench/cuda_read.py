# The CUDA side of bench/bandwidth.ts on the same GPU: how fast PyTorch's reductions read 1 GiB of f16 (on the H200
# cuDNN's attention, bench/cuda_sdpa.py, outreads them all at 512k). GB/s from CUDA events, median of
# 7 × 20 calls after a warm-up (cuda_sdpa.py's timing).
#   python3 bench/cuda_read.py
import torch

from cuda_sdpa import time_call

BYTES = 1 << 30


def gbps(call):
    return BYTES / (time_call(call, calls=20) * 1e-6) / 1e9


def main():
    print(f'device: {torch.cuda.get_device_name()}; torch {torch.__version__}')
    halves = torch.randn(BYTES // 2, device='cuda', dtype=torch.float16)
    words = halves.view(torch.int32)
    reads = {
        'sum of f16 (f32 accumulation)': lambda: halves.sum(dtype=torch.float32),
        'max of f16': lambda: halves.max(),
        'max of int32': lambda: words.max(),
        'sum of int32 as int64': lambda: words.sum(dtype=torch.int64),
    }
    print(f'reading {BYTES >> 20} MiB')
    for name, call in reads.items():
        print(f'{name:32s} {gbps(call):8.0f} GB/s')


if __name__ == '__main__':
    main()
