# The CUDA reference for bench:attention on the same GPU: PyTorch's scaled_dot_product_attention for one decode
# step, B=1, 32 query heads over 8 KV heads (GQA), head dim 128, f16, with the cuDNN and FLASH backends.
#   python3 bench/cuda_sdpa.py        prints a table of µs per call (CUDA events, median of 7 × 50 calls)
import statistics

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

LENGTHS = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10]
BACKENDS = {'cuDNN': SDPBackend.CUDNN_ATTENTION, 'FLASH': SDPBackend.FLASH_ATTENTION}


def time_call(call, calls=50, rounds=7):
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
        samples.append(start.elapsed_time(end) * 1000 / calls)
    return statistics.median(samples)


def main():
    print(f'device: {torch.cuda.get_device_name()}; torch {torch.__version__}')
    print(f"{'N':>6}  " + '  '.join(f'{name:>10}' for name in BACKENDS))
    for n in LENGTHS:
        q = torch.randn(1, 32, 1, 128, device='cuda', dtype=torch.float16)
        k = torch.randn(1, 8, n, 128, device='cuda', dtype=torch.float16)
        v = torch.randn(1, 8, n, 128, device='cuda', dtype=torch.float16)
        cells = []
        for backend in BACKENDS.values():
            try:
                with sdpa_kernel(backend):
                    cells.append(f'{time_call(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True)):10.1f}')
            except RuntimeError as error:
                cells.append(f"{'n/a':>10}")
                print(f'  {n}: {error}'.splitlines()[0])
        print(f'{n >> 10:>5}k  ' + '  '.join(cells))


if __name__ == '__main__':
    main()
