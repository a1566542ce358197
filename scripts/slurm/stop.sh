#!/usr/bin/env bash
# Stops the cluster that scripts/slurm/start.sh started in <dir>: slurmd, slurmctld, then munged, by the pids
# in their pid files. In some sandboxes exited daemons stay behind as zombies (state Z) that nobody reaps,
# so a process counts as gone once it is a zombie, and the wait is bounded.
set -uo pipefail

dir=$(realpath -m "${1:-${TMPDIR:-/tmp}/bitscale-slurm}")

alive() { # pid: running and not a zombie
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop() { # pid file
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  if [ -n "$pid" ] && alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$1"
}

stop "$dir/run/slurmd.pid"
stop "$dir/run/slurmctld.pid"
stop "$dir/munge/munged.pid"
echo "slurm/stop: stopped the cluster in $dir" >&2
