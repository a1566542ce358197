# The PyTorch peer of bench/cuda-matmul.ts: ms per product of bf16 operands (fp32 accumulation), output bf16
# (what autocast gives) and, where this torch has it, fp32 (bitscale's output type), timed by CUDA events; and
# torch._scaled_mm of E4M3 operands already cast (per-tensor scales, fp32 output, the TN layout FP8 needs), where
# this torch and GPU have it: the FP8 product alone.
# Usage: python3 bench/cuda_matmul_torch.py <repeats> <m,n,k,transA,transB> ...   One JSON line per shape.
import json
import sys

import torch

from cuda_timing import time_ms  # bench/cuda_timing.py, beside this script

repeats = int(sys.argv[1])
torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False

for spec in sys.argv[2:]:
    m, n, k, ta, tb = (int(v) for v in spec.split(','))
    a = torch.randn((k, m) if ta else (m, k), device='cuda', dtype=torch.bfloat16)
    b = torch.randn((n, k) if tb else (k, n), device='cuda', dtype=torch.bfloat16)
    A = a.t() if ta else a
    B = b.t() if tb else b
    row = {'shape': spec, 'bf16_out_ms': time_ms(lambda: torch.mm(A, B), repeats)}
    try:
        row['fp32_out_ms'] = time_ms(lambda: torch.mm(A, B, out_dtype=torch.float32), repeats)
    except Exception as e:  # an older torch without out_dtype
        row['fp32_out_ms'] = None
        row['fp32_out_unavailable'] = str(e).split('\n')[0]
    try:
        a8 = torch.randn((m, k), device='cuda').to(torch.float8_e4m3fn)
        b8 = torch.randn((n, k), device='cuda').to(torch.float8_e4m3fn)
        one = torch.ones((), device='cuda')
        row['fp8_ms'] = time_ms(lambda: torch._scaled_mm(a8, b8.t(), one, one, out_dtype=torch.float32), repeats)
    except Exception as e:  # no FP8 here
        row['fp8_ms'] = None
        row['fp8_unavailable'] = str(e).split('\n')[0]
    print(json.dumps(row), flush=True)
