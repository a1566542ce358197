"""transformers' side of bench/hf-load.ts: load a local Hugging Face folder with from_pretrained into fp32 CPU
memory (what bitscale's loader produces), and report the wall time and the process's peak resident memory.
Prints one JSON line: {"seconds", "peak_rss_bytes", "parameters", "transformers", "torch"}.
Usage: python3 hf_load_transformers.py <model-dir>
"""
import json
import resource
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

path = sys.argv[1]
start = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32, device_map="cpu")
seconds = time.perf_counter() - start
parameters = sum(p.numel() for p in model.parameters())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
print(json.dumps({
    "seconds": seconds,
    "peak_rss_bytes": peak,
    "parameters": parameters,
    "transformers": transformers.__version__,
    "torch": torch.__version__,
}))
