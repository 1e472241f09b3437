# The CUDA side of bench/bandwidth.ts on the same GPU: how fast PyTorch's reductions read 1 GiB of f16, the CUDA
# read ceiling that cuDNN's attention (bench/cuda_sdpa.py) is bounded by. GB/s from CUDA events, median of 7 × 20
# calls after a warm-up.
#   python3 bench/cuda_read.py
import statistics

import torch

BYTES = 1 << 30


def gbps(call, calls=20, rounds=7):
    for _ in range(5):
        call()
    torch.cuda.synchronize()
    samples = []
    for _ in range(rounds):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            call()
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end) / 1000 / calls)
    return BYTES / statistics.median(samples) / 1e9


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
