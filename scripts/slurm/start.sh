#!/usr/bin/env bash
# Starts a one-node Slurm cluster on localhost for the tests: munged, slurmctld and slurmd, everything (keys,
# config, state, logs, sockets) in one folder, nothing in /etc. Installs Debian's slurm-wlm and munge with
# apt-get when they are missing and we are root (CI). Prints the one line a caller evaluates:
#   eval "$(bash scripts/slurm/start.sh [dir])"   # -> export SLURM_CONF=<dir>/slurm.conf
# Stop it with scripts/slurm/stop.sh <dir>. Needs root (the daemons run as root, SlurmUser=root).
set -euo pipefail

dir=$(realpath -m "${1:-${TMPDIR:-/tmp}/bitscale-slurm}")
log() { echo "slurm/start: $*" >&2; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    log "slurmctld or munged missing and cannot install them (needs root and apt-get): apt-get install slurm-wlm munge"
    exit 1
  fi
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null; }
fi
[ "$(id -u)" -eq 0 ] || { log "the local cluster runs its daemons as root; run as root"; exit 1; }

# A cluster already running from this folder is reused.
if [ -f "$dir/slurm.conf" ] && SLURM_CONF="$dir/slurm.conf" timeout 5 sinfo -h >/dev/null 2>&1; then
  echo "export SLURM_CONF=$dir/slurm.conf"
  exit 0
fi

# Ports: Slurm's defaults unless taken (another cluster on this host), then the next free pair.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=6817
while ! port_free "$port" || ! port_free "$((port + 1))"; do
  port=$((port + 2))
  [ "$port" -lt 6917 ] || { log "no free port pair in 6817-6917"; exit 1; }
done

# Whatever started before a failure is stopped again.
trap 'log "failed; stopping what started"; bash "$(dirname "$0")/stop.sh" "$dir"' ERR

mkdir -p "$dir"/{state,spool,log,run,munge}
chmod 700 "$dir/munge"
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)

# munge: its own key, socket and pid file, so a system munged (if any) is left alone.
[ -f "$dir/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" 2>/dev/null; chmod 400 "$dir/munge/munge.key"; }
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed"

cat > "$dir/slurm.conf" <<CONF
# A one-node cluster for bitscale's tests (written by scripts/slurm/start.sh).
ClusterName=bitscale
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups in a container: track processes through /proc, no task confinement.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Finished jobs go to a text file, so that sacct -c can report them without a database.
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MpiDefault=none
ReturnToService=2
# A cancelled or requeued task gets SIGTERM, then SIGKILL this many seconds later (tests wait on it).
KillWait=2
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

running() { # pid file: its process exists and is not a zombie
  local pid
  pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
    [ -e "/proc/$pid" ]
}
for _ in $(seq 1 60); do
  state=$(sinfo -h -o %t 2>/dev/null || true)
  if [ "$state" = idle ]; then
    trap - ERR
    log "cluster up in $dir (node $host, $cpus CPUs, ports $port-$((port + 1)))"
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  running "$dir/run/slurmctld.pid" && running "$dir/run/slurmd.pid" || break
  sleep 0.5
done
log "the node did not become idle (state: ${state:-none}); logs in $dir/log"
tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
false
