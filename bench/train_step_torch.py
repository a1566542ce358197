"""PyTorch twin of bitscale's Transformer++ training step, for side-by-side timing.

Same model as src/nn/transformer.ts: RMSNorm, SwiGLU, rotary embeddings, no biases, tied embeddings, AdamW with
global-norm clipping. Prints one JSON line: {"ms_per_step", "tokens_per_second", "threads", "torch"}.
Usage: python3 train_step_torch.py d_model n_layers n_heads context batch vocab steps threads
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

d, L, H, T, B, V, steps, threads = (int(x) for x in sys.argv[1:9])
torch.set_num_threads(threads)
torch.manual_seed(0)
hs = d // H
dff = math.ceil(8 * d / 3 / 8) * 8


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


inv_freq = 10000.0 ** (-torch.arange(0, hs // 2, dtype=torch.float32) * 2 / hs)
angles = torch.arange(T, dtype=torch.float32)[:, None] * inv_freq[None, :]  # (T, hs/2)
cos, sin = angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]


def rope(x):  # (B, T, nh, hs), rotating pairs (j, j + hs/2)
    x0, x1 = x[..., : hs // 2], x[..., hs // 2 :]
    return torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)


def param(*shape, std=0.02):
    return torch.nn.Parameter(torch.randn(*shape) * std)


params = {"emb": param(V, d), "norm": torch.nn.Parameter(torch.ones(d))}
for l in range(L):
    for name, shape, std in [
        ("wq", (d, d), 0.02), ("wk", (d, d), 0.02), ("wv", (d, d), 0.02),
        ("wo", (d, d), 0.02 / math.sqrt(2 * L)), ("w_gate", (dff, d), 0.02),
        ("w_up", (dff, d), 0.02), ("w_down", (d, dff), 0.02 / math.sqrt(2 * L)),
    ]:
        params[f"{l}.{name}"] = param(*shape, std=std)
    params[f"{l}.attn_norm"] = torch.nn.Parameter(torch.ones(d))
    params[f"{l}.mlp_norm"] = torch.nn.Parameter(torch.ones(d))
mask = torch.full((T, T), float("-inf")).triu(1)


def loss_fn(tokens, targets):
    x = params["emb"][tokens]
    for l in range(L):
        p = lambda n: params[f"{l}.{n}"]
        h = rms_norm(x, p("attn_norm"))
        q = rope((h @ p("wq").T).view(B, T, H, hs)).transpose(1, 2)
        k = rope((h @ p("wk").T).view(B, T, H, hs)).transpose(1, 2)
        v = (h @ p("wv").T).view(B, T, H, hs).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hs) + mask, dim=-1)
        a = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + a @ p("wo").T
        m = rms_norm(x, p("mlp_norm"))
        x = x + (F.silu(m @ p("w_gate").T) * (m @ p("w_up").T)) @ p("w_down").T
    logits = rms_norm(x, params["norm"]) @ params["emb"].T
    return F.cross_entropy(logits.view(-1, V), targets.view(-1))


decay = [p for n, p in params.items() if p.dim() >= 2]
no_decay = [p for n, p in params.items() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))
tokens = torch.randint(0, V, (B, T))
targets = torch.randint(0, V, (B, T))


def step():
    loss = loss_fn(tokens, targets)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
    opt.step()
    return loss.item()


for _ in range(3):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
ms = (time.perf_counter() - start) / steps * 1000
print(json.dumps({"ms_per_step": ms, "tokens_per_second": B * T / ms * 1000, "threads": torch.get_num_threads(), "torch": torch.__version__}))
