#!/usr/bin/env bash
# On a GPU host, after `source .device/activate.sh`: unpacks what scripts/gpu-host/pack.sh packed. Source it
# (`. scripts/gpu-host/unpack.sh`) so that BITSCALE_CLI, BITSCALE_CPU_ADDON and LD_LIBRARY_PATH stay set.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$root/node_modules" /tmp/bitscale-cpu
[ -d "$root/node_modules/tsx" ] || tar -xJf "$root/.device/test-modules.tar.xz" -C "$root/node_modules"
# The CPU addon is optional there (GPTQ has host kernels in the CUDA addon); carry it to compare cpu with cuda.
if [ -f "$root/.device/cpu-addon.tar.xz" ]; then
  [ -d /tmp/bitscale-cpu/lib ] || tar -xJf "$root/.device/cpu-addon.tar.xz" -C /tmp/bitscale-cpu
  export LD_LIBRARY_PATH=/tmp/bitscale-cpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export BITSCALE_CPU_ADDON=/tmp/bitscale-cpu/addon/bitscale_cpu_avx2.node
fi
export BITSCALE_CLI="$root/.device/bitscale.mjs"
