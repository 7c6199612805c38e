import { createHash } from "node:crypto";
import { CONTROL_CHARACTERS } from "../inputs/controlCharacters";

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

/**
 * The one way a user's value enters a script: `name='value'` assignments at its top (a list becomes a
 * bash array, `name=('a' 'b')`), used as `"$name"` after, never spliced into double-quoted or unquoted
 * text. (The script files' places, see scriptFiles.ts, take only catalog words, step ids, numbers and
 * validated versions.)
 */
export function assignments(values: Readonly<Record<string, ShellValue>>): string {
  return Object.entries(values)
    .map(([name, value]) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a shell variable name: ${name}`);
      const words = quotedWords(name, value);
      return typeof value === "string" || typeof value === "number" ? `${name}=${words}` : `${name}=(${words})`;
    })
    .join("\n");
}

/** A value a script is given: one word, or a list of words. */
export type ShellValue = string | number | readonly string[];

/**
 * `value` as single-quoted shell words, separated by spaces (a list gives one word per item): how
 * `assignments` and the `'@name@'` places of the script files (see scriptFiles.ts) quote. `name` is what
 * an error names: a control character is refused.
 */
export function quotedWords(name: string, value: ShellValue): string {
  const quoted = (item: string | number): string => {
    const text = String(item);
    if (CONTROL_CHARACTERS.test(text)) throw new Error(`the value of ${name} holds a control character`);
    return shellQuote(text);
  };
  return typeof value === "string" || typeof value === "number" ? quoted(value) : value.map(quoted).join(" ");
}

/** Prefix of the word that ends the quoted here-document carrying a root script. */
export const SCRIPT_DELIMITER_PREFIX = "CONTAINERD_WORKER_SCRIPT_";

/**
 * The here-document delimiter of a root script: its prefix and a digest of the script itself, so
 * no script can hold the line that ends it (that would need a text that contains its own digest).
 */
export function scriptDelimiter(rootScript: string): string {
  return `${SCRIPT_DELIMITER_PREFIX}${createHash("sha256").update(rootScript).digest("hex").slice(0, 20)}`;
}

/**
 * The command string `remote.Command` sends: runs `rootScript` with bash as root,
 * directly when the SSH user is root and through one `sudo -n` otherwise. Standard
 * input passes through to the script (file contents and secrets travel that way). The
 * script rides in a quoted here-document, so it reads in a diff exactly as written;
 * its delimiter is derived from its text (see scriptDelimiter), and bash 5.2 also ends
 * such a here-document at a line that only starts with the delimiter, so no line may.
 * The wrapper is POSIX sh because it runs in the SSH user's login shell.
 */
export function rootCommand(label: StepLabel, rootScript: string): string {
  const delimiter = scriptDelimiter(rootScript);
  if (rootScript.includes(delimiter)) {
    throw new Error(`a script holds its own here-document delimiter ${delimiter}`);
  }
  // dash (Debian's and Ubuntu's sh) loses the byte that follows a part of the delimiter at a line's start
  // when that byte is not ASCII, so the script would not arrive as written.
  const mangled = rootScript.split("\n").find((line) => {
    let matched = 0;
    while (matched < line.length && line[matched] === delimiter[matched]) matched++;
    return matched > 0 && matched < line.length && line.charCodeAt(matched) > 0x7f;
  });
  if (mangled !== undefined) {
    throw new Error(
      `a script line starts with part of its here-document delimiter and then a non-ASCII character: ${mangled}`,
    );
  }
  const sudoMissing =
    "%s user %s cannot run sudo without a password (sudo -n failed). " +
    "Give it passwordless sudo, as EC2's default users have, or connect as root.\\n";
  return script(
    "set -eu",
    `root_script=$(cat <<'${delimiter}'`,
    rootScript.replace(/\n$/, ""),
    delimiter,
    ")",
    'if [ "$(id -u)" -eq 0 ]; then exec bash -c "$root_script" containerd-worker; fi',
    "# One sudo per step; only when the step failed is sudo asked again, to tell a password prompt apart.",
    "status=0",
    'sudo -n bash -c "$root_script" containerd-worker || status=$?',
    'if [ "$status" -ne 0 ] && ! sudo -n true 2>/dev/null; then',
    `  printf ${shellQuote(sudoMissing)} ${shellQuote(failurePrefix(label))} "$(id -un)" >&2`,
    "fi",
    'exit "$status"',
  );
}
