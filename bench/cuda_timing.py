# Shared by the CUDA peers (bench/cuda_*_torch.py): milliseconds per call of fn, by CUDA events over `repeats`
# calls after 3 warm-up calls.
import torch


def time_ms(fn, repeats):
    for _ in range(3):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    stop.record()
    torch.cuda.synchronize()
    return start.elapsed_time(stop) / repeats
