"""PyTorch twin of bitscale's Transformer++ training step on a GPU, eager and torch.compile, bf16 autocast.

Same model as src/nn/transformer.ts and bench/train_step_torch.py: RMSNorm, SwiGLU, rotary embeddings, no biases,
tied embeddings, AdamW with global-norm clipping; fp32 master weights, bf16 matmuls (autocast). QAT mirrors
src/nn/precision.ts: int4 weights (symmetric absmax per output row), int8 activations (per tensor, the inputs
of every linear layer), int4 K and V (per head row), each a straight-through fake quantization with the
clipped-gradient mask. Attention is F.scaled_dot_product_attention (flash) as a fast peer would use.
Prints one JSON line per mode: {"mode", "ms_per_step", "tokens_per_second"}.
Usage: python3 cuda_train_step_torch.py d_model n_layers n_heads context batch vocab steps qat(0|1) modes(eager,compile)
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

d, L, H, T, B, V, steps, qat = (int(x) for x in sys.argv[1:9])
modes = sys.argv[9].split(",") if len(sys.argv) > 9 else ["eager", "compile"]
dev = "cuda"
torch.manual_seed(0)
hs = d // H
dff = math.ceil(8 * d / 3 / 8) * 8


class FakeQuant(torch.autograd.Function):
    """Symmetric absmax fake quantization to `bits` over groups along `dim` (None: per tensor)."""

    @staticmethod
    def forward(ctx, x, bits, per_row):
        qmax = 2 ** (bits - 1) - 1
        amax = x.abs().amax(dim=-1, keepdim=True) if per_row else x.abs().amax()
        scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
        v = x / scale
        ctx.save_for_backward((v.abs() <= qmax))
        return torch.round(v.clamp(-qmax, qmax)) * scale

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None, None


def fq(x, bits, per_row):
    return FakeQuant.apply(x, bits, per_row) if qat else x


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


inv_freq = 10000.0 ** (-torch.arange(0, hs // 2, dtype=torch.float32, device=dev) * 2 / hs)
angles = torch.arange(T, dtype=torch.float32, device=dev)[:, None] * inv_freq[None, :]
cos, sin = angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]


def rope(x):  # (B, T, nh, hs), rotating pairs (j, j + hs/2)
    x0, x1 = x[..., : hs // 2], x[..., hs // 2 :]
    return torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)


def param(*shape, std=0.02):
    return torch.nn.Parameter(torch.randn(*shape, device=dev) * std)


params = {"emb": param(V, d), "norm": torch.nn.Parameter(torch.ones(d, device=dev))}
for l in range(L):
    for name, shape, std in [
        ("wq", (d, d), 0.02), ("wk", (d, d), 0.02), ("wv", (d, d), 0.02),
        ("wo", (d, d), 0.02 / math.sqrt(2 * L)), ("w_gate", (dff, d), 0.02),
        ("w_up", (dff, d), 0.02), ("w_down", (d, dff), 0.02 / math.sqrt(2 * L)),
    ]:
        params[f"{l}.{name}"] = param(*shape, std=std)
    params[f"{l}.attn_norm"] = torch.nn.Parameter(torch.ones(d, device=dev))
    params[f"{l}.mlp_norm"] = torch.nn.Parameter(torch.ones(d, device=dev))


def lin(x, w):
    return x @ fq(w, 4, True).T


def loss_fn(tokens, targets):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        x = params["emb"][tokens]
        for l in range(L):
            p = lambda n: params[f"{l}.{n}"]
            h = fq(rms_norm(x, p("attn_norm")), 8, False)
            q = rope(lin(h, p("wq")).view(B, T, H, hs)).transpose(1, 2)
            k = fq(rope(lin(h, p("wk")).view(B, T, H, hs)), 4, True).transpose(1, 2)
            v = fq(lin(h, p("wv")).view(B, T, H, hs), 4, True).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, d)
            x = x + lin(fq(a, 8, False), p("wo"))
            m = fq(rms_norm(x, p("mlp_norm")), 8, False)
            x = x + lin(fq(F.silu(lin(m, p("w_gate"))) * lin(m, p("w_up")), 8, False), p("w_down"))
        logits = rms_norm(x, params["norm"]) @ params["emb"].T
        return F.cross_entropy(logits.view(-1, V).float(), targets.view(-1))


decay = [p for n, p in params.items() if p.dim() >= 2]
no_decay = [p for n, p in params.items() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95), fused=True)
tokens = torch.randint(0, V, (B, T), device=dev)
targets = torch.randint(0, V, (B, T), device=dev)

for mode in modes:
    fn = torch.compile(loss_fn) if mode == "compile" else loss_fn

    def step():
        loss = fn(tokens, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        opt.step()
        return loss

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - start) / steps * 1000
    print(json.dumps({"mode": mode, "qat": bool(qat), "ms_per_step": ms, "tokens_per_second": B * T / ms * 1000, "torch": torch.__version__}), flush=True)
