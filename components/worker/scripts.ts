/**
 * Renders the root script of every step. Pure: the same options give the same
 * text, so an unchanged worker gives the engine nothing to run, and a changed
 * option changes exactly the scripts that use it.
 *
 * Every script is idempotent (running it twice leaves the host as running it
 * once) and puts nothing in place until it has been downloaded, verified and
 * proven to run: a failure leaves the host as it was.
 */
import {
  ADOPTED_DIR,
  ArchChoice,
  Artifact,
  ChecksumFormat,
  MACHINE_ARCH,
  PATHS,
  RUNTIME_SOCKET,
  VERIFIED_CONFIG_FILE,
  VERIFIED_PLAN_FILE,
} from "../catalog/catalog";
import type { ConfigExpectation } from "../render/containerdConfig";
import { renderProxyDropIn } from "../render/containerdUnit";
import { adoptedCopies, generationFile, manifestFile } from "../catalog/records";
import { assignments, script, scriptHeader, shellQuote, StepLabel } from "./shell";
import { INSTALL_STEP, StepId } from "../catalog/stepIds";

/**
 * `curl` for release downloads: fail on HTTP errors, retry transient ones, never hang on connect,
 * and take `[...]` in a URL as text, not as a range of URLs to fetch.
 */
const CURL = "curl -fsSL --globoff --retry 3 --retry-delay 1 --retry-connrefused --connect-timeout 15";

const TEMP_DIR = ["work=$(mktemp -d -t containerd-worker.XXXXXX)", "trap 'rm -rf \"$work\"' EXIT"].join("\n");

/**
 * `place SRC DEST MODE`: puts a file in place atomically (a copy beside DEST,
 * then a rename), so a running binary or a reader never sees half a file.
 */
const PLACE_FUNCTION = [
  "place() {",
  '  mkdir -p "${2%/*}"',
  "  local tmp",
  '  tmp=$(mktemp "${2%/*}/.${2##*/}.XXXXXX")',
  '  install -m "$3" "$1" "$tmp"',
  '  mv -f "$tmp" "$2"',
  "}",
].join("\n");

/**
 * Adoption: before a step first overwrites a file it has never written (the operator's, on a worker set up
 * by hand), it copies it aside, and destroy puts it back. A file is the step's own when the step's record
 * (`<step>.files`, sha256sum's format) lists it; a file already kept is never copied again, so the copy kept
 * is the operator's, whatever later runs find. KEEP is the step's directory under `ADOPTED_DIR` (root-only).
 *
 * - `owns RECORD PATH`: the record lists PATH.
 * - `adopt KEEP RECORD PATH...`: copies each PATH that is there and not the step's to KEEP/PATH with `cp -a`
 *   (content, mode, owner, timestamps), through a hidden partial copy renamed into place, and says so.
 * - `put_back KEEP`: puts every copy back at its path (a copy beside it, then a rename), keeping the copies.
 * - `forget_kept KEEP RECORD`: drops the record, then the copies.
 * - `give_back KEEP RECORD`: removes each file the record lists that was not adopted, puts back those that
 *   were, then forgets both. Until the record is gone a rerun redoes the same; after, it only finishes.
 */
export const ADOPT_FUNCTIONS = [
  "owns() {",
  '  [[ -f $1 ]] && grep -Fxq -- "$2" < <(cut -d" " -f3- "$1")',
  "}",
  "to_adopt() {",
  "  [[ -e $3 || -L $3 ]] || return 1",
  "  [[ ! -e $1$3 && ! -L $1$3 ]] || return 1",
  '  ! owns "$2" "$3"',
  "}",
  "keep_dir() {",
  `  mkdir -p ${shellQuote(PATHS.manifestDir)}`,
  `  install -d -m 0700 ${shellQuote(ADOPTED_DIR)}`,
  '  (umask 077 && mkdir -p -- "$1")',
  "}",
  "adopt() {",
  "  local keep=$1 record=$2 path partial",
  "  shift 2",
  '  for path in "$@"; do',
  '    to_adopt "$keep" "$record" "$path" || continue',
  '    keep_dir "$keep$(dirname -- "$path")"',
  "    partial=$keep${path%/*}/.${path##*/}.partial",
  '    rm -f -- "$partial"',
  '    cp -a -- "$path" "$partial"',
  '    mv -f -- "$partial" "$keep$path"',
  '    echo "adopted $path (kept aside; put back on destroy)"',
  "  done",
  "}",
  "put_back() {",
  "  local copy path tmp",
  "  [[ -d $1 ]] || return 0",
  "  while IFS= read -r -d '' copy; do",
  '    path=${copy#"$1"}',
  "    tmp=${path%/*}/.${path##*/}.put-back",
  '    mkdir -p -- "${path%/*}"',
  '    rm -f -- "$tmp"',
  '    cp -a -- "$copy" "$tmp"',
  '    mv -fT -- "$tmp" "$path"',
  '    echo "put back $path (the file that was there before the component)"',
  "  done < <(find \"$1\" -mindepth 1 \\( -type f -o -type l \\) ! -name '.*' -print0 | sort -z)",
  "}",
  "forget_kept() {",
  '  rm -f -- "$2"',
  '  rm -rf -- "$1"',
  `  rmdir -- ${shellQuote(ADOPTED_DIR)} 2>/dev/null || true`,
  "}",
  "give_back() {",
  "  local path",
  "  if [[ -f $2 ]]; then",
  "    while IFS= read -r path; do",
  '      [[ -e $1$path || -L $1$path ]] || rm -f -- "$path"',
  '    done < <(cut -d" " -f3- "$2")',
  "  fi",
  '  put_back "$1"',
  '  forget_kept "$1" "$2"',
  "}",
].join("\n");

/** `adopt` as a step calls it: its own copies directory and record, then the paths. */
function adoptCall(step: StepId, paths: string): string {
  return `adopt ${shellQuote(adoptedCopies(step))} ${shellQuote(manifestFile(step))} ${paths}`;
}

/** `give_back` as a step calls it on destroy. */
function giveBackCall(step: StepId): string {
  return `give_back ${shellQuote(adoptedCopies(step))} ${shellQuote(manifestFile(step))}`;
}

/**
 * Readiness and preflight, the first step on a worker: waits for cloud-init
 * on a just-booted instance, then checks what every later step relies on,
 * so a wrong host fails here with one clear message instead of halfway.
 *
 * The cloud-init wait ends `timeoutSeconds` after the worker's boot (the
 * start of its PID 1), the same budget the step's dial retries used to reach
 * it: a worker booted long ago is never waited for. cloud-init finished with
 * errors fails the step too: something the instance's own setup expected
 * did not happen, and installing on top of it would hide that.
 */
