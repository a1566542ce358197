#!/usr/bin/env bash
# On a GPU host, after `source .device/activate.sh; . scripts/gpu-host/unpack.sh` and the CUDA build: runs a
# study preset on some GPUs with their utilization sampled every second, then packs what a study leaves that is
# worth keeping (the run store, the analysis, the report, the run table; not the checkpoints) into
# <out>/<preset>-results.tar.xz, so that a run cut short by a time limit still returns what it finished.
# Usage: [STUDY_TIMEOUT=s] study.sh <preset, or a spec file> <gpus, e.g. 0,1,2> <out> [extra study options...]
set -uo pipefail
preset=$1 gpus=$2 out=$3
shift 3
if [ -f "$preset" ]; then
  source=("$preset")
  preset=$(basename "${preset%.*}")
else
  source=(--preset "$preset")
fi
dir=studies/$preset
mkdir -p "$out" "$dir"
nvidia-smi --query-gpu=timestamp,index,utilization.gpu --format=csv,noheader -i "$gpus" -l 1 \
  >"$dir/gpu-utilization.csv" 2>/dev/null &
sampler=$!
started=$SECONDS
# STUDY_TIMEOUT (s): stop the study there, so that the results are still packed before a host's own limit.
timeout "${STUDY_TIMEOUT:-0}" node "$BITSCALE_CLI" study "${source[@]}" --out "$dir" --gpus "$gpus" "$@" \
  >"$dir/study.log" 2>&1
rc=$?
kill "$sampler" 2>/dev/null
echo "gpu-host/study: $preset rc=$rc in $((SECONDS - started)) s" | tee -a "$dir/study.log"
node "$BITSCALE_CLI" runs export --store "$dir/bitscale.db" --out "$dir/runs.csv" || true
tar -cJf "$out/$preset-results.tar.xz" -C studies --exclude='*.safetensors' --exclude='*.bin' "$preset"
tail -n 20 "$dir/study.log"
