# The PyTorch peer of bench/cuda-attention.ts: causal attention by F.scaled_dot_product_attention on bf16
# tensors (B, nh, T, hs) with the flash backend only, forward and forward + backward, timed by CUDA events. q, k, v
# require gradients in both timings, as in training (the forward then also records its autograd node).
# Usage: python3 bench/cuda_attention_torch.py <repeats> <B,T,nh,hs> ...   One JSON line per shape.
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from cuda_timing import time_ms  # bench/cuda_timing.py, beside this script

repeats = int(sys.argv[1])

for spec in sys.argv[2:]:
    B, T, nh, hs = (int(v) for v in spec.split(','))
    q, k, v = (torch.randn(B, nh, T, hs, device='cuda', dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    g = torch.randn(B, nh, T, hs, device='cuda', dtype=torch.bfloat16)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        fwd = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), repeats)

        def both():
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            torch.autograd.grad(out, (q, k, v), g)

        total = time_ms(both, repeats)
    print(json.dumps({'shape': spec, 'forward_ms': fwd, 'forward_backward_ms': total}), flush=True)
