#!/usr/bin/env bash
# Everything bitscale needs on a fresh Debian/Ubuntu machine: system packages, npm packages, the native
# CPU addon (xz-utils reads the shipped .xz corpora). Idempotent and quick when already done, so the README's commands can always call it.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in g++ make python3 libopenblas-dev xz-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${BITSCALE_BROWSER_TESTS:-1}" = 1 ]; then
  dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
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

if [ -f native/cpu/binding.gyp ]; then
  addon=native/cpu/build/Release/bitscale_cpu.node
  if [ ! -f "$addon" ] || [ -n "$(find native/cpu -maxdepth 1 -newer "$addon" \( -name '*.cc' -o -name '*.h' -o -name '*.gyp' \))" ]; then
    echo "setup: building the native CPU backend"
    # Node's own headers, so node-gyp never tries to download them.
    nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    npx node-gyp rebuild --directory native/cpu -j 2 --nodedir="$nodedir" >/tmp/bitscale-node-gyp.log 2>&1 || {
      tail -30 /tmp/bitscale-node-gyp.log
      echo "setup: the native CPU backend failed to build (log above); bitscale falls back to the js backend" >&2
    }
  fi
fi
