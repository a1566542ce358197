#!/usr/bin/env bash
# Everything bitscale needs on a fresh Debian/Ubuntu machine: system packages, npm packages, the native
# CPU addon (xz-utils reads the shipped .xz corpora). Idempotent and quick when already done, so the README's commands can always call it.
#
#   bash scripts/setup.sh           the engine, its tests and the report (chromium for PNG charts)
#   bash scripts/setup.sh --bench   also the benchmarks' Python peers: Debian's python3-torch and python3-scipy
#                                   for /usr/bin/python3 (bench/peer-python.ts says why not the python3 on PATH)
#
# A native addon that does not build is an error (exit 1): every test of the native kernels would otherwise
# skip. BITSCALE_NATIVE=0 says you want the js backend only; then the addon is not built at all. CI never sets it.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    *) echo "setup: unknown option '$arg' (allowed: --bench)" >&2; exit 2 ;;
  esac
done

need=()
for pkg in g++ make python3 libopenblas-dev xz-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${BITSCALE_BROWSER_TESTS:-1}" = 1 ]; then
  dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ "$bench" = 1 ]; then
  for pkg in python3-torch python3-scipy libopenblas0-pthread; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if [ ! -d node_modules/tsx ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm install --no-audit --no-fund
fi

if [ "${BITSCALE_NATIVE:-1}" = 0 ]; then
  echo "setup: BITSCALE_NATIVE=0: not building the native CPU backend; bitscale runs on the js backend"
else
  addon=native/cpu/build/Release/bitscale_cpu.node
  if [ ! -f "$addon" ] || [ -n "$(find native/cpu native/common -maxdepth 1 -newer "$addon" \( -name '*.cc' -o -name '*.h' -o -name '*.gyp' \))" ]; then
    echo "setup: building the native CPU backend"
    log=$(mktemp -t bitscale-node-gyp.XXXXXX.log)
    # Node's own headers, so node-gyp never tries to download them.
    nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    if ! npx node-gyp rebuild --directory native/cpu -j 2 --nodedir="$nodedir" >"$log" 2>&1; then
      tail -30 "$log" >&2
      echo "setup: the native CPU backend failed to build (log above, all of it in $log)." >&2
      echo "setup: to use the slower js backend only, run with BITSCALE_NATIVE=0." >&2
      exit 1
    fi
  fi
fi

if [ "$bench" = 1 ]; then
  /usr/bin/python3 -c 'import torch, scipy' || {
    echo "setup: /usr/bin/python3 cannot import torch and scipy after installing python3-torch python3-scipy" >&2
    exit 1
  }
fi
