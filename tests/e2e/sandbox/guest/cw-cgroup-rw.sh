#!/bin/sh
# Runs inside a sandbox worker early in boot. systemd-nspawn on a host with
# cgroup v1 controllers mounts them read-only in the container, so runc cannot
# create a container's cgroups ("mkdir /sys/fs/cgroup/cpuset/...: read-only
# file system"). The worker has a cgroup namespace whose root is a cgroup the
# harness made for it alone, so making these mounts writable (per mount point,
# not per superblock: "remount,bind") exposes only the worker's own subtree.
set -eu

for dir in /sys/fs/cgroup/*/; do
  dir=${dir%/}
  if mountpoint -q "$dir"; then
    mount -o remount,bind,rw "$dir"
  fi
done
