# shellcheck shell=bash
# The ready step: the prelude assigns expected_arch and ready_timeout.
# shellcheck disable=SC2154
## Readiness and preflight, the first step on a worker: waits for cloud-init on a just-booted instance,
## then checks what every later step relies on, so a wrong host fails here with one clear message
## instead of halfway. The cloud-init wait ends ready_timeout seconds after the worker's boot (the start
## of its PID 1), the same budget the step's dial retries used to reach it: a worker booted long ago is
## never waited for. cloud-init finished with errors fails the step too. The machine types are the
## catalog's MACHINE_ARCH.

## region ready
[[ -d /run/systemd/system ]] || fail "systemd is not the init system here; the containerd unit needs it"
# cloud-init is a Python program: ask it only while it may still be running. Not when it is
# off on this machine, nor once its final stage has written a clean result for this boot.
if [[ -e /etc/cloud/cloud-init.disabled || -e /run/cloud-init/disabled ]]; then
  :
elif [[ -e /run/cloud-init/result.json ]] && grep -q '"errors": \[\]' /run/cloud-init/result.json; then
  :
elif command -v cloud-init >/dev/null 2>&1; then
  read -r uptime _ </proc/uptime
  since_boot=$(( ${uptime%.*} - $(awk '{ print $22 }' /proc/1/stat) / $(getconf CLK_TCK) ))
  left=$(( ready_timeout - since_boot ))
  if (( left > 0 )); then timeout "$left" cloud-init status --wait >/dev/null 2>&1 || true; fi
  # Exits 1 on error and 2 on recoverable errors: read its status line instead.
  state=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p') || true
  case $state in
    done | disabled) ;;
    error) fail "cloud-init finished with errors: $(cloud-init status --long 2>&1 | tail -n 5 | tr '\n' ' ')" ;;
    *) fail "cloud-init has not finished $ready_timeout s after boot (readyTimeoutSeconds; status: ${state:-unknown}); see cloud-init status --long on the worker" ;;
  esac
fi
for tool in curl tar sha256sum install systemctl awk mktemp flock; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done
machine=$(uname -m)
case $machine in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) fail "unsupported machine type $machine (supported: x86_64, aarch64)" ;;
esac
if [[ $expected_arch != auto && $arch != "$expected_arch" ]]; then
  fail "this worker is $machine ($arch) but arch is set to $expected_arch"
fi
# The component reads arch= back when arch is auto (see parseReadyReport).
printf 'arch=%s\nkernel=%s\n' "$arch" "$(uname -r)"
## endregion
