# The CUDA reference for bench:attention on the same GPU: PyTorch's scaled_dot_product_attention for one decode
# step, B=1, 32 query heads over 8 KV heads (GQA), head dim 128, f16, with the cuDNN and FLASH backends.
#   python3 bench/cuda_sdpa.py        prints a table of µs per call for each backend, three ways:
#   - launched: CUDA events around 50 calls launched from Python (median of 7); where a call launches slower than it
#     runs (PyTorch's host time, up to ~16k tokens on the H200), this is the host's time, not the GPU's;
#   - graph: 50 calls captured in one CUDA graph and replayed: the GPU's time for calls back to back (short contexts
#     read what the call before left in the L2), as bench:attention's back-to-back column;
#   - among others: one graph of 8 × (a 128 MiB read that evicts the caches, then a call) less the same graph without
#     the calls, per call, the two replayed taking turns and the median of each pair's difference taken: what a
#     layer's attention costs in a model's step, as bench:attention's column of that name (measureAmongOthers).
import statistics

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

LENGTHS = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10]
BACKENDS = {'cuDNN': SDPBackend.CUDNN_ATTENTION, 'FLASH': SDPBackend.FLASH_ATTENTION}
BACK_TO_BACK_CALLS = 50
CALLS_AMONG_OTHERS = 8
EVICTION_BYTES = 128 << 20
ROUNDS = 21
# How long the GPU is kept busy before timing (bench:attention's WARM_UP_MS): an idle GPU drops its clocks.
WARM_UP_MS = 50


def time_launched(call, calls=BACK_TO_BACK_CALLS, rounds=7):
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


def capture(work):
    """`work` captured in a CUDA graph, after warm-up runs on a side stream (as torch.cuda.graph asks)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            work()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        work()
    return graph


def replay_times(graphs):
    """µs of each replay, by graph: ROUNDS replays of each, taking turns, enqueued together after a warm-up."""
    start = torch.cuda.Event(enable_timing=True)
    start.record()
    while True:
        for graph in graphs:
            graph.replay()
        end = torch.cuda.Event(enable_timing=True)
        end.record()
        end.synchronize()
        if start.elapsed_time(end) >= WARM_UP_MS:
            break
    marks = []
    for _ in range(ROUNDS):
        for index, graph in enumerate(graphs):
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            graph.replay()
            end.record()
            marks.append((index, begin, end))
    torch.cuda.synchronize()
    times = [[] for _ in graphs]
    for index, begin, end in marks:
        times[index].append(begin.elapsed_time(end) * 1000)
    return times


def time_graph(call):
    def calls():
        for _ in range(BACK_TO_BACK_CALLS):
            call()

    (times,) = replay_times([capture(calls)])
    return statistics.median(times) / BACK_TO_BACK_CALLS


def time_among_others(call, evict):
    def run(with_calls):
        def work():
            for _ in range(CALLS_AMONG_OTHERS):
                evict()
                if with_calls:
                    call()

        return work

    with_calls, without = replay_times([capture(run(True)), capture(run(False))])
    return statistics.median(a - b for a, b in zip(with_calls, without)) / CALLS_AMONG_OTHERS


def print_table(timings):
    """One row per context length: each backend timed each of `timings`' ways (a cell that fails says n/a and why)."""
    print(f"{'N':>6}  " + '  '.join(f'{f"{name} {column}":>20}' for name in BACKENDS for column in timings))
    for n in LENGTHS:
        q = torch.randn(1, 32, 1, 128, device='cuda', dtype=torch.float16)
        k = torch.randn(1, 8, n, 128, device='cuda', dtype=torch.float16)
        v = torch.randn(1, 8, n, 128, device='cuda', dtype=torch.float16)
        cells = []
        for name, backend in BACKENDS.items():
            for column, timing in timings.items():
                try:
                    with sdpa_kernel(backend):
                        us = timing(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True))
                    cells.append(f'{us:20.1f}')
                except RuntimeError as error:
                    cells.append(f"{'n/a':>20}")
                    print(f'  {n} {name} {column}: {error}'.splitlines()[0])
        print(f'{n >> 10:>5}k  ' + '  '.join(cells))
        del q, k, v
        torch.cuda.empty_cache()


def main():
    print(f'device: {torch.cuda.get_device_name()}; torch {torch.__version__}')
    # Launched calls first, as this script timed them before the graphs: a capture that fails cannot take them along.
    print_table({'launched': time_launched})
    eviction = torch.ones(EVICTION_BYTES // 2, device='cuda', dtype=torch.float16)
    print_table({'graph': time_graph, 'among others': lambda call: time_among_others(call, eviction.sum)})
    print(f'launched: {BACK_TO_BACK_CALLS} calls from Python (to ~16k tokens the host\'s launch time, not the GPU\'s); '
          f'graph: {BACK_TO_BACK_CALLS} calls replayed from a CUDA graph, back to back;')
    print(f'among others: each call after a {EVICTION_BYTES >> 20} MiB read that evicts the caches, less those reads, '
          'from CUDA graphs taking turns')


if __name__ == '__main__':
    main()
