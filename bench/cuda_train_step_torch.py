"""PyTorch twin of bitscale's Transformer++ training step on a GPU, eager and torch.compile, bf16 autocast.

Same model as src/nn/transformer.ts and bench/train_step_torch.py: RMSNorm, SwiGLU, rotary embeddings, no biases,
tied embeddings, AdamW with global-norm clipping; fp32 master weights, bf16 matmuls (autocast). QAT mirrors
src/nn/precision.ts: int4 weights (symmetric absmax per output row), int8 activations (per tensor, the inputs
of every linear layer), int4 K and V (per head row), each a straight-through fake quantization with the
clipped-gradient mask. FP8 (qat=2) mirrors src/tensor/ops/fp8.ts: every linear is torch._scaled_mm on E4M3 weights
and inputs with per-tensor current scaling (amax / 448), the backward E5M2 output gradients times the E4M3 operands
(bf16 backward where this torch cannot multiply E5M2 x E4M3, said in the output). Attention is
F.scaled_dot_product_attention (flash) as a fast peer would use.
Prints one JSON line per mode: {"mode", "ms_per_step", "tokens_per_second", "max_memory_allocated",
"max_memory_reserved"}; out of memory anywhere prints {"mode", "oom": true, "message"} per mode (exit 0) in place
of a traceback. --memory-limit BYTES caps the caching allocator (set_per_process_memory_fraction(limit / total),
its reserved bytes, as BITSCALE_CUDA_MEMORY_LIMIT caps bitscale's) to emulate a smaller card; --warmup N steps
before the timed ones (default 3); --profile N: after the timed steps, N more under torch.profiler, and one more JSON
line per mode, {"mode", "profile"}: the GPU time a step of each kind of kernel (products, attention, the fused
Triton kernels, ...) and of the kernels that took the most, the peer's side of bitscale's BITSCALE_CUDA_PROFILE=gpu.
Usage: python3 cuda_train_step_torch.py d_model n_layers n_heads context batch vocab steps qat(0|1|2=fp8) modes(eager,compile)
       [--memory-limit BYTES] [--warmup N] [--profile N]
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F


def option(name, default):
    """Takes `--name value` out of sys.argv; the value as an int, else default."""
    if name not in sys.argv:
        return default
    i = sys.argv.index(name)
    value = sys.argv[i + 1]
    del sys.argv[i : i + 2]
    return int(float(value))


memory_limit = option("--memory-limit", None)
warmup = option("--warmup", 3)
profile_steps = option("--profile", 0)
d, L, H, T, B, V, steps, qat = (int(x) for x in sys.argv[1:9])
modes = sys.argv[9].split(",") if len(sys.argv) > 9 else ["eager", "compile"]
dev = "cuda"


reported = set()  # the modes that printed their line


def out_of_memory(kind, e, tb):
    """One result line per mode not yet reported instead of a traceback when the card (or the cap) runs out."""
    # cuBLAS and cuDNN report their own allocation failures as plain RuntimeErrors.
    oom = issubclass(kind, torch.cuda.OutOfMemoryError) or (
        issubclass(kind, RuntimeError) and ("out of memory" in str(e) or "ALLOC_FAILED" in str(e))
    )
    if not oom:
        return sys.__excepthook__(kind, e, tb)
    for mode in modes:
        if mode not in reported:
            print(json.dumps({"mode": mode, "qat": qat, "oom": True, "memory_limit": memory_limit, "message": str(e).splitlines()[0]}), flush=True)
    sys.stdout.flush()
    os._exit(0)  # an out-of-memory is a result, not a failure


sys.excepthook = out_of_memory
if memory_limit is not None:
    total = torch.cuda.get_device_properties(0).total_memory
    if not 0 < memory_limit <= total:
        sys.exit(f"--memory-limit {memory_limit}: expected bytes in (0, {total}], the memory of {torch.cuda.get_device_name()}")
    torch.cuda.set_per_process_memory_fraction(memory_limit / total)
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
    return FakeQuant.apply(x, bits, per_row) if qat == 1 else x


E4M3, E5M2 = getattr(torch, "float8_e4m3fn", None), getattr(torch, "float8_e5m2", None)


def to_fp8(x, dtype, fmax):
    """Per-tensor current scaling on the device: codes of x / s, s = amax / fmax (1 where amax is 0)."""
    amax = x.detach().abs().amax().float()
    scale = torch.where(amax > 0, amax / fmax, torch.ones_like(amax))
    return (x.float() / scale).clamp(-fmax, fmax).to(dtype), scale


def scaled_mm(a, b, sa, sb):
    """a (m, k) row-major @ b (k, n), b given column-major (b = bt.t() of a contiguous bt), fp32 accumulate."""
    return torch._scaled_mm(a, b, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)


BWD_FP8 = True  # decided by a probe below


class Fp8Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        xq, sx = to_fp8(x2, E4M3, 448.0)
        wq, sw = to_fp8(w, E4M3, 448.0)
        ctx.save_for_backward(xq, sx, wq, sw)
        ctx.shape, ctx.dtype = shape, x.dtype
        return scaled_mm(xq, wq.t(), sx, sw).reshape(*shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, g):
        xq, sx, wq, sw = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        if BWD_FP8:
            gq, sg = to_fp8(g2, E5M2, 57344.0)
            gx = scaled_mm(gq, wq.t().contiguous().t(), sg, sw)  # (m, n) @ (n, k)
            gw = scaled_mm(gq.t().contiguous(), xq.t().contiguous().t(), sg, sx)  # (n, m) @ (m, k)
        else:
            gb = g2.to(torch.bfloat16)
            gx = gb @ (wq.to(torch.bfloat16) * sw.to(torch.bfloat16))
            gw = gb.t() @ (xq.to(torch.bfloat16) * sx.to(torch.bfloat16))
        return gx.reshape(ctx.shape).to(ctx.dtype), gw.float()  # fp32 master weights


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
    if qat == 2:
        return Fp8Linear.apply(x, w)
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

if qat == 2:
    why = None
    if E4M3 is None or not hasattr(torch, "_scaled_mm"):
        why = f"torch {torch.__version__} has no float8 types or torch._scaled_mm"
    elif torch.cuda.get_device_capability() < (8, 9):
        why = f"{torch.cuda.get_device_name()} has compute capability {torch.cuda.get_device_capability()}, FP8 needs 8.9"
    else:
        a = torch.randn(64, 64, device=dev)
        one = torch.ones((), device=dev)
        try:
            scaled_mm(a.to(E4M3), a.to(E4M3).t(), one, one)
        except RuntimeError as e:
            why = f"torch._scaled_mm failed: {str(e).splitlines()[0]}"
        try:
            scaled_mm(a.to(E5M2), a.to(E4M3).t(), one, one)
        except RuntimeError:
            BWD_FP8 = False
    if why:
        for mode in modes:
            print(json.dumps({"mode": mode, "qat": qat, "unavailable": why}), flush=True)
        sys.exit(0)

KINDS = [  # (kind, substrings of the kernel name), first match wins
    ("attention", ("flash", "fmha", "attention", "sdpa")),
    ("products", ("gemm", "nvjet", "xmma", "cutlass", "cublas", "sm90_", "sm80_")),
    ("triton (fused)", ("triton",)),
    ("optimizer", ("adam", "multi_tensor", "foreach")),
    ("reductions", ("reduce",)),
    ("elementwise", ("elementwise", "vectorized", "unrolled")),
    ("copies", ("copy", "memcpy", "memset", "cat")),
]


def kernel_profile(step, n):
    """GPU ms a step per kind of kernel and per kernel (top 25), from n profiled steps."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            step()
        torch.cuda.synchronize()
    per_kernel = {}  # name -> [ms, calls] over the n steps
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:  # kernels, copies and memsets on the device
            entry = per_kernel.setdefault(e.name, [0.0, 0])
            entry[0] += e.time_range.elapsed_us() / 1000
            entry[1] += 1
    per_kernel = {k: (ms / n, calls // n) for k, (ms, calls) in per_kernel.items()}
    kinds = {}
    for name, (ms, _) in per_kernel.items():
        low = name.lower()
        kind = next((k for k, subs in KINDS if any(s in low for s in subs)), "other")
        kinds[kind] = kinds.get(kind, 0) + ms
    top = sorted(per_kernel.items(), key=lambda kv: -kv[1][0])[:25]
    return {
        "steps": n,
        "total_ms": sum(ms for ms, _ in per_kernel.values()),
        "kinds_ms": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
        "top": [{"kernel": k[:120], "ms": ms, "calls": c} for k, (ms, c) in top],
    }


for mode in modes:
    fn = torch.compile(loss_fn) if mode == "compile" else loss_fn

    def step():
        loss = fn(tokens, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        opt.step()
        return loss

    torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - start) / steps * 1000
    memory = {"max_memory_allocated": torch.cuda.max_memory_allocated(), "max_memory_reserved": torch.cuda.max_memory_reserved(), "memory_limit": memory_limit}
    print(json.dumps({"mode": mode, "qat": qat, "fp8_backward": ("e5m2" if BWD_FP8 else "bf16") if qat == 2 else None, "ms_per_step": ms, "tokens_per_second": B * T / ms * 1000, "torch": torch.__version__, **memory}), flush=True)
    reported.add(mode)
    if profile_steps:
        print(json.dumps({"mode": mode, "qat": qat, "profile": kernel_profile(step, profile_steps)}), flush=True)
