# shellcheck shell=bash
# The reset step (destroy).
## Stops everything containerd runs, then containerd itself, as kubespray's reset does: the reset step's
## delete, which the engine runs before the unit step's (reset depends on the unit, crictl and, through
## the unit, ctr and runc, so all are still installed).
##
## 1. While containerd runs: CRI pods with crictl (stopping a sandbox releases its network through CNI),
##    then every task of every namespace with ctr: SIGTERM, up to 10 s (STOP_GRACE_SECONDS) to exit, a
##    forced delete (SIGKILL) of the rest, and the containers' records.
## 2. containerd stopped. Its unit's KillMode=process leaves the shims, so what step 1 could not reach (a
##    containerd already down, or hung) is forced: containers through runc's own state, then the shims.
## 3. Mounts left below containerd's directories unmounted, deepest first.
## 4. With purgeStateOnDestroy, the state directories (PURGED_STATE_DIRS) removed (a mount point is
##    emptied and kept), never crossing into another file system; without, kept.
##
## Every phase does nothing when its tool or the runtime is already gone, so a rerun after a partial
## destroy converges.

## region stop
ctr=/usr/local/bin/ctr crictl=/usr/local/bin/crictl runc=/usr/local/sbin/runc
# Every call to the runtime is bounded: a hung containerd must not hang destroy.
bounded() { timeout 30 "$@"; }
# The IDs of a namespace's tasks, all or those in one status.
tasks() {
  bounded "$ctr" -n "$1" tasks ls 2>/dev/null | awk -v status="${2:-}" 'NR > 1 && (status == "" || $3 == status) { print $1 }' || true
}
stopped=0
if systemctl is-active --quiet containerd && [[ -x $ctr ]]; then
  if [[ -x $crictl ]]; then
    mapfile -t pods < <(bounded "$crictl" pods -q 2>/dev/null || true)
    for pod in "${pods[@]}"; do
      bounded "$crictl" stopp "$pod" >/dev/null 2>&1 || true
      bounded "$crictl" rmp "$pod" >/dev/null 2>&1 || true
    done
  fi
  mapfile -t namespaces < <(bounded "$ctr" namespaces ls -q 2>/dev/null || true)
  for ns in "${namespaces[@]}"; do
    mapfile -t ids < <(tasks "$ns" RUNNING)
    for id in "${ids[@]}"; do bounded "$ctr" -n "$ns" tasks kill --signal SIGTERM "$id" >/dev/null 2>&1 || true; done
  done
  for (( waited = 0; waited < 10; waited++ )); do
    running=0
    for ns in "${namespaces[@]}"; do [[ -z $(tasks "$ns" RUNNING) ]] || running=1; done
    (( running )) || break
    sleep 1
  done
  for ns in "${namespaces[@]}"; do
    mapfile -t ids < <(tasks "$ns")
    for id in "${ids[@]}"; do
      if bounded "$ctr" -n "$ns" tasks delete --force "$id" >/dev/null 2>&1; then stopped=$((stopped + 1)); fi
    done
    mapfile -t ids < <(bounded "$ctr" -n "$ns" containers ls -q 2>/dev/null || true)
    for id in "${ids[@]}"; do bounded "$ctr" -n "$ns" containers delete "$id" >/dev/null 2>&1 || true; done
  done
fi
systemctl stop containerd 2>/dev/null || true
if systemctl is-active --quiet containerd; then fail "containerd is still running after systemctl stop"; fi
forced=0
if [[ -x $runc ]]; then
  for root in /run/containerd/runc/*/; do
    mapfile -t ids < <("$runc" --root "$root" list -q 2>/dev/null || true)
    for id in "${ids[@]}"; do
      if "$runc" --root "$root" delete --force "$id" >/dev/null 2>&1; then forced=$((forced + 1)); fi
    done
  done
fi
## endregion
## region shims
## `shims` prints the PIDs of the shims serving this containerd (-address its socket), by their command
## line in /proc: the first word must be a shim, so no script that merely names one matches.
shims() {
  local dir args exe
  for dir in /proc/[0-9]*; do
    args=$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null) || continue
    exe=${args%% *}
    if [[ ${exe##*/} == containerd-shim* && $args == *' -address /run/containerd/containerd.sock '* ]]; then echo "${dir#/proc/}"; fi
  done
}
## endregion
## region kill-and-unmount
mapfile -t pids < <(shims)
if (( ${#pids[@]} > 0 )); then
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for (( waited = 0; waited < 10; waited++ )); do
    [[ -n $(shims) ]] || break
    sleep 1
  done
  [[ -z $(shims) ]] || fail "containerd shims still running: $(shims | tr '\n' ' ')"
fi
mapfile -t mounts < <(awk -v a='/run/containerd/' -v b='/var/lib/containerd/' 'index($5, a) == 1 || index($5, b) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
for point in "${mounts[@]}"; do
  # mountinfo writes a space in a path as \040.
  point=$(printf '%b' "$point")
  umount -- "$point" 2>/dev/null || umount -l -- "$point" || fail "cannot unmount $point"
done
## endregion
## region purge
for dir in /run/containerd /var/lib/containerd /var/lib/cni; do
  if mountpoint -q -- "$dir"; then
    # A file system of its own (a dedicated disk): emptied, the mount point kept.
    find "$dir" -xdev -mindepth 1 -delete
  elif [[ -e $dir ]]; then
    rm -rf --one-file-system -- "$dir"
  fi
done
echo "stopped $stopped tasks through containerd, forced $forced through runc, killed ${#pids[@]} shims, unmounted ${#mounts[@]}; removed /run/containerd, /var/lib/containerd, /var/lib/cni"
## endregion
## region keep
echo "stopped $stopped tasks through containerd, forced $forced through runc, killed ${#pids[@]} shims, unmounted ${#mounts[@]}; kept /run/containerd, /var/lib/containerd, /var/lib/cni"
## endregion
