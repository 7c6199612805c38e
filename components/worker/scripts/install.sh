# shellcheck shell=bash
# An install step (runc, containerd, the CNI plugins, crictl): the prelude assigns part, version, file,
# url_path, checksum_path (unless the checksum is pinned), manifest, dir and, pinned, expected.
# shellcheck disable=SC2154
## Downloads one release artifact into a stage beside its install directory, checks its sha256 (pinned, or
## from the release's own checksum file), runs it once, then renames each file into place and records
## what it installed; files an older version installed and this one does not ship are removed.
##
## The download base URL may be a secret, so it arrives on standard input, never in this text: its first
## line is the base URL, its second the form errors show. A `##` region is a piece installScript picks;
## where regions are alternatives, it takes one of them.

## region read-base-url
IFS= read -r base_url || fail "no download base URL on standard input"
IFS= read -r shown_base_url || true
## endregion

## region stage
## `$stage`, a hidden directory inside the install directory `$dir`, so that installing is a rename on
## one file system. One left by a killed run of the same step is removed first: the step's lock is held,
## so no run is using it (steps that share a directory, containerd and crictl, have stages of their own).
mkdir -p "$dir"
rm -rf -- "$dir"/.containerd-worker-stage.@step@.*
stage=$(mktemp -d "$dir/.containerd-worker-stage.@step@.XXXXXX")
trap 'rm -rf "$work" "$stage"' EXIT
## `curl_url URL` prints a curl config naming URL, for `curl --config`: the URL (which may carry a
## credential) stays out of every command line, which any local user can read in /proc. Validation
## leaves no quote, backslash or whitespace in it. curl fails on HTTP errors, retries transient ones,
## never hangs on connect, and takes `[...]` in a URL as text, not as a range of URLs to fetch.
curl_url() { printf 'url = "%s"\n' "$1"; }
# download URL OUT SHOWN: fetches URL into OUT; an error names it as SHOWN, without credentials.
download() {
  local err
  if ! err=$(curl -fsSL --globoff --retry 3 --retry-delay 1 --retry-connrefused --connect-timeout 15 --config <(curl_url "$1") -o "$2" 2>&1); then
    fail "download of $3 failed: ${err:-curl exited non-zero}"
  fi
}
## endregion

## region fetch-binary
download "$base_url$url_path" "$work/$file" "$shown_base_url$url_path"
## endregion

## region fetch-tarball
## Unpacked into the stage as it arrives, so unpacking costs no time after the download; nothing leaves
## the stage before the checksum has matched. tar's status is kept and the rest drained, so a corrupt
## stream still downloads whole and fails on its checksum. curl retries only failures that come before
## the body (--retry), so the stream is never doubled.
set +e
curl -fsSL --globoff --retry 3 --retry-delay 1 --retry-connrefused --connect-timeout 15 --config <(curl_url "$base_url$url_path") 2>"$work/curl.log" | tee "$work/$file" |
  { tar -xzf - -C "$stage" --no-same-owner 2>"$work/tar.log"; echo $? >"$work/tar.status"; cat >/dev/null; }
curl_status=${PIPESTATUS[0]}
set -e
(( curl_status == 0 )) || fail "download of $shown_base_url$url_path failed: $(cat "$work/curl.log")"
## endregion

## The expected sha256 of `$file`, unless pinned: read out of the release's checksum file, in the
## project's own format.
## region checksum-download
download "$base_url$checksum_path" "$work/checksum" "$shown_base_url$checksum_path"
## endregion
## region pick-named-line
## The line naming the file (sha256sum's `<hex>  <file>`, also in binary `*` or `./` form).
expected=$(awk -v f="$file" '$2 == f || $2 == "*" f || $2 == "./" f { print $1; exit }' "$work/checksum")
## endregion
## region pick-bare-hex
## The first word of a file that holds only the digest.
expected=$(awk 'NF { print $1; exit }' "$work/checksum")
## endregion
## region checksum-check
expected=${expected,,}
[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "$shown_base_url$checksum_path holds no sha256 for $file"
## endregion

## region compare-checksum
actual=$(sha256sum "$work/$file" | awk '{ print $1 }')
[[ $actual == "$expected" ]] || fail "checksum mismatch for $file from $shown_base_url$url_path: expected sha256 $expected, got $actual"
## endregion

## What to install: `sources` in the stage and their `targets`.
## region unpack-binary
mv -- "$work/$file" "$stage/@name@"
src="$stage"
targets=('@install_as@')
sources=("$src/@name@")
## endregion
## region unpack-tarball
[[ $(cat "$work/tar.status") == 0 ]] || fail "cannot unpack $file: $(cat "$work/tar.log")"
src="$stage/@member@"
[[ -d $src ]] || fail "$file has no @member@/"
# Executables only: release tarballs also carry LICENSE and README files.
mapfile -t names < <(find "$src" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)
(( ${#names[@]} > 0 )) || fail "$file holds no executables"
sources=() targets=()
for name in "${names[@]}"; do
  sources+=("$src/$name")
  targets+=("$dir/$name")
done
## endregion

## region self-check
chmod 0755 -- "${sources[@]}"
# Run the new binary before installing it: a truncated file or a glibc too old for it fails here.
## endregion
## How the binary is run (the artifact's selfCheck): one of these three.
## region run-version-flag
if ! out=$("$src"/'@binary@' '--version' 2>&1); then
  fail "@binary@ from $file does not run on this worker: $out"
fi
## endregion
## region run-version-flag-glibc
## A build that needs the worker's glibc: the dynamic loader's message names the fix.
if ! out=$("$src"/'@binary@' '--version' 2>&1); then
  [[ $out != *GLIBC_* ]] || fail "@binary@ from $file does not run on this worker: $out; this worker's glibc is older than containerd's dynamic build needs; set staticBuild to install its static release"
  fail "@binary@ from $file does not run on this worker: $out"
fi
## endregion
## region run-cni-version
## A CNI plugin asked for its VERSION, as a runtime asks.
if ! out=$(CNI_COMMAND='VERSION' "$src"/'@binary@' 2>&1); then
  fail "@binary@ from $file does not run on this worker: $out"
fi
## endregion
## region check-answer
[[ $out == *'@expect_text@'* ]] || fail "@binary@ from $file answered '$out', expected "'@expect_what@'
## endregion

## region put-in-place
# One rename(2) per file, all in one mv: no copy, and no reader sees half a file.
adopt '@keep@' '@record@' "${targets[@]}"
mv -f -- "${sources[@]}" "$dir/"
# Record what was installed (sha256sum's format, so drift can be checked),
# and remove what the previous version installed and this one no longer ships.
sha256sum -- "${targets[@]}" >"$work/manifest"
if [[ -f $manifest ]]; then
  cut -d" " -f3- "$manifest" | { grep -Fxv -f <(printf '%s\n' "${targets[@]}") || true; } | xargs -r -d "\n" rm -f --
fi
place "$work/manifest" "$manifest" 0644
echo "installed $part $version (sha256 $actual): ${targets[*]}"
## endregion

## region uninstall
## The install step's destroy: removes exactly the files it recorded, then gives back what it adopted.
if [[ -f $manifest ]]; then
  cut -d" " -f3- "$manifest" | xargs -r -d "\n" rm -f --
  rm -f -- "$manifest"
fi
## endregion
## region give-back
# What it adopted goes back (its record is gone already: nothing else is removed).
give_back '@keep@' '@record@'
echo "removed @part@"
## endregion
