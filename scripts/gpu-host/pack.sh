#!/usr/bin/env bash
# Packs what a GPU host with Node's binary but no npm, node_modules or OpenBLAS needs to run bitscale, its
# studies and its tests, into .device/ (git-ignored; a few MB besides Node itself):
#   bitscale.mjs + node_modules/   the bundled CLI (scripts/bundle-cli.mjs)
#   test-modules.tar.xz            tsx, esbuild and the runtime packages, to run the .ts tests there
#   cpu-addon.tar.xz               the native CPU addon built here, with the OpenBLAS it links
# On the host: `source .device/activate.sh; bash scripts/gpu-host/unpack.sh` (Node: ../shared/device/pack-node.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
mkdir -p .device
node scripts/bundle-cli.mjs .device
tar -cJf .device/test-modules.tar.xz.tmp -C node_modules tsx esbuild @esbuild/linux-x64 yaml commander \
  better-sqlite3/package.json better-sqlite3/lib better-sqlite3/build/Release/better_sqlite3.node \
  bindings file-uri-to-path
mv .device/test-modules.tar.xz.tmp .device/test-modules.tar.xz
libs=()
for lib in libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ { print $NF; exit }')
  [ -n "$path" ] || { echo "gpu-host/pack: $lib not found (npm run setup installs OpenBLAS)" >&2; exit 1; }
  libs+=("$(readlink -f "$path")")
done
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/lib" "$staging/addon"
for i in 0 1 2; do
  name=$(basename "${libs[$i]}")
  cp "${libs[$i]}" "$staging/lib/$name"
  soname=(libopenblas.so.0 libgfortran.so.5 libquadmath.so.0)
  ln -sf "$name" "$staging/lib/${soname[$i]}"
done
cp native/cpu/build/Release/*.node "$staging/addon/"
tar -cJf .device/cpu-addon.tar.xz.tmp -C "$staging" lib addon
mv .device/cpu-addon.tar.xz.tmp .device/cpu-addon.tar.xz
ls -la .device