export function readyScript(label: StepLabel, expectedArch: ArchChoice, timeoutSeconds: number): string {
  return script(
    scriptHeader(label),
    assignments({ expected_arch: expectedArch, ready_timeout: timeoutSeconds }),
    '[[ -d /run/systemd/system ]] || fail "systemd is not the init system here; the containerd unit needs it"',
    "# cloud-init is a Python program: ask it only while it may still be running. Not when it is",
    "# off on this machine, nor once its final stage has written a clean result for this boot.",
    "if [[ -e /etc/cloud/cloud-init.disabled || -e /run/cloud-init/disabled ]]; then",
    "  :",
    "elif [[ -e /run/cloud-init/result.json ]] && grep -q '\"errors\": \\[\\]' /run/cloud-init/result.json; then",
    "  :",
    "elif command -v cloud-init >/dev/null 2>&1; then",
    "  read -r uptime _ </proc/uptime",
    "  since_boot=$(( ${uptime%.*} - $(awk '{ print $22 }' /proc/1/stat) / $(getconf CLK_TCK) ))",
    "  left=$(( ready_timeout - since_boot ))",
    '  if (( left > 0 )); then timeout "$left" cloud-init status --wait >/dev/null 2>&1 || true; fi',
    "  # Exits 1 on error and 2 on recoverable errors: read its status line instead.",
    "  state=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p') || true",
    "  case $state in",
    "    done | disabled) ;;",
    `    error) fail "cloud-init finished with errors: $(cloud-init status --long 2>&1 | tail -n 5 | tr '\\n' ' ')" ;;`,
    '    *) fail "cloud-init has not finished $ready_timeout s after boot (readyTimeoutSeconds; status: ${state:-unknown}); see cloud-init status --long on the worker" ;;',
    "  esac",
    "fi",
    "for tool in curl tar sha256sum install systemctl awk mktemp flock; do",
    '  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"',
    "done",
    "machine=$(uname -m)",
    "case $machine in",
    ...Object.entries(MACHINE_ARCH).map(([machine, arch]) => `  ${machine}) arch=${arch} ;;`),
    `  *) fail "unsupported machine type $machine (supported: ${Object.keys(MACHINE_ARCH).join(", ")})" ;;`,
    "esac",
    'if [[ $expected_arch != auto && $arch != "$expected_arch" ]]; then',
    '  fail "this worker is $machine ($arch) but arch is set to $expected_arch"',
    "fi",
    "# The component reads arch= back when arch is auto (see parseReadyReport).",
    'printf \'arch=%s\\nkernel=%s\\n\' "$arch" "$(uname -r)"',
  );
}

/**
 * Reads the expected sha256 of `$file` out of the checksum file at `$work/checksum`:
 * the line naming the file (sha256sum's `<hex>  <file>`, also in binary `*` or `./` form),
 * or the first word of a bare-hex file.
 */
export const CHECKSUM_PICK: Readonly<Record<ChecksumFormat, string>> = {
  "named-line": `awk -v f="$file" '$2 == f || $2 == "*" f || $2 == "./" f { print $1; exit }' "$work/checksum"`,
  "bare-hex": `awk 'NF { print $1; exit }' "$work/checksum"`,
};

function expectedChecksum(artifact: Artifact, pinned: string | undefined): string {
  if (pinned !== undefined) {
    return assignments({ expected: pinned });
  }
  const pick = CHECKSUM_PICK[artifact.checksumFormat];
  return [
    'download "$base_url$checksum_path" "$work/checksum" "$shown_base_url$checksum_path"',
    `expected=$(${pick})`,
    "expected=${expected,,}",
    '[[ $expected =~ ^[0-9a-f]{64}$ ]] || fail "$shown_base_url$checksum_path holds no sha256 for $file"',
  ].join("\n");
}

/** The directory an artifact's files are installed into. */
function installDir(artifact: Artifact): string {
  const { packaging } = artifact;
  return packaging.kind === "tarball"
    ? packaging.intoDir
    : packaging.installAs.slice(0, packaging.installAs.lastIndexOf("/"));
}

/** Prefix of the staging directory an install step makes inside the directory it installs into. */
const STAGE_PREFIX = ".containerd-worker-stage.";

/**
 * Makes `$stage`, a hidden directory inside the install directory, so that
 * installing is a rename on one file system: no copy, and a running binary or
 * a reader never sees half a file. One left by a killed run of the same step
 * is removed first: the step's lock is held, so no run is using it (steps that
 * share a directory, containerd and crictl, have stages of their own).
 */
function makeStage(artifact: Artifact): string {
  const dir = shellQuote(installDir(artifact));
  const prefix = `${STAGE_PREFIX}${INSTALL_STEP[artifact.part]}.`;
  return [
    `dir=${dir}`,
    'mkdir -p "$dir"',
    `rm -rf -- "$dir"/${prefix}*`,
    `stage=$(mktemp -d "$dir/${prefix}XXXXXX")`,
    'trap \'rm -rf "$work" "$stage"\' EXIT',
  ].join("\n");
}

/**
 * Downloads the artifact to `$work/$file`. A tarball is unpacked into the
 * stage as it arrives, so unpacking costs no time after the download;
 * nothing leaves the stage before the checksum has matched.
 */
function fetchArtifact(artifact: Artifact): string {
  if (artifact.packaging.kind === "binary")
    return 'download "$base_url$url_path" "$work/$file" "$shown_base_url$url_path"';
  return [
    // tar's status is kept and the rest drained, so a corrupt stream still downloads whole and fails on its
    // checksum. curl retries only failures that come before the body (--retry), so the stream is never doubled.
    "set +e",
    `${CURL} --config <(curl_url "$base_url$url_path") 2>"$work/curl.log" | tee "$work/$file" |`,
    '  { tar -xzf - -C "$stage" --no-same-owner 2>"$work/tar.log"; echo $? >"$work/tar.status"; cat >/dev/null; }',
    "curl_status=${PIPESTATUS[0]}",
    "set -e",
    '(( curl_status == 0 )) || fail "download of $shown_base_url$url_path failed: $(cat "$work/curl.log")"',
  ].join("\n");
}

