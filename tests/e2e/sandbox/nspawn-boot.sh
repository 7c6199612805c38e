#!/bin/bash
# Starts one sandbox worker: puts this process into a cgroup of its own in
# every cgroup hierarchy, then becomes systemd-nspawn (exec keeps the PID, so
# the PID the harness remembers is nspawn's own).
#
# Usage: nspawn-boot.sh MACHINE STATE_DIR -- NSPAWN_ARGS...
#
# A cgroup of its own per hierarchy gives each worker a private cgroup
# namespace root: the worker's systemd, containerd and runc create their
# cgroups below it and never see (or collide with) another worker's.
# The list of cgroup directories made here is written to STATE_DIR/cgroups,
# so the harness can remove them after the worker has stopped.
set -euo pipefail

machine=${1:?machine name}
state_dir=${2:?state directory}
shift 2
if [ "${1:-}" = "--" ]; then shift; fi

: > "$state_dir/cgroups"

# Read the whole file first: it changes while this process moves around.
mapfile -t lines < /proc/self/cgroup

for line in "${lines[@]}"; do
  rest=${line#*:}
  controllers=${rest%%:*}
  path=${rest#*:}
  if [ -z "$controllers" ]; then
    # The unified (v2) hierarchy: /sys/fs/cgroup itself on a pure v2 host,
    # /sys/fs/cgroup/unified on a hybrid one.
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
      mountpoint=/sys/fs/cgroup
    elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
      mountpoint=/sys/fs/cgroup/unified
    else
      continue
    fi
  else
    mountpoint=/sys/fs/cgroup/${controllers#name=}
    [ -f "$mountpoint/cgroup.procs" ] || continue
  fi
  parent=$mountpoint${path%/}
  dir=$parent/$machine
  mkdir -p "$dir"
  printf '%s\n' "$dir" >> "$state_dir/cgroups"
  if [ -f "$dir/cpuset.cpus" ] && [ -z "$(cat "$dir/cpuset.cpus")" ]; then
    # cgroup v1 cpuset: a new cgroup has no CPUs or memory nodes until given some.
    cat "$parent/cpuset.cpus" > "$dir/cpuset.cpus"
    cat "$parent/cpuset.mems" > "$dir/cpuset.mems"
  fi
  echo "$$" > "$dir/cgroup.procs"
done

exec systemd-nspawn "$@"
