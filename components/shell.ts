/**
 * Quoting and the shape every remote script shares.
 *
 * A step's script is a bash program that runs as root; `rootCommand` wraps it
 * in the small POSIX prelude that `remote.Command` actually sends, which gets
 * root through `sudo -n` (there is no pty, so a password prompt would hang)
 * and turns a sudo that wants a password into a clear error.
 */

/** Quotes a value as one single-quoted shell word. The only quoting helper in the project. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Who and what a script is for; every failure message names both. */
export interface StepLabel {
  worker: string;
  step: string;
}

/** The message prefix a user sees when a step fails on a worker. */
export function failurePrefix({ worker, step }: StepLabel): string {
  return `containerd-worker: worker ${worker}, step ${step}:`;
}

/**
 * Starts a root bash script: strict mode, and `fail` that prints the worker,
 * the step and the reason on stderr and exits non-zero.
 */
export function scriptHeader(label: StepLabel): string {
  const lock = `/run/containerd-worker.${label.step.replace(/[^A-Za-z0-9-]/g, "_")}.lock`;
  return [
    "set -euo pipefail",
    `fail() { printf '%s %s\\n' ${shellQuote(failurePrefix(label))} "$*" >&2; exit 1; }`,
    "# One run of a step at a time: a run left going by an interrupted apply finishes first.",
    `exec 9>${lock}`,
    'flock -w 600 9 || fail "another run of this step has held its lock for 10 minutes"',
  ].join("\n");
}

/** Joins script fragments into one script ending in a newline. */
export function script(...parts: string[]): string {
  return `${parts.filter((part) => part.length > 0).join("\n")}\n`;
}

/** Ends the quoted here-document that carries a root script; no script line may equal it. */
export const SCRIPT_DELIMITER = "CONTAINERD_WORKER_ROOT_SCRIPT";

/**
 * The command string `remote.Command` sends: runs `rootScript` with bash as root,
 * directly when the SSH user is root and through `sudo -n` otherwise. Standard
 * input passes through to the script (file contents travel that way). The
 * script rides in a quoted here-document, so it reads in a diff exactly as written.
 * The wrapper is POSIX sh because it runs in the SSH user's login shell.
 */
export function rootCommand(label: StepLabel, rootScript: string): string {
  if (rootScript.split("\n").includes(SCRIPT_DELIMITER)) {
    throw new Error(`a script line equals the here-document delimiter ${SCRIPT_DELIMITER}`);
  }
  const sudoMissing =
    "%s user %s cannot run sudo without a password (sudo -n true failed). " +
    "Give it passwordless sudo, as EC2's default users have, or connect as root.\\n";
  return script(
    "set -eu",
    `root_script=$(cat <<'${SCRIPT_DELIMITER}'`,
    rootScript.replace(/\n$/, ""),
    SCRIPT_DELIMITER,
    ")",
    'if [ "$(id -u)" -eq 0 ]; then exec bash -c "$root_script" containerd-worker; fi',
    "if ! sudo -n true 2>/dev/null; then",
    `  printf ${shellQuote(sudoMissing)} ${shellQuote(failurePrefix(label))} "$(id -un)" >&2`,
    "  exit 1",
    "fi",
    'exec sudo -n bash -c "$root_script" containerd-worker',
  );
}
