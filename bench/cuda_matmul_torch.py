# The PyTorch peer of bench/cuda-matmul.ts: ms per product of bf16 operands (fp32 accumulation), output bf16
# (what autocast gives) and, where this torch has it, fp32 (bitscale's output type), timed by CUDA events.
# Usage: python3 bench/cuda_matmul_torch.py <repeats> <m,n,k,transA,transB> ...   One JSON line per shape.
import json
import sys

import torch

repeats = int(sys.argv[1])
torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False


def time_ms(fn):
    for _ in range(3):
        fn()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    stop.record()
    torch.cuda.synchronize()
    return start.elapsed_time(stop) / repeats


for spec in sys.argv[2:]:
    m, n, k, ta, tb = (int(v) for v in spec.split(','))
    a = torch.randn((k, m) if ta else (m, k), device='cuda', dtype=torch.bfloat16)
    b = torch.randn((n, k) if tb else (k, n), device='cuda', dtype=torch.bfloat16)
    A = a.t() if ta else a
    B = b.t() if tb else b
    row = {'shape': spec, 'bf16_out_ms': time_ms(lambda: torch.mm(A, B))}
    try:
        row['fp32_out_ms'] = time_ms(lambda: torch.mm(A, B, out_dtype=torch.float32))
    except Exception as e:  # an older torch without out_dtype
        row['fp32_out_ms'] = None
        row['fp32_out_unavailable'] = str(e).split('\n')[0]
    print(json.dumps(row), flush=True)
