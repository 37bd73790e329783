#!/usr/bin/env bash
# stop.sh - stop the daemons that start.sh started
# (recorded in /run/local-slurm/<name>.pid), and nothing else.
# Jobs still on the local cluster are cancelled first when slurmctld is ours.
set -uo pipefail
REC=/run/local-slurm
log() { echo "[local-slurm $(date +%T)] $*"; }
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }

ours() { # ours NAME COMM -> echo pid if the recorded pid is alive and is COMM
  local f="$REC/$1.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ] && echo "$pid"
}

if ours slurmctld slurmctld >/dev/null; then
  jobs=$(squeue -h -o %i 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    log "cancelling jobs: $(echo $jobs)"
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 20); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
  fi
fi

# reverse start order
for spec in slurmd:slurmd slurmctld:slurmctld slurmdbd:slurmdbd mariadb:mariadbd munged:munged; do
  name=${spec%%:*}; comm=${spec##*:}
  if pid=$(ours "$name" "$comm"); then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 60); do [ -e "/proc/$pid" ] || break; sleep 0.5; done
    if [ -e "/proc/$pid" ]; then log "$name did not exit, SIGKILL"; kill -KILL "$pid" 2>/dev/null; fi
  elif [ -e "$REC/$name.pid" ]; then
    log "$name: recorded pid $(cat "$REC/$name.pid") is gone"
  fi
  rm -f "$REC/$name.pid"
done
log "stopped"
