#!/usr/bin/env bash
# On a GPU host, after `source .device/activate.sh; . scripts/gpu-host/unpack.sh`: what CI cannot check, in
# order of importance, each step's log written to $1 (default $OUT) and packed with bench/results into
# $1/checks.tar.xz as soon as it ends, so that a run cut short still returns what finished. Steps: build the CUDA addon; every CUDA test and the op suite on the GPU
# (scripts/test-cuda.mjs, recorded in bench/results/cuda-tests.json); the packed OneBit GEMV against cuBLASLt bf16;
# loading a 1B-shaped HF checkpoint against transformers; the outlier statistics' step-time cost on cuda.
set -uo pipefail
out=${1:-${OUT:?give an output folder}}
mkdir -p "$out"
step() { # name, timeout (s), command...
  local name=$1 limit=$2
  shift 2
  local started=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "gpu-host/checks: $name rc=$rc in $((SECONDS - started)) s" | tee -a "$out/steps.log"
  tail -n 4 "$out/$name.log"
  # One archive, rewritten after every step: a device call returns only a few files.
  tar -cJf "$out/checks.tar.xz.tmp" bench/results "$out"/*.log "$out"/gpu.txt 2>/dev/null &&
    mv "$out/checks.tar.xz.tmp" "$out/checks.tar.xz"
  return 0
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
step build-cuda 240 bash native/cuda/build.sh
[ -f native/cuda/build/bitscale_cuda.node ] || { echo "gpu-host/checks: no CUDA addon, stopping"; exit 1; }
step test-cuda 240 node scripts/test-cuda.mjs --no-build
step onebit-gemv-cuda 90 env BENCH_REPEATS=5 node --import tsx bench/onebit-gemv-cuda.ts
step hf-load 240 env PYTHON=python3 node --import tsx bench/hf-load.ts
step outlier-stats-cuda 120 node --import tsx bench/outlier-stats.ts --backend cuda --steps 10