/** Lists what to install: `sources` in the stage and their `targets`. */
function unpack(artifact: Artifact): string {
  const { packaging } = artifact;
  if (packaging.kind === "binary") {
    const name = packaging.installAs.slice(packaging.installAs.lastIndexOf("/") + 1);
    return [
      `mv -- "$work/$file" "$stage/${name}"`,
      `src="$stage"`,
      `targets=(${shellQuote(packaging.installAs)})`,
      `sources=("$src/${name}")`,
    ].join("\n");
  }
  return [
    '[[ $(cat "$work/tar.status") == 0 ]] || fail "cannot unpack $file: $(cat "$work/tar.log")"',
    `src="$stage/${packaging.member}"`,
    `[[ -d $src ]] || fail "$file has no ${packaging.member}/"`,
    "# Executables only: release tarballs also carry LICENSE and README files.",
    "mapfile -t names < <(find \"$src\" -maxdepth 1 -type f -perm -u+x -printf '%f\\n' | sort)",
    '(( ${#names[@]} > 0 )) || fail "$file holds no executables"',
    "sources=() targets=()",
    'for name in "${names[@]}"; do',
    '  sources+=("$src/$name")',
    '  targets+=("$dir/$name")',
    "done",
  ].join("\n");
}

function selfCheck(artifact: Artifact): string {
  const { binary, args, env, expect } = artifact.selfCheck;
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)}`);
  const command = [...assignments, `"$src"/${shellQuote(binary)}`, ...args.map(shellQuote)].join(" ");
  return [
    "# Run the new binary before installing it: a truncated file or a glibc too old for it fails here.",
    `if ! out=$(${command} 2>&1); then`,
    ...(artifact.glibcHint === undefined
      ? []
      : [
          `  [[ $out != *GLIBC_* ]] || fail "${binary} from $file does not run on this worker: $out; ${artifact.glibcHint}"`,
        ]),
    `  fail "${binary} from $file does not run on this worker: $out"`,
    "fi",
    `[[ $out == *${shellQuote(expect.text)}* ]] || fail "${binary} from $file answered '$out', expected "${shellQuote(expect.what)}`,
  ].join("\n");
}

/**
 * `curl_url URL` prints a curl config naming URL, for `curl --config`: the URL (which may carry a
 * credential) stays out of every command line, which any local user can read in /proc.
 * Validation leaves no quote, backslash or whitespace in it.
 */
const CURL_URL_FUNCTION = 'curl_url() { printf \'url = "%s"\\n\' "$1"; }';

/**
 * Downloads one release artifact into a stage beside its install directory,
 * checks its sha256 (pinned, or from the release's own checksum file), runs it
 * once, then renames each file into place and records what it installed; files an older
 * version installed and this one does not ship are removed.
 *
 * `artifact` has its URLs relative to the download base URL (see `artifactFor` with base ""). The
 * base URL may be a secret, so it arrives on standard input, never in this text: its first line is
 * the base URL, its second the form errors show (see `downloadInput`).
 */
export function installScript(label: StepLabel, artifact: Artifact, pinnedChecksum?: string): string {
  if (!artifact.url.startsWith("/")) throw new Error(`installScript: ${artifact.url} is not relative to the base URL`);
  return script(
    scriptHeader(label),
    assignments({
      part: artifact.part,
      version: artifact.version,
      file: artifact.fileName,
      url_path: artifact.url,
      ...(pinnedChecksum === undefined ? { checksum_path: artifact.checksumUrl } : {}),
      manifest: manifestFile(INSTALL_STEP[artifact.part]),
    }),
    'IFS= read -r base_url || fail "no download base URL on standard input"',
    "IFS= read -r shown_base_url || true",
    TEMP_DIR,
    makeStage(artifact),
    CURL_URL_FUNCTION,
    "# download URL OUT SHOWN: fetches URL into OUT; an error names it as SHOWN, without credentials.",
    "download() {",
    "  local err",
    `  if ! err=$(${CURL} --config <(curl_url "$1") -o "$2" 2>&1); then`,
    '    fail "download of $3 failed: ${err:-curl exited non-zero}"',
    "  fi",
    "}",
    PLACE_FUNCTION,
    ADOPT_FUNCTIONS,
    fetchArtifact(artifact),
    expectedChecksum(artifact, pinnedChecksum),
    "actual=$(sha256sum \"$work/$file\" | awk '{ print $1 }')",
    '[[ $actual == "$expected" ]] || fail "checksum mismatch for $file from $shown_base_url$url_path: expected sha256 $expected, got $actual"',
    unpack(artifact),
    'chmod 0755 -- "${sources[@]}"',
    selfCheck(artifact),
    "# One rename(2) per file, all in one mv: no copy, and no reader sees half a file.",
    adoptCall(INSTALL_STEP[artifact.part], '"${targets[@]}"'),
    'mv -f -- "${sources[@]}" "$dir/"',
    "# Record what was installed (sha256sum's format, so drift can be checked),",
    "# and remove what the previous version installed and this one no longer ships.",
    'sha256sum -- "${targets[@]}" >"$work/manifest"',
    "if [[ -f $manifest ]]; then",
    '  cut -d" " -f3- "$manifest" | { grep -Fxv -f <(printf \'%s\\n\' "${targets[@]}") || true; } | xargs -r -d "\\n" rm -f --',
    "fi",
    'place "$work/manifest" "$manifest" 0644',
    'echo "installed $part $version (sha256 $actual): ${targets[*]}"',
  );
}

/** Removes exactly the files the install step recorded. */
export function uninstallScript(label: StepLabel, artifact: Artifact): string {
  return script(
    scriptHeader(label),
    `manifest=${shellQuote(manifestFile(INSTALL_STEP[artifact.part]))}`,
    "if [[ -f $manifest ]]; then",
    '  cut -d" " -f3- "$manifest" | xargs -r -d "\\n" rm -f --',
    '  rm -f -- "$manifest"',
    "fi",
    ADOPT_FUNCTIONS,
    "# What it adopted goes back (its record is gone already: nothing else is removed).",
    giveBackCall(INSTALL_STEP[artifact.part]),
    `echo "removed ${artifact.part}"`,
  );
}

/** Removes `$target`, and its directory if that is left empty. */
const REMOVE_TARGET = 'rm -f -- "$target" && rmdir --ignore-fail-on-non-empty "${target%/*}"';

/**
 * Writes standard input to `path` atomically and sets `changed` to 1 when the
 * content differs from what was there (0 when identical: nothing is touched).
 * With `removeWhenEmpty`, empty input removes the file (and its directory if
 * left empty) instead.
 */
function writeStdinTo(path: string, mode: string, options: { removeWhenEmpty?: boolean } = {}): string {
  const write = [
    'if [[ -f $target ]] && cmp -s "$work/content" "$target"; then',
    "  changed=0",
    "else",
    `  place "$work/content" "$target" ${mode}`,
    "  changed=1",
    "fi",
  ];
  return [
    PLACE_FUNCTION,
    `target=${shellQuote(path)}`,
    TEMP_DIR,
    'cat >"$work/content"',
    ...(options.removeWhenEmpty
      ? [
          "if [[ -s $work/content ]]; then",
          ...write.map((line) => `  ${line}`),
          "elif [[ -e $target ]]; then",
          `  ${REMOVE_TARGET}`,
          "  changed=1",
          "else",
          "  changed=0",
          "fi",
        ]
      : write),
  ].join("\n");
}

/** Writes a configuration file sent on standard input (config.toml, crictl.yaml). */
export function writeFileScript(label: StepLabel, path: string): string {
  return script(
    scriptHeader(label),
    ADOPT_FUNCTIONS,
    adoptCall(label.step as StepId, shellQuote(path)),
    writeStdinTo(path, "0644"),
    "sum=$(sha256sum \"$target\" | awk '{ print $1 }')",
    'if (( changed )); then echo "wrote $target (sha256 $sum)"; else echo "unchanged $target (sha256 $sum)"; fi',
  );
}

/** Removes files the component wrote, and their directories if those are left empty. */
export function removeFileScript(label: StepLabel, ...paths: [string, ...string[]]): string {
  const dirs = [...new Set(paths.map((path) => path.slice(0, path.lastIndexOf("/"))))].filter((dir) => dir !== "/etc");
  return script(
    scriptHeader(label),
    `rm -f -- ${paths.map(shellQuote).join(" ")}`,
    ...dirs.map((dir) => `rmdir --ignore-fail-on-non-empty ${shellQuote(dir)} 2>/dev/null || true`),
    `echo "removed ${paths.join(", ")}"`,
  );
}

/**
 * Gives back the file a step wrote (config.toml, crictl.yaml) on destroy: the operator's file it adopted
 * goes back byte for byte; one it wrote over nothing is removed, and its directory if left empty. Only
 * what the step's record lists is removed, so a rerun after the record is gone touches nothing: the file
 * put back stays.
 */
export function giveBackFileScript(label: StepLabel, step: StepId, path: string): string {
  const dir = path.slice(0, path.lastIndexOf("/"));
  return script(
    scriptHeader(label),
    ADOPT_FUNCTIONS,
    giveBackCall(step),
    dir === "/etc" ? "" : `rmdir --ignore-fail-on-non-empty ${shellQuote(dir)} 2>/dev/null || true`,
    `echo ${shellQuote(`${path} given back: put back if adopted, else removed`)}`,
  );
}

/**
 * Records on the worker that a step has run at `generation`, and the sha256 of
 * the file it wrote, if it wrote one (install steps record their own files).
 * See hostDrift.ts.
 */
export function recordRun(step: StepId, generation: number, writtenFile?: string): string {
  return [
    `mkdir -p ${PATHS.manifestDir}`,
    writtenFile === undefined ? "" : `sha256sum -- ${writtenFile} >${manifestFile(step)}`,
    `echo ${generation} >${generationFile(step)}`,
  ]
    .filter((line) => line !== "")
    .join("\n");
}

/** Forgets a step's records on destroy, and the record directory once it is empty. */
export function forgetRun(step: StepId): string {
  return [
    `rm -f -- ${generationFile(step)} ${manifestFile(step)}`,
    `rmdir --ignore-fail-on-non-empty ${PATHS.manifestDir} 2>/dev/null || true`,
  ].join("\n");
}

/**
 * Writes the proxy environment sent on standard input to a root-only file (0600: proxy URLs may
 * carry credentials) and the drop-in that names it (root-only too: nobody else needs it), or removes
 * both when the input is empty, and
 * reloads systemd when either changed. The restart step then restarts containerd, which reads its
 * environment only when it starts.
 */
export function proxyDropInScript(label: StepLabel): string {
  const dropIn = renderProxyDropIn().replace(/\n$/, "").split("\n");
  return script(
    scriptHeader(label),
    assignments({ drop_in: PATHS.containerdProxyDropIn }),
    writeStdinTo(PATHS.containerdProxyEnv, "0600", { removeWhenEmpty: true }),
    "if [[ -s $work/content ]]; then",
    `  printf '%s\\n' ${dropIn.map(shellQuote).join(" ")} >"$work/drop-in"`,
    '  if ! { [[ -f $drop_in ]] && cmp -s "$work/drop-in" "$drop_in"; }; then',
    '    place "$work/drop-in" "$drop_in" 0600',
    "    changed=1",
    "  fi",
    "elif [[ -e $drop_in ]]; then",
    '  rm -f -- "$drop_in" && rmdir --ignore-fail-on-non-empty "${drop_in%/*}"',
    "  changed=1",
    "fi",
    "if (( changed )); then systemctl daemon-reload; fi",
    'if [[ -s $work/content ]]; then echo "proxy environment in place (changed: $changed)"; else echo "no proxy (changed: $changed)"; fi',
  );
}

/** Removes the proxy environment and its drop-in on destroy (after the unit step has stopped containerd). */
export function removeProxyDropInScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    assignments({ drop_in: PATHS.containerdProxyDropIn, env_file: PATHS.containerdProxyEnv }),
    "removed=0",
    'for target in "$drop_in" "$env_file"; do',
    "  if [[ -e $target ]]; then",
    `    ${REMOVE_TARGET}`,
    "    removed=1",
    "  fi",
    "done",
    "if (( removed )); then systemctl daemon-reload; fi",
    'echo "no proxy"',
  );
}

/** A path in the registry stream: `<registry>/hosts.toml` or `<registry>/ca-<n>.crt`, never `.` or `..`. */
const REGISTRY_FILE_PATTERN = "^(_default|[A-Za-z0-9][A-Za-z0-9.:-]*)/(hosts\\.toml|ca-[0-9]+\\.crt)$";

/** Removes `$old` (a file the step wrote before) and its registry directory if that is left empty. */
const REMOVE_OLD_REGISTRY_FILE = [
  '[[ $old == "$dir"/* ]] || continue',
  'rm -f -- "$old"',
  'rmdir --ignore-fail-on-non-empty "${old%/*}" 2>/dev/null || true',
].join("\n");

/**
 * Makes the registry directory (containerd's `config_path`) hold exactly the
 * files sent on standard input (see `registryStream`): each is put in place
 * atomically when it differs, and the files this step wrote before that are
 * no longer wanted are removed. Files it did not write are left alone. The
 * record of what it wrote is sha256sum's format, so drift can be checked.
 * containerd reads these files on every pull: nothing is restarted.
 */
export function registriesScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    PLACE_FUNCTION,
    `dir=${shellQuote(PATHS.registryConfigDir)}`,
    `manifest=${shellQuote(manifestFile("registries"))}`,
    `pattern=${shellQuote(REGISTRY_FILE_PATTERN)}`,
    TEMP_DIR,
    'mkdir "$work/files"',
    "rels=() out=''",
    "while IFS= read -r line || [[ -n $line ]]; do",
    "  case $line in",
    "    '=== '*)",
    "      rel=${line#=== }",
    '      [[ $rel =~ $pattern ]] || fail "not a registry file path: $rel"',
    '      out="$work/files/$rel"',
    '      [[ ! -e $out ]] || fail "$rel is sent twice"',
    '      mkdir -p "${out%/*}"',
    '      : >"$out"',
    '      rels+=("$rel")',
    "      ;;",
    "    '|'*)",
    '      [[ -n $out ]] || fail "file content before any file name"',
    '      printf \'%s\\n\' "${line#|}" >>"$out"',
    "      ;;",
    '    *) fail "unexpected line on standard input: $line" ;;',
    "  esac",
    "done",
    "declare -A wanted=()",
    "targets=() changed=0 removed=0",
    'for rel in "${rels[@]}"; do',
    '  targets+=("$dir/$rel")',
    "  wanted[$dir/$rel]=1",
    "  # hosts.toml may carry credentials (headers): root-only. CA certificates are public.",
    "  mode=0644",
    "  [[ $rel != */hosts.toml ]] || mode=0600",
    '  if [[ -f $dir/$rel ]] && cmp -s "$work/files/$rel" "$dir/$rel"; then',
    '    chmod "$mode" "$dir/$rel"',
    "    continue",
    "  fi",
    '  place "$work/files/$rel" "$dir/$rel" "$mode"',
    "  changed=$((changed + 1))",
    "done",
    "if [[ -f $manifest ]]; then",
    "  while IFS= read -r old; do",
    "    [[ -z ${wanted[$old]:-} ]] || continue",
    ...REMOVE_OLD_REGISTRY_FILE.split("\n").map((line) => `    ${line}`),
    "    removed=$((removed + 1))",
    '  done < <(cut -d" " -f3- "$manifest")',
    "fi",
    "if (( ${#targets[@]} > 0 )); then",
    '  sha256sum -- "${targets[@]}" >"$work/manifest"',
    "else",
    '  : >"$work/manifest"',
    '  rmdir --ignore-fail-on-non-empty "$dir" 2>/dev/null || true',
    "fi",
    'place "$work/manifest" "$manifest" 0644',
    'echo "registry files: ${#targets[@]} in place, $changed written, $removed removed"',
  );
}

/** Removes every registry file the registries step wrote, and the directories left empty. */
export function removeRegistriesScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    `dir=${shellQuote(PATHS.registryConfigDir)}`,
    `manifest=${shellQuote(manifestFile("registries"))}`,
    "if [[ -f $manifest ]]; then",
    "  while IFS= read -r old; do",
    ...REMOVE_OLD_REGISTRY_FILE.split("\n").map((line) => `    ${line}`),
    '  done < <(cut -d" " -f3- "$manifest")',
    "fi",
    "# The config step may have left /etc/containerd for this step to empty.",
    'rmdir --ignore-fail-on-non-empty "$dir" "${dir%/*}" 2>/dev/null || true',
    'echo "registry files removed"',
  );
}

/**
 * `why_not_running` prints the unit's status and the end of its journal; `fail_not_running WHEN` fails with
 * them: why containerd is not running.
 */
const FAIL_WITH_JOURNAL = [
  "why_not_running() {",
  "  systemctl status containerd --no-pager --lines=0 2>&1 | head -n 5",
  "  journalctl -u containerd --no-pager -n 15 2>&1",
  "}",
  "fail_not_running() {",
  '  fail "containerd is not running after $1:',
  '$(why_not_running)"',
  "}",
].join("\n");

/**
 * The unit step's part of adoption. `adopt_unit KEEP RECORD` also keeps whether the operator's containerd
 * was enabled (`KEEP/.enablement`, written before the copy, so a run killed between the two still knows);
 * `give_back_unit KEEP RECORD` puts the unit back and, when it was enabled, enables it again (not started:
 * destroy has stopped containerd, and the other steps are still giving back its binaries and config).
 *
 * `restart_if_stale`: on the unit step's first run (no record yet) containerd may be the operator's, started
 * before the component replaced its binary or config.toml, and the restart step has no first-run command.
 * containerd is restarted when the binary it runs differs from the one in place, or config.toml changed after
 * it started: never when both are as it started with.
 */
export const UNIT_ADOPT_FUNCTIONS = [
  "adopt_unit() {",
  `  if to_adopt "$1" "$2" ${shellQuote(PATHS.containerdUnit)}; then`,
  '    keep_dir "$1"',
  '    systemctl is-enabled containerd >"$1/.enablement" 2>/dev/null || true',
  "  fi",
  `  adopt "$1" "$2" ${shellQuote(PATHS.containerdUnit)}`,
  "}",
  "give_back_unit() {",
  "  [[ -d $1 ]] || return 0",
  '  put_back "$1"',
  "  systemctl daemon-reload",
  '  if [[ -f $1/.enablement && $(<"$1/.enablement") == enabled ]]; then',
  '    systemctl enable containerd 2>/dev/null || fail "systemctl enable containerd failed for the unit put back"',
  '    echo "containerd enabled again, as it was when adopted; it is stopped: systemctl start containerd starts it"',
  "  fi",
  '  forget_kept "$1" "$2"',
  "}",
  "# stale PID BINARY CONFIG: succeeds, saying why, when PID runs another BINARY or CONFIG changed after it started.",
  "stale() {",
  "  local ticks uptime",
  "  [[ -r /proc/$1/stat ]] || return 1",
  '  if ! cmp -s "/proc/$1/exe" "$2"; then echo "its binary differs from $2"; return 0; fi',
  "  ticks=$(sed 's/^.*) //' \"/proc/$1/stat\" | awk '{ print $20 }')",
  "  read -r uptime _ </proc/uptime",
  '  if awk -v m="$(date -r "$3" +%s.%N)" -v now="$(date +%s.%N)" -v up="$uptime" -v t="$ticks" -v hz="$(getconf CLK_TCK)" \'BEGIN { exit !(m > now - up + t / hz) }\'; then',
  '    echo "$3 changed after it started"',
  "    return 0",
  "  fi",
  "  return 1",
  "}",
  "restart_if_stale() {",
  "  local pid why",
  `  [[ ! -f ${shellQuote(manifestFile("unit"))} ]] || return 0`,
  "  pid=$(systemctl show -p MainPID --value containerd)",
  `  why=$(stale "$pid" ${shellQuote(`${PATHS.containerdBinDir}/containerd`)} ${shellQuote(PATHS.containerdConfig)}) || return 0`,
  '  systemctl restart containerd || fail_not_running "restart"',
  '  echo "containerd restarted: the one running was started before the component ($why)"',
  "}",
].join("\n");

/**
 * Installs the containerd unit from standard input, enables it and makes sure
 * containerd runs; restarts it only when the unit text changed.
 */
export function unitScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    FAIL_WITH_JOURNAL,
    ADOPT_FUNCTIONS,
    UNIT_ADOPT_FUNCTIONS,
    `adopt_unit ${shellQuote(adoptedCopies("unit"))} ${shellQuote(manifestFile("unit"))}`,
    writeStdinTo(PATHS.containerdUnit, "0644"),
    "# One manager reload: enable's own, which also loads a new unit text; else one for a new unit text.",
    "# (Enabling without a reload would leave systemd warning that the unit changed on disk.)",
    "if ! systemctl is-enabled --quiet containerd; then",
    '  systemctl enable containerd 2>/dev/null || fail "systemctl enable containerd failed"',
    "elif (( changed )); then",
    "  systemctl daemon-reload",
    "fi",
    "# Earlier failed starts must not leave systemd refusing this one (its start limit).",
    "systemctl reset-failed containerd 2>/dev/null || true",
    "if (( changed )) && systemctl is-active --quiet containerd; then",
    '  systemctl restart containerd || fail_not_running "restart"',
    '  echo "unit changed: containerd restarted"',
    "else",
    '  systemctl start containerd || fail_not_running "start"',
    '  echo "containerd enabled and running"',
    "fi",
    "restart_if_stale",
    'systemctl is-active --quiet containerd || fail_not_running "start"',
  );
}

/** Stops and disables containerd, then removes its unit. */
export function removeUnitScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    ADOPT_FUNCTIONS,
    UNIT_ADOPT_FUNCTIONS,
    "# Only a unit the step's record lists is the component's: a rerun once the operator's is back leaves it.",
    `if owns ${shellQuote(manifestFile("unit"))} ${shellQuote(PATHS.containerdUnit)}; then`,
    "  systemctl disable --now containerd 2>/dev/null || true",
    `  rm -f -- ${PATHS.containerdUnit}`,
    "  systemctl daemon-reload",
    "  systemctl reset-failed containerd 2>/dev/null || true",
    "fi",
    `give_back_unit ${shellQuote(adoptedCopies("unit"))} ${shellQuote(manifestFile("unit"))}`,
    'echo "containerd stopped, disabled and its unit removed"',
  );
}

/** How long containers get to exit after SIGTERM on destroy before they are killed: 10 s. */
export const STOP_GRACE_SECONDS = 10;

/** The state directories `purgeStateOnDestroy` removes. */
export const PURGED_STATE_DIRS = [PATHS.containerdState, PATHS.containerdRoot, PATHS.cniState] as const;

/**
 * Prints the PIDs of the shims serving this containerd (`-address` its socket), by their
 * command line in /proc: the first word must be a shim, so no script that merely names one matches.
 */
export const SHIMS_FUNCTION = [
  "shims() {",
  "  local dir args exe",
  "  for dir in /proc/[0-9]*; do",
  "    args=$(tr '\\0' ' ' <\"$dir/cmdline\" 2>/dev/null) || continue",
  "    exe=${args%% *}",
  `    if [[ \${exe##*/} == containerd-shim* && $args == *${shellQuote(` -address ${RUNTIME_SOCKET} `)}* ]]; then echo "\${dir#/proc/}"; fi`,
  "  done",
  "}",
].join("\n");

/**
 * Stops everything containerd runs, then containerd itself, as kubespray's reset does: the reset step's
 * delete, which the engine runs before the unit step's (reset depends on the unit, crictl and, through
 * the unit, ctr and runc, so all are still installed).
 *
 * 1. While containerd runs: CRI pods with crictl (stopping a sandbox releases its network through CNI),
 *    then every task of every namespace with ctr: SIGTERM, up to `STOP_GRACE_SECONDS` to exit, a forced
 *    delete (SIGKILL) of the rest, and the containers' records.
 * 2. containerd stopped. Its unit's KillMode=process leaves the shims, so what step 1 could not reach (a
 *    containerd already down, or hung) is forced: containers through runc's own state, then the shims.
 * 3. Mounts left below containerd's directories unmounted, deepest first.
 * 4. With `purgeState`, the state directories removed (a mount point is emptied and kept), never
 *    crossing into another file system.
 *
 * Every phase does nothing when its tool or the runtime is already gone, so a rerun after a partial
 * destroy converges.
 */
export function resetScript(label: StepLabel, purgeState: boolean): string {
  const under = (dir: string) => shellQuote(`${dir}/`);
  return script(
    scriptHeader(label),
    `ctr=${PATHS.containerdBinDir}/ctr crictl=${PATHS.crictlBinDir}/crictl runc=${PATHS.runcBinary}`,
    "# Every call to the runtime is bounded: a hung containerd must not hang destroy.",
    'bounded() { timeout 30 "$@"; }',
    "# The IDs of a namespace's tasks, all or those in one status.",
    "tasks() {",
    '  bounded "$ctr" -n "$1" tasks ls 2>/dev/null | awk -v status="${2:-}" \'NR > 1 && (status == "" || $3 == status) { print $1 }\' || true',
    "}",
    "stopped=0",
    "if systemctl is-active --quiet containerd && [[ -x $ctr ]]; then",
    "  if [[ -x $crictl ]]; then",
    '    mapfile -t pods < <(bounded "$crictl" pods -q 2>/dev/null || true)',
    '    for pod in "${pods[@]}"; do',
    '      bounded "$crictl" stopp "$pod" >/dev/null 2>&1 || true',
    '      bounded "$crictl" rmp "$pod" >/dev/null 2>&1 || true',
    "    done",
    "  fi",
    '  mapfile -t namespaces < <(bounded "$ctr" namespaces ls -q 2>/dev/null || true)',
    '  for ns in "${namespaces[@]}"; do',
    '    mapfile -t ids < <(tasks "$ns" RUNNING)',
    '    for id in "${ids[@]}"; do bounded "$ctr" -n "$ns" tasks kill --signal SIGTERM "$id" >/dev/null 2>&1 || true; done',
    "  done",
    `  for (( waited = 0; waited < ${STOP_GRACE_SECONDS}; waited++ )); do`,
    "    running=0",
    '    for ns in "${namespaces[@]}"; do [[ -z $(tasks "$ns" RUNNING) ]] || running=1; done',
    "    (( running )) || break",
    "    sleep 1",
    "  done",
    '  for ns in "${namespaces[@]}"; do',
    '    mapfile -t ids < <(tasks "$ns")',
    '    for id in "${ids[@]}"; do',
    '      if bounded "$ctr" -n "$ns" tasks delete --force "$id" >/dev/null 2>&1; then stopped=$((stopped + 1)); fi',
    "    done",
    '    mapfile -t ids < <(bounded "$ctr" -n "$ns" containers ls -q 2>/dev/null || true)',
    '    for id in "${ids[@]}"; do bounded "$ctr" -n "$ns" containers delete "$id" >/dev/null 2>&1 || true; done',
    "  done",
    "fi",
    "systemctl stop containerd 2>/dev/null || true",
    'if systemctl is-active --quiet containerd; then fail "containerd is still running after systemctl stop"; fi',
    "forced=0",
    `if [[ -x $runc ]]; then`,
    `  for root in ${PATHS.containerdState}/runc/*/; do`,
    '    mapfile -t ids < <("$runc" --root "$root" list -q 2>/dev/null || true)',
    '    for id in "${ids[@]}"; do',
    '      if "$runc" --root "$root" delete --force "$id" >/dev/null 2>&1; then forced=$((forced + 1)); fi',
    "    done",
    "  done",
    "fi",
    SHIMS_FUNCTION,
    "mapfile -t pids < <(shims)",
    "if (( ${#pids[@]} > 0 )); then",
    '  kill -KILL "${pids[@]}" 2>/dev/null || true',
    "  for (( waited = 0; waited < 10; waited++ )); do",
    "    [[ -n $(shims) ]] || break",
    "    sleep 1",
    "  done",
    "  [[ -z $(shims) ]] || fail \"containerd shims still running: $(shims | tr '\\n' ' ')\"",
    "fi",
    `mapfile -t mounts < <(awk -v a=${under(PATHS.containerdState)} -v b=${under(PATHS.containerdRoot)} 'index($5, a) == 1 || index($5, b) == 1 { print $5 }' /proc/self/mountinfo | sort -r)`,
    'for point in "${mounts[@]}"; do',
    "  # mountinfo writes a space in a path as \\040.",
    "  point=$(printf '%b' \"$point\")",
    '  umount -- "$point" 2>/dev/null || umount -l -- "$point" || fail "cannot unmount $point"',
    "done",
    ...(purgeState
      ? [
          `for dir in ${PURGED_STATE_DIRS.join(" ")}; do`,
          '  if mountpoint -q -- "$dir"; then',
          "    # A file system of its own (a dedicated disk): emptied, the mount point kept.",
          '    find "$dir" -xdev -mindepth 1 -delete',
          "  elif [[ -e $dir ]]; then",
          '    rm -rf --one-file-system -- "$dir"',
          "  fi",
          "done",
          `echo "stopped $stopped tasks through containerd, forced $forced through runc, killed \${#pids[@]} shims, unmounted \${#mounts[@]}; removed ${PURGED_STATE_DIRS.join(", ")}"`,
        ]
      : [
          `echo "stopped $stopped tasks through containerd, forced $forced through runc, killed \${#pids[@]} shims, unmounted \${#mounts[@]}; kept ${PURGED_STATE_DIRS.join(", ")}"`,
        ]),
  );
}

/** What the running containerd must be: the installed version and the rendered config. */
export interface RuntimeState {
  containerdVersion: string;
  /** Which release build is installed: a switch loads the new binary, though the version is the same. */
  containerdBuild: "dynamic" | "static";
  configSha256: string;
  /** The config step's generation: a config repaired after drift restarts containerd too. */
  configGeneration: number;
}

/**
 * Checks that the other steps have put in place what containerd is restarted for. The proxy
 * environment it must run with arrives on standard input (it may hold credentials), empty for none.
 */
function checkInstalledState(state: RuntimeState): string {
  return [
    assignments({
      config_file: PATHS.containerdConfig,
      config_sha256: state.configSha256,
      config_generation_file: generationFile("config"),
      expected_generation: state.configGeneration,
      containerd_version: state.containerdVersion,
      containerd_build: state.containerdBuild,
      containerd_binary: `${PATHS.containerdBinDir}/containerd`,
      proxy_env: PATHS.containerdProxyEnv,
    }),
    'proxy_wanted=$(mktemp) && trap \'rm -f "$proxy_wanted"\' EXIT && cat >"$proxy_wanted"',
    "if [[ -s $proxy_wanted ]]; then",
    '  cmp -s "$proxy_wanted" "$proxy_env" || fail "$proxy_env is not the rendered proxy environment"',
    "else",
    '  [[ ! -e $proxy_env ]] || fail "$proxy_env is still there, but no proxy is configured"',
    "fi",
    'config_generation=$(cat "$config_generation_file" 2>/dev/null || true)',
    '[[ $config_generation == "$expected_generation" ]] || fail "the config step has not written generation $expected_generation yet (found \'$config_generation\')"',
    "actual_config=$(sha256sum \"$config_file\" | awk '{ print $1 }')",
    '[[ $actual_config == "$config_sha256" ]] || fail "$config_file is not the rendered one (sha256 $actual_config, expected $config_sha256)"',
    'installed=$("$containerd_binary" --version 2>&1) || fail "containerd does not run: $installed"',
    '[[ $installed == *"$containerd_version"* ]] || fail "installed containerd is \'$installed\', expected $containerd_version"',
  ].join("\n");
}

/**
 * Restarts containerd so it loads the installed binary and config. It runs only
 * as the restart step's `update`, when the config or the containerd version
 * changed: on a first install the unit step has just started containerd with
 * both. Containers survive: the unit's KillMode=process leaves the shims alone.
 * Its standard input is the proxy environment (see checkInstalledState), so a new proxy restarts too.
 */
export function restartScript(label: StepLabel, state: RuntimeState): string {
  const config = shellQuote(PATHS.containerdConfig);
  const verified = shellQuote(VERIFIED_CONFIG_FILE);
  return script(
    scriptHeader(label),
    FAIL_WITH_JOURNAL,
    PLACE_FUNCTION,
    checkInstalledState(state),
    "# reset-failed first: earlier failed starts must not leave systemd refusing this one (its start limit).",
    "restarted() {",
    "  systemctl reset-failed containerd 2>/dev/null || true",
    "  systemctl restart containerd && systemctl is-active --quiet containerd",
    "}",
    "if ! restarted; then",
    "  # A new config.toml that containerd will not start with: put back the one it last ran with and",
    "  # answered CRI (kept by verify), so the worker keeps running, and fail with why the new one failed.",
    `  if [[ -f ${verified} ]] && ! cmp -s ${verified} ${config}; then`,
    "    why=$(why_not_running)",
    `    place ${verified} ${config} 0644`,
    "    if restarted; then",
    `      fail "containerd did not start with the new ${PATHS.containerdConfig}, so the one it last ran with is back in place and containerd runs with it; fix the change and apply again. Why it did not start:`,
    '$why"',
    "    fi",
    `    fail_not_running "restart, nor with the ${PATHS.containerdConfig} it last ran with"`,
    "  fi",
    '  fail_not_running "restart"',
    "fi",
    'echo "containerd restarted ($containerd_build build $containerd_version)"',
  );
}

/** What verify expects of the running runtime. */
export interface VerifyExpectations {
  containerdVersion: string;
  systemdCgroup: boolean;
  /** Lines of `containerd config dump` (whitespace folded) that must be present, one set per rendered key. */
  configDump: ConfigExpectation[];
}

/**
 * Asks the runtime itself, through CRI on its socket (`crictl version`, `crictl info`),
 * what it is, and checks `containerd config dump` for every rendered key.
 * Prints `crictl version`'s answer plus the cgroup driver and CNI status it saw.
 *
 * Its standard input is the digest of every other step's scripts and input (see `planDigest`),
 * recorded on the worker once verified: it changes with any other step, so verify runs again, and
 * it is a digest of secrets too, so it never stands in this text.
 */
export function verifyScript(label: StepLabel, expect: VerifyExpectations): string {
  const expectedDriver = expect.systemdCgroup ? "systemd" : "cgroupfs";
  // Each rendered key as values (its name, the tables it may stand in, the lines that show it), checked by check_dump.
  const dumpChecks = expect.configDump.map(({ key, headers, lines }, index) =>
    [
      assignments({ [`key_${index}`]: key, [`headers_${index}`]: headers, [`lines_${index}`]: lines }),
      `check_dump "$key_${index}" "\${#headers_${index}[@]}" "\${headers_${index}[@]}" "\${lines_${index}[@]}"`,
    ].join("\n"),
  );
  return script(
    scriptHeader(label),
    PLACE_FUNCTION,
    `crictl=${PATHS.crictlBinDir}/crictl`,
    assignments({ expected_version: expect.containerdVersion, proxy_env: PATHS.containerdProxyEnv }),
    'IFS= read -r plan_sha256 || fail "no plan digest on standard input"',
    'systemctl is-enabled --quiet containerd || fail "containerd is not enabled"',
    'systemctl is-active --quiet containerd || fail "containerd is not active"',
    TEMP_DIR,
    "# The config dump needs no socket: it runs while CRI is asked.",
    `${PATHS.containerdBinDir}/containerd config dump >"$work/dump" 2>&1 &`,
    "dump_pid=$!",
    "# The socket can lag the unit's readiness by a moment after a restart.",
    "for attempt in 1 2 3 4 5 6 7 8 9 10; do",
    '  if version=$("$crictl" version 2>&1); then break; fi',
    '  (( attempt < 10 )) || fail "crictl version failed: $version"',
    "  sleep 1",
    "done",
    'field() { sed -n "s/^$1:[[:space:]]*//p" <<<"$version" | head -n 1; }',
    "name=$(field RuntimeName) runtime_version=$(field RuntimeVersion) api=$(field RuntimeApiVersion)",
    "[[ $name == containerd ]] || fail \"the CRI runtime is '$name', expected containerd\"",
    "[[ $api == v1 ]] || fail \"the CRI API is '$api', expected v1\"",
    "case ${runtime_version#v} in",
    '  "$expected_version" | "$expected_version"[+~-]*) ;;',
    '  *) fail "CRI reports containerd $runtime_version, expected $expected_version" ;;',
    "esac",
    'info=$("$crictl" info 2>&1) || fail "crictl info failed: $info"',
    "# The proxy environment (a root-only file: it may hold credentials) is containerd's own. Names only in errors.",
    "if [[ -f $proxy_env ]]; then",
    "  pid=$(systemctl show -p MainPID --value containerd)",
    "  environ=$(tr '\\0' '\\n' <\"/proc/$pid/environ\")",
    "  while IFS= read -r pair; do",
    '    [[ -z $pair ]] || grep -Fxq -- "$pair" <<<"$environ" || fail "containerd\'s environment lacks ${pair%%=*} from $proxy_env"',
    '  done <"$proxy_env"',
    "fi",
    // The driver runc gets from containerd, as CRI reports it: SystemdCgroup in the runc options.
    'if grep -Eq \'"SystemdCgroup": *true\' <<<"$info"; then driver=systemd; else driver=cgroupfs; fi',
    `[[ $driver == ${expectedDriver} ]] || fail "crictl info shows the $driver cgroup driver, expected ${expectedDriver}"`,
    'wait "$dump_pid" || fail "containerd config dump failed: $(cat "$work/dump")"',
    "dump=$(awk '{ $1 = $1; print }' \"$work/dump\")",
    "# The lines of the dump's table with any of the given headers; '' for the top-level keys.",
    "# The headers reach awk through its environment: -v would read backslashes in a key as escapes.",
    "section() {",
    `  headers="$(printf '%s\\n' "$@")" awk 'BEGIN { n = split(ENVIRON["headers"], h, "\\n"); on = (n == 0) }`,
    '    /^\\[/ { on = 0; for (i = 1; i <= n; i++) if ($0 == h[i]) on = 1; next } on\' <<<"$dump"',
    "}",
    "# check_dump KEY N HEADER... LINE...: the dump shows one of the LINEs in one of the N HEADERs' tables.",
    "check_dump() {",
    "  local key=$1 n=$2 line patterns=()",
    "  shift 2",
    '  local headers=("${@:1:n}") lines=("${@:n+1}")',
    '  for line in "${lines[@]}"; do patterns+=(-e "$line"); done',
    '  grep -Fxq "${patterns[@]}" <<<"$(section "${headers[@]}")" ||',
    "    fail \"containerd config dump does not show $key as rendered (expected: $(printf '%s or ' \"${lines[@]}\" | sed 's/ or $//'))\"",
    "}",
    ...dumpChecks,
    'cni=$(sed -n \'s/^ *"lastCNILoadStatus": *"\\(.*\\)",\\{0,1\\}$/\\1/p\' <<<"$info" | head -n 1)',
    `mkdir -p ${PATHS.manifestDir}`,
    `printf '%s\\n' "$plan_sha256" >${VERIFIED_PLAN_FILE}`,
    "# The config this containerd runs with, proven: what restart puts back if a new one will not start.",
    `place ${shellQuote(PATHS.containerdConfig)} ${shellQuote(VERIFIED_CONFIG_FILE)} 0644`,
    'printf \'%s\\nCgroupDriver:  %s\\nLastCNILoadStatus:  %s\\n\' "$version" "$driver" "${cni:-unknown}"',
  );
}
