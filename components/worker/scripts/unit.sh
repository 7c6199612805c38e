# shellcheck shell=bash
# The unit step, after lib.sh's adopt, journal, unit-adopt and (on create) write.
# shellcheck disable=SC2154
## Create: installs the containerd unit from standard input, enables it and makes sure containerd runs;
## restarts it only when the unit text changed. Destroy: stops and disables containerd, then removes its
## unit, and puts back the operator's.

## region adopt
adopt_unit '/var/lib/containerd-worker/adopted/unit' '/var/lib/containerd-worker/unit.files'
## endregion

## region start
# One manager reload: enable's own, which also loads a new unit text; else one for a new unit text.
# (Enabling without a reload would leave systemd warning that the unit changed on disk.)
if ! systemctl is-enabled --quiet containerd; then
  systemctl enable containerd 2>/dev/null || fail "systemctl enable containerd failed"
elif (( changed )); then
  systemctl daemon-reload
fi
# Earlier failed starts must not leave systemd refusing this one (its start limit).
systemctl reset-failed containerd 2>/dev/null || true
if (( changed )) && systemctl is-active --quiet containerd; then
  systemctl restart containerd || fail_not_running "restart"
  echo "unit changed: containerd restarted"
else
  systemctl start containerd || fail_not_running "start"
  echo "containerd enabled and running"
fi
restart_if_stale
systemctl is-active --quiet containerd || fail_not_running "start"
## endregion

## region remove
# Only a unit the step's record lists is the component's: a rerun once the operator's is back leaves it.
if owns '/var/lib/containerd-worker/unit.files' '/etc/systemd/system/containerd.service'; then
  systemctl disable --now containerd 2>/dev/null || true
  rm -f -- /etc/systemd/system/containerd.service
  systemctl daemon-reload
  systemctl reset-failed containerd 2>/dev/null || true
fi
give_back_unit '/var/lib/containerd-worker/adopted/unit' '/var/lib/containerd-worker/unit.files'
echo "containerd stopped, disabled and its unit removed"
## endregion
