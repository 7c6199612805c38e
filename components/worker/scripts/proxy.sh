# shellcheck shell=bash
# The proxy step: the prelude assigns drop_in (and env_file on destroy); lib.sh's write-or-remove has
# put the environment from standard input in place.
# shellcheck disable=SC2154
## Create: the proxy environment (a root-only file: proxy URLs may carry credentials) and the drop-in that
## names it (root-only too: nobody else needs it), or neither when the input is empty; systemd reloads
## when either changed. The restart step then restarts containerd, which reads its environment only when
## it starts. The printf writes the drop-in as renderProxyDropIn renders it.

## region drop-in
if [[ -s $work/content ]]; then
  printf '%s\n' '@drop_in_lines@' >"$work/drop-in"
  if ! { [[ -f $drop_in ]] && cmp -s "$work/drop-in" "$drop_in"; }; then
    place "$work/drop-in" "$drop_in" 0600
    changed=1
  fi
elif [[ -e $drop_in ]]; then
  rm -f -- "$drop_in" && rmdir --ignore-fail-on-non-empty "${drop_in%/*}"
  changed=1
fi
if (( changed )); then systemctl daemon-reload; fi
if [[ -s $work/content ]]; then echo "proxy environment in place (changed: $changed)"; else echo "no proxy (changed: $changed)"; fi
## endregion

## region remove
## Destroy, after the unit step has stopped containerd.
removed=0
for target in "$drop_in" "$env_file"; do
  if [[ -e $target ]]; then
    rm -f -- "$target" && rmdir --ignore-fail-on-non-empty "${target%/*}"
    removed=1
  fi
done
if (( removed )); then systemctl daemon-reload; fi
echo "no proxy"
## endregion
