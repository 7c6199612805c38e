# shellcheck shell=bash
# Pieces of several scripts: target is assigned by the script's generated prelude (see scriptFiles.ts), and
# changed is read by the step's own lines after these.
# shellcheck disable=SC2154,SC2034
## The functions and blocks more than one step's script uses. Each `## region NAME` is a piece a step's
## script takes by name (scriptFiles.ts); lines that start with `##` are for this file's reader only and
## are never sent to a worker. Paths are written out as the catalog (components/catalog) has them.

## region work
## A scratch directory for the run, removed however the script ends.
work=$(mktemp -d -t containerd-worker.XXXXXX)
trap 'rm -rf "$work"' EXIT
## endregion

## region place
## `place SRC DEST MODE`: puts a file in place atomically (a copy beside DEST, then a rename), so a
## running binary or a reader never sees half a file.
place() {
  mkdir -p "${2%/*}"
  local tmp
  tmp=$(mktemp "${2%/*}/.${2##*/}.XXXXXX")
  install -m "$3" "$1" "$tmp"
  mv -f "$tmp" "$2"
}
## endregion

## region adopt
## Adoption: before a step first overwrites a file it has never written (the operator's, on a worker set
## up by hand), it copies it aside, and destroy puts it back. A file is the step's own when the step's
## record (`<step>.files`, sha256sum's format) lists it; a file already kept is never copied again, so
## the copy kept is the operator's, whatever later runs find. KEEP is the step's directory under
## /var/lib/containerd-worker/adopted (root-only).
##
## - `owns RECORD PATH`: the record lists PATH.
## - `adopt KEEP RECORD PATH...`: copies each PATH that is there and not the step's to KEEP/PATH with
##   `cp -a` (content, mode, owner, timestamps), through a hidden partial copy renamed into place.
## - `put_back KEEP`: puts every copy back at its path (a copy beside it, then a rename), keeping them.
## - `forget_kept KEEP RECORD`: drops the record, then the copies.
## - `give_back KEEP RECORD`: removes each file the record lists that was not adopted, puts back those
##   that were, then forgets both. Until the record is gone a rerun redoes the same; after, it only finishes.
owns() {
  [[ -f $1 ]] && grep -Fxq -- "$2" < <(cut -d" " -f3- "$1")
}
to_adopt() {
  [[ -e $3 || -L $3 ]] || return 1
  [[ ! -e $1$3 && ! -L $1$3 ]] || return 1
  ! owns "$2" "$3"
}
keep_dir() {
  mkdir -p '/var/lib/containerd-worker'
  install -d -m 0700 '/var/lib/containerd-worker/adopted'
  (umask 077 && mkdir -p -- "$1")
}
adopt() {
  local keep=$1 record=$2 path partial
  shift 2
  for path in "$@"; do
    to_adopt "$keep" "$record" "$path" || continue
    keep_dir "$keep$(dirname -- "$path")"
    partial=$keep${path%/*}/.${path##*/}.partial
    rm -f -- "$partial"
    cp -a -- "$path" "$partial"
    mv -f -- "$partial" "$keep$path"
    echo "adopted $path (kept aside; put back on destroy)"
  done
}
put_back() {
  local copy path tmp
  [[ -d $1 ]] || return 0
  while IFS= read -r -d '' copy; do
    path=${copy#"$1"}
    tmp=${path%/*}/.${path##*/}.put-back
    mkdir -p -- "${path%/*}"
    rm -f -- "$tmp"
    cp -a -- "$copy" "$tmp"
    mv -fT -- "$tmp" "$path"
    echo "put back $path (the file that was there before the component)"
  done < <(find "$1" -mindepth 1 \( -type f -o -type l \) ! -name '.*' -print0 | sort -z)
}
forget_kept() {
  rm -f -- "$2"
  rm -rf -- "$1"
  rmdir -- '/var/lib/containerd-worker/adopted' 2>/dev/null || true
}
give_back() {
  local path
  if [[ -f $2 ]]; then
    while IFS= read -r path; do
      [[ -e $1$path || -L $1$path ]] || rm -f -- "$path"
    done < <(cut -d" " -f3- "$2")
  fi
  put_back "$1"
  forget_kept "$1" "$2"
}
## endregion

## region adopt-file
## A step adopts the file it is about to write: its own copies directory and record, then the path.
adopt '@keep@' '@record@' '@path@'
## endregion

## region journal
## `why_not_running` prints the unit's status and the end of its journal; `fail_not_running WHEN`
## fails with them: why containerd is not running.
why_not_running() {
  systemctl status containerd --no-pager --lines=0 2>&1 | head -n 5
  journalctl -u containerd --no-pager -n 15 2>&1
}
fail_not_running() {
  fail "containerd is not running after $1:
$(why_not_running)"
}
## endregion

## region unit-adopt
## The unit step's part of adoption (after `adopt`). `adopt_unit KEEP RECORD` also keeps whether the
## operator's containerd was enabled (`KEEP/.enablement`, written before the copy, so a run killed between
## the two still knows); `give_back_unit KEEP RECORD` puts the unit back and, when it was enabled, enables
## it again (not started: destroy has stopped containerd, and the other steps are still giving back its
## binaries and config).
##
## `restart_if_stale`: on the unit step's first run (no record yet) containerd may be the operator's,
## started before the component replaced its binary or config.toml, and the restart step has no first-run
## command. containerd is restarted when the binary it runs differs from the one in place, or config.toml
## changed after it started: never when both are as it started with.
adopt_unit() {
  if to_adopt "$1" "$2" '/etc/systemd/system/containerd.service'; then
    keep_dir "$1"
    systemctl is-enabled containerd >"$1/.enablement" 2>/dev/null || true
  fi
  adopt "$1" "$2" '/etc/systemd/system/containerd.service'
}
give_back_unit() {
  [[ -d $1 ]] || return 0
  put_back "$1"
  systemctl daemon-reload
  if [[ -f $1/.enablement && $(<"$1/.enablement") == enabled ]]; then
    systemctl enable containerd 2>/dev/null || fail "systemctl enable containerd failed for the unit put back"
    echo "containerd enabled again, as it was when adopted; it is stopped: systemctl start containerd starts it"
  fi
  forget_kept "$1" "$2"
}
# stale PID BINARY CONFIG: succeeds, saying why, when PID runs another BINARY or CONFIG changed after it started.
stale() {
  local ticks uptime
  [[ -r /proc/$1/stat ]] || return 1
  if ! cmp -s "/proc/$1/exe" "$2"; then echo "its binary differs from $2"; return 0; fi
  ticks=$(sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $20 }')
  read -r uptime _ </proc/uptime
  if awk -v m="$(date -r "$3" +%s.%N)" -v now="$(date +%s.%N)" -v up="$uptime" -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { exit !(m > now - up + t / hz) }'; then
    echo "$3 changed after it started"
    return 0
  fi
  return 1
}
restart_if_stale() {
  local pid why
  [[ ! -f '/var/lib/containerd-worker/unit.files' ]] || return 0
  pid=$(systemctl show -p MainPID --value containerd)
  why=$(stale "$pid" '/usr/local/bin/containerd' '/etc/containerd/config.toml') || return 0
  systemctl restart containerd || fail_not_running "restart"
  echo "containerd restarted: the one running was started before the component ($why)"
}
## endregion

## region read-content
## Standard input, the file's content, kept whole before anything is written (after `work`).
cat >"$work/content"
## endregion

## region write-or-remove
## Puts `$work/content` at `$target` when it differs (mode MODE) and sets `changed`; empty content
## removes the file, and its directory if left empty. `write` alone is for a file that is never empty.
if [[ -s $work/content ]]; then
  ## region write
  if [[ -f $target ]] && cmp -s "$work/content" "$target"; then
    changed=0
  else
    place "$work/content" "$target" @mode@
    changed=1
  fi
  ## endregion
elif [[ -e $target ]]; then
  rm -f -- "$target" && rmdir --ignore-fail-on-non-empty "${target%/*}"
  changed=1
else
  changed=0
fi
## endregion

## After a step whose result can drift: its generation, and the sha256 of the file it wrote (see
## hostDrift.ts). Install steps record their own files.
## region record-dir
mkdir -p /var/lib/containerd-worker
## endregion
## region record-file
sha256sum -- @written@ >@record@
## endregion
## region record-generation
echo @generation@ >@generation_file@
## endregion

## region forget-run
## A step's records forgotten on destroy, and the record directory once it is empty.
rm -f -- @generation_file@ @record@
rmdir --ignore-fail-on-non-empty /var/lib/containerd-worker 2>/dev/null || true
## endregion
