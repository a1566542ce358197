#!/usr/bin/env bash
# Builds the CUDA addon, native/cuda/build/bitscale_cuda.node, where nvcc and the CUDA libraries (cudart,
# cuBLASLt) are installed: Hopper machine code (sm_90) plus compute_80 PTX that newer GPUs compile at load.
# Downloads nothing. Usage: npm run build:cuda   (or: bash native/cuda/build.sh)
# Env: NODE_INCLUDE_DIR (node_api.h; default: next to the node binary), CUDA_ARCH_FLAGS, NVCC.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nvcc=${NVCC:-nvcc}
if ! command -v "$nvcc" >/dev/null; then
  echo "build:cuda: nvcc not found; install the CUDA toolkit (13.x) or set NVCC. bitscale runs without the cuda backend." >&2
  exit 1
fi
node_inc=${NODE_INCLUDE_DIR:-}
if [ -z "$node_inc" ]; then
  node_bin=$(readlink -f "$(command -v node)")
  for d in "$(dirname "$node_bin")/../include/node" /usr/include/node /usr/local/include/node; do
    [ -f "$d/node_api.h" ] && node_inc=$d && break
  done
fi
if [ -z "$node_inc" ] || [ ! -f "$node_inc/node_api.h" ]; then
  echo "build:cuda: node_api.h not found; set NODE_INCLUDE_DIR to Node's include/node folder" >&2
  exit 1
fi
arch=${CUDA_ARCH_FLAGS:-"-gencode=arch=compute_90,code=sm_90 -gencode=arch=compute_80,code=compute_80"}
# ../common holds the headers shared with the CPU build (native/cpu/binding.gyp).
flags="-std=c++17 -O3 -Xcompiler -fPIC -I$node_inc -I$here/../common $arch"
mkdir -p "$here/build/obj"
compile() {
  local src=$1 extra=""
  # fake_quant repeats the reference's double arithmetic exactly: no contracted multiply-adds.
  [ "$(basename "$src")" = fake_quant.cu ] && extra="-fmad=false"
  [ "$(basename "$src")" = fp8_cast.cu ] && extra="-fmad=false"  # the same rounding, for FP8 operands
  # GPTQ's host loops: OpenMP threads, and the reference's double arithmetic (no contraction) as well.
  [ "$(basename "$src")" = gptq_host.cu ] && extra="-Xcompiler -fopenmp,-ffp-contract=off"
  local obj="$here/build/obj/$(basename "${src%.cu}").o"
  # Skip a source whose object was built from the same text, headers and flags (a content key, not mtimes:
  # a device machine receives the tree afresh, with objects built elsewhere carried beside it).
  local key
  # The key leaves out paths (they differ between machines) and nvcc's version (objects of CUDA 13.x link alike).
  key=$( { echo "$arch $extra"; cat "$src" "$here"/*.cuh "$here"/../common/*.h; } | sha256sum | cut -c1-64)
  if [ -f "$obj" ] && [ "$(cat "$obj.key" 2>/dev/null)" = "$key" ]; then return 0; fi
  rm -f "$obj.key"
  "$nvcc" $flags $extra -c "$src" -o "$obj" || return 1
  echo "$key" > "$obj.key"
}
export -f compile
export nvcc flags here arch
ls "$here"/*.cu | xargs -P "$(nproc)" -I{} bash -c 'compile {}'
"$nvcc" -shared $arch -o "$here/build/bitscale_cuda.node.tmp" "$here"/build/obj/*.o -lcublasLt -lgomp
mv "$here/build/bitscale_cuda.node.tmp" "$here/build/bitscale_cuda.node"
echo "build:cuda: built $here/build/bitscale_cuda.node"
