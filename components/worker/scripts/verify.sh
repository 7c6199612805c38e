# shellcheck shell=bash
# The verify step, after lib.sh's place: the prelude assigns expected_version and proxy_env, and
# key_N, headers_N and lines_N for each rendered key checked in the config dump.
# shellcheck disable=SC2154
## Asks the runtime itself, through CRI on its socket (crictl version, crictl info), what it is, and checks
## containerd config dump for every rendered key. Prints crictl version's answer plus the cgroup driver
## and CNI status it saw. Its standard input is the digest of every other step's scripts and input
## (see planDigest), recorded on the worker once verified.

## region crictl
crictl=/usr/local/bin/crictl
## endregion
## region read-digest
IFS= read -r plan_sha256 || fail "no plan digest on standard input"
systemctl is-enabled --quiet containerd || fail "containerd is not enabled"
systemctl is-active --quiet containerd || fail "containerd is not active"
## endregion
## region ask
# The config dump needs no socket: it runs while CRI is asked.
/usr/local/bin/containerd config dump >"$work/dump" 2>&1 &
dump_pid=$!
# The socket can lag the unit's readiness by a moment after a restart.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if version=$("$crictl" version 2>&1); then break; fi
  (( attempt < 10 )) || fail "crictl version failed: $version"
  sleep 1
done
field() { sed -n "s/^$1:[[:space:]]*//p" <<<"$version" | head -n 1; }
name=$(field RuntimeName) runtime_version=$(field RuntimeVersion) api=$(field RuntimeApiVersion)
[[ $name == containerd ]] || fail "the CRI runtime is '$name', expected containerd"
[[ $api == v1 ]] || fail "the CRI API is '$api', expected v1"
case ${runtime_version#v} in
  "$expected_version" | "$expected_version"[+~-]*) ;;
  *) fail "CRI reports containerd $runtime_version, expected $expected_version" ;;
esac
info=$("$crictl" info 2>&1) || fail "crictl info failed: $info"
# The proxy environment (a root-only file: it may hold credentials) is containerd's own. Names only in errors.
if [[ -f $proxy_env ]]; then
  pid=$(systemctl show -p MainPID --value containerd)
  environ=$(tr '\0' '\n' <"/proc/$pid/environ")
  while IFS= read -r pair; do
    [[ -z $pair ]] || grep -Fxq -- "$pair" <<<"$environ" || fail "containerd's environment lacks ${pair%%=*} from $proxy_env"
  done <"$proxy_env"
fi
if grep -Eq '"SystemdCgroup": *true' <<<"$info"; then driver=systemd; else driver=cgroupfs; fi
[[ $driver == @driver@ ]] || fail "crictl info shows the $driver cgroup driver, expected @driver@"
wait "$dump_pid" || fail "containerd config dump failed: $(cat "$work/dump")"
dump=$(awk '{ $1 = $1; print }' "$work/dump")
# The lines of the dump's table with any of the given headers; '' for the top-level keys.
# The headers reach awk through its environment: -v would read backslashes in a key as escapes.
section() {
  headers="$(printf '%s\n' "$@")" awk 'BEGIN { n = split(ENVIRON["headers"], h, "\n"); on = (n == 0) }
    /^\[/ { on = 0; for (i = 1; i <= n; i++) if ($0 == h[i]) on = 1; next } on' <<<"$dump"
}
# check_dump KEY N HEADER... LINE...: the dump shows one of the LINEs in one of the N HEADERs' tables.
check_dump() {
  local key=$1 n=$2 line patterns=()
  shift 2
  local headers=("${@:1:n}") lines=("${@:n+1}")
  for line in "${lines[@]}"; do patterns+=(-e "$line"); done
  grep -Fxq "${patterns[@]}" <<<"$(section "${headers[@]}")" ||
    fail "containerd config dump does not show $key as rendered (expected: $(printf '%s or ' "${lines[@]}" | sed 's/ or $//'))"
}
## endregion
## region check-dump
## One rendered key, by its index: the prelude assigned key_N, headers_N and lines_N just before.
check_dump "$key_@index@" "${#headers_@index@[@]}" "${headers_@index@[@]}" "${lines_@index@[@]}"
## endregion
## region record
cni=$(sed -n 's/^ *"lastCNILoadStatus": *"\(.*\)",\{0,1\}$/\1/p' <<<"$info" | head -n 1)
mkdir -p /var/lib/containerd-worker
printf '%s\n' "$plan_sha256" >/var/lib/containerd-worker/verified-plan
# The config this containerd runs with, proven: what restart puts back if a new one will not start.
place '/etc/containerd/config.toml' '/var/lib/containerd-worker/config.toml.verified' 0644
printf '%s\nCgroupDriver:  %s\nLastCNILoadStatus:  %s\n' "$version" "$driver" "${cni:-unknown}"
## endregion

## region remove
## Destroy: the records verify kept.
rm -f -- '/var/lib/containerd-worker/verified-plan' '/var/lib/containerd-worker/config.toml.verified'
rmdir --ignore-fail-on-non-empty '/var/lib/containerd-worker' 2>/dev/null || true
echo "removed /var/lib/containerd-worker/verified-plan, /var/lib/containerd-worker/config.toml.verified"
## endregion
