# shellcheck shell=bash
# The registries step, after lib.sh's place and work: the prelude assigns dir, manifest and pattern.
# shellcheck disable=SC2154
## Makes the registry directory (containerd's config_path) hold exactly the files sent on standard input
## (see registryStream): each is put in place atomically when it differs, and the files this step wrote
## before that are no longer wanted are removed. Files it did not write are left alone. The record of
## what it wrote is sha256sum's format, so drift can be checked. containerd reads these files on every
## pull: nothing is restarted.

## region write
mkdir "$work/files"
rels=() out=''
while IFS= read -r line || [[ -n $line ]]; do
  case $line in
    '=== '*)
      rel=${line#=== }
      [[ $rel =~ $pattern ]] || fail "not a registry file path: $rel"
      out="$work/files/$rel"
      [[ ! -e $out ]] || fail "$rel is sent twice"
      mkdir -p "${out%/*}"
      : >"$out"
      rels+=("$rel")
      ;;
    '|'*)
      [[ -n $out ]] || fail "file content before any file name"
      printf '%s\n' "${line#|}" >>"$out"
      ;;
    *) fail "unexpected line on standard input: $line" ;;
  esac
done
declare -A wanted=()
targets=() changed=0 removed=0
for rel in "${rels[@]}"; do
  targets+=("$dir/$rel")
  wanted[$dir/$rel]=1
  # hosts.toml may carry credentials (headers): root-only. CA certificates are public.
  mode=0644
  [[ $rel != */hosts.toml ]] || mode=0600
  if [[ -f $dir/$rel ]] && cmp -s "$work/files/$rel" "$dir/$rel"; then
    chmod "$mode" "$dir/$rel"
    continue
  fi
  place "$work/files/$rel" "$dir/$rel" "$mode"
  changed=$((changed + 1))
done
if [[ -f $manifest ]]; then
  while IFS= read -r old; do
    [[ -z ${wanted[$old]:-} ]] || continue
    [[ $old == "$dir"/* ]] || continue
    rm -f -- "$old"
    rmdir --ignore-fail-on-non-empty "${old%/*}" 2>/dev/null || true
    removed=$((removed + 1))
  done < <(cut -d" " -f3- "$manifest")
fi
if (( ${#targets[@]} > 0 )); then
  sha256sum -- "${targets[@]}" >"$work/manifest"
else
  : >"$work/manifest"
  rmdir --ignore-fail-on-non-empty "$dir" 2>/dev/null || true
fi
place "$work/manifest" "$manifest" 0644
echo "registry files: ${#targets[@]} in place, $changed written, $removed removed"
## endregion

## region remove
## Destroy: every registry file the step wrote, and the directories left empty.
if [[ -f $manifest ]]; then
  while IFS= read -r old; do
    [[ $old == "$dir"/* ]] || continue
    rm -f -- "$old"
    rmdir --ignore-fail-on-non-empty "${old%/*}" 2>/dev/null || true
  done < <(cut -d" " -f3- "$manifest")
fi
# The config step may have left /etc/containerd for this step to empty.
rmdir --ignore-fail-on-non-empty "$dir" "${dir%/*}" 2>/dev/null || true
echo "registry files removed"
## endregion
