# shellcheck shell=bash
# The restart step, after lib.sh's journal and place: the prelude assigns config_file, config_sha256,
# config_generation_file, expected_generation, containerd_version, containerd_build, containerd_binary, proxy_env.
# shellcheck disable=SC2154
## Restarts containerd so it loads the installed binary and config. It runs only as the restart step's
## update, when the config or the containerd version changed: on a first install the unit step has just
## started containerd with both. Containers survive: the unit's KillMode=process leaves the shims alone.

## region check-installed
## First, that the other steps have put in place what containerd is restarted for. The proxy environment
## it must run with arrives on standard input (it may hold credentials), empty for none.
proxy_wanted=$(mktemp) && trap 'rm -f "$proxy_wanted"' EXIT && cat >"$proxy_wanted"
if [[ -s $proxy_wanted ]]; then
  cmp -s "$proxy_wanted" "$proxy_env" || fail "$proxy_env is not the rendered proxy environment"
else
  [[ ! -e $proxy_env ]] || fail "$proxy_env is still there, but no proxy is configured"
fi
config_generation=$(cat "$config_generation_file" 2>/dev/null || true)
[[ $config_generation == "$expected_generation" ]] || fail "the config step has not written generation $expected_generation yet (found '$config_generation')"
actual_config=$(sha256sum "$config_file" | awk '{ print $1 }')
[[ $actual_config == "$config_sha256" ]] || fail "$config_file is not the rendered one (sha256 $actual_config, expected $config_sha256)"
installed=$("$containerd_binary" --version 2>&1) || fail "containerd does not run: $installed"
[[ $installed == *"$containerd_version"* ]] || fail "installed containerd is '$installed', expected $containerd_version"
## endregion

## region restart
# reset-failed first: earlier failed starts must not leave systemd refusing this one (its start limit).
restarted() {
  systemctl reset-failed containerd 2>/dev/null || true
  systemctl restart containerd && systemctl is-active --quiet containerd
}
if ! restarted; then
  # A new config.toml that containerd will not start with: put back the one it last ran with and
  # answered CRI (kept by verify), so the worker keeps running, and fail with why the new one failed.
  if [[ -f '/var/lib/containerd-worker/config.toml.verified' ]] && ! cmp -s '/var/lib/containerd-worker/config.toml.verified' '/etc/containerd/config.toml'; then
    why=$(why_not_running)
    place '/var/lib/containerd-worker/config.toml.verified' '/etc/containerd/config.toml' 0644
    if restarted; then
      fail "containerd did not start with the new /etc/containerd/config.toml, so the one it last ran with is back in place and containerd runs with it; fix the change and apply again. Why it did not start:
$why"
    fi
    fail_not_running "restart, nor with the /etc/containerd/config.toml it last ran with"
  fi
  fail_not_running "restart"
fi
echo "containerd restarted ($containerd_build build $containerd_version)"
## endregion
