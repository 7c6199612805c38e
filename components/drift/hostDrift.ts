/**
 * Host drift: what changed on a worker behind Pulumi's back (an edited
 * config.toml, a stopped or disabled containerd, a replaced binary, a removed
 * crictl.yaml). `remote.Command` has no Read, so `pulumi refresh` cannot see
 * any of it; instead the component reads the worker with one read-only SSH
 * round trip on every preview and up, and turns each drifted part into a
 * change of that part's step.
 *
 * How a drift becomes a change that settles: each step records on the worker
 * how many times it has been repaired (`<step>.generation`) and carries that
 * number in its script. A drifted part asks for the next number, so its step
 * differs from the state and runs; once it has run, the worker holds the new
 * number and the next preview asks for the same one: no perpetual diff.
 */
import { PATHS } from "../catalog/catalog";
import { DRIFTING_STEPS, DriftingStep, INSTALL_STEP, StepId } from "../catalog/stepIds";
import { adoptedCopies } from "../catalog/records";

/**
 * Where each step writes, for the probe to find files there that the component does not own yet: files a
 * step adopts (keeps aside) before its first overwrite. An install step's exact files are known only once
 * its release is unpacked, so these are the names releases ship (every file in /opt/cni/bin for the plugins).
 * The registry files are not adopted: the registries step leaves files it did not write alone.
 */
export const WRITTEN_PATHS: Readonly<Record<DriftingStep, readonly string[]>> = {
  runc: [PATHS.runcBinary],
  containerd: ["containerd", "containerd-shim*", "ctr", "containerd-stress"].map(
    (name) => `${PATHS.containerdBinDir}/${name}`,
  ),
  "cni-plugins": [`${PATHS.cniBinDir}/*`],
  crictl: [`${PATHS.crictlBinDir}/crictl`],
  config: [PATHS.containerdConfig],
  registries: [],
  "crictl-yaml": [PATHS.crictlConfig],
  unit: [PATHS.containerdUnit],
};

/**
 * The read-only probe, run as the SSH user: everything it reads is world-readable but the
 * root-only files the component wrote (hosts.toml), whose digest it asks `sudo -n` for; one it
 * cannot read is `unreadable`, not drift. POSIX sh, since it runs in the user's login shell. One line
 * per fact: `service <active|enabled> <state>`, `record <step> <checked|missing>`,
 * `changed <step> <path> <missing | recorded-sha256 actual-sha256>`, `generation <step> <n>`,
 * `unowned <step> <path>` (a file where the step writes that its record does not list: it will adopt it).
 */
export function probeScript(): string {
  return [
    "set -eu",
    `dir=${PATHS.manifestDir}`,
    'echo "service active $(systemctl is-active containerd 2>/dev/null || true)"',
    'echo "service enabled $(systemctl is-enabled containerd 2>/dev/null || true)"',
    `for step in ${DRIFTING_STEPS.join(" ")}; do`,
    '  if [ -r "$dir/$step.files" ]; then',
    "    while read -r want path; do",
    '      if [ ! -e "$path" ]; then',
    '        echo "changed $step $path missing"',
    "      else",
    "        # A root-only file (hosts.toml may hold credentials): its digest comes from sudo -n sha256sum alone.",
    '        if [ -r "$path" ]; then have=$(sha256sum "$path" | cut -d" " -f1)',
    '        else have=$(sudo -n sha256sum "$path" 2>/dev/null | cut -d" " -f1); fi',
    '        if [ -z "$have" ]; then echo "unreadable $step $path"',
    '        elif [ "$have" != "$want" ]; then echo "changed $step $path $want $have"; fi',
    "      fi",
    '    done <"$dir/$step.files"',
    '    echo "record $step checked"',
    "  else",
    '    echo "record $step missing"',
    "  fi",
    "done",
    'for file in "$dir"/*.generation; do',
    '  [ -r "$file" ] || continue',
    "  step=${file##*/}",
    '  echo "generation ${step%.generation} $(cat "$file")"',
    "done",
    "# Files where a step writes that its record does not list: the operator's, which the step adopts.",
    'owned() { [ -r "$dir/$1.files" ] && cut -d" " -f3- "$dir/$1.files" | grep -Fqx -- "$2"; }',
    "# unowned STEP binary|file PATH...: of a release, only its executables are put in place (no LICENSE or README).",
    "unowned() {",
    "  step=$1 kind=$2",
    "  shift 2",
    '  for path in "$@"; do',
    '    if [ "$kind" = binary ]; then',
    '      if ! { [ -f "$path" ] && [ -x "$path" ]; }; then continue; fi',
    '    elif ! { [ -f "$path" ] || [ -L "$path" ]; }; then',
    "      continue",
    "    fi",
    '    owned "$step" "$path" || echo "unowned $step $path"',
    "  done",
    "}",
    ...DRIFTING_STEPS.filter((step) => WRITTEN_PATHS[step].length > 0).map((step) => {
      const kind = (Object.values(INSTALL_STEP) as string[]).includes(step) ? "binary" : "file";
      return `unowned ${step} ${kind} ${WRITTEN_PATHS[step].join(" ")}`;
    }),
    "",
  ].join("\n");
}

/** What the probe saw on one worker. */
export interface HostState {
  active: string;
  enabled: string;
  /** Per step: `undefined` when it has no record, else how each recorded file that no longer matches differs. */
  changed: Partial<Record<DriftingStep, string[]>>;
  /** How many times each step has been repaired on this worker. */
  generations: Partial<Record<StepId, number>>;
  /** Per step: files where it writes that are not the component's yet (it adopts them). */
  unowned: Partial<Record<DriftingStep, string[]>>;
}

function short(sha: string): string {
  return `${sha.slice(0, 12)}…`;
}

function isDriftingStep(value: string): value is DriftingStep {
  return (DRIFTING_STEPS as readonly string[]).includes(value);
}

export function parseHostState(stdout: string): HostState {
  const state: HostState = { active: "", enabled: "", changed: {}, generations: {}, unowned: {} };
  for (const line of stdout.split("\n")) {
    const [kind, key = "", ...rest] = line.trim().split(" ");
    const value = rest.join(" ");
    if (kind === "service" && key === "active") state.active = value;
    else if (kind === "service" && key === "enabled") state.enabled = value;
    else if (kind === "record" && isDriftingStep(key) && value === "checked") state.changed[key] ??= [];
    else if (kind === "changed" && isDriftingStep(key)) {
      const [path = "", recorded = "", actual = ""] = rest;
      (state.changed[key] ??= []).push(
        recorded === "missing"
          ? `${path} is missing`
          : `${path} changed (sha256 ${short(actual)} on the worker, ${short(recorded)} as put in place)`,
      );
    } else if (kind === "unowned" && isDriftingStep(key) && value !== "") {
      (state.unowned[key] ??= []).push(value);
    } else if (kind === "generation" && /^\d+$/.test(value)) {
      state.generations[key as StepId] = Number(value);
    }
  }
  return state;
}

/** A drifted part, named for the user. */
export interface Drift {
  step: DriftingStep;
  what: string;
}

/** Files of the operator's a step will adopt: keep aside before its first overwrite, and put back on destroy. */
export interface Adoption {
  step: DriftingStep;
  paths: string[];
}

export interface DriftAssessment {
  /** Nothing of the component is on the worker yet: a first install, not a drift. */
  fresh: boolean;
  drifts: Drift[];
  adoptions: Adoption[];
  /** The generation each step must carry: the worker's, plus one where the part drifted. */
  generations: Record<DriftingStep, number>;
}

/** Finds what changed on the worker since the component last put it there. Pure. */
export function assessDrift(state: HostState): DriftAssessment {
  const fresh = DRIFTING_STEPS.every((step) => state.changed[step] === undefined);
  const drifts: Drift[] = [];
  if (!fresh) {
    for (const step of DRIFTING_STEPS) {
      const changed = state.changed[step];
      if (changed === undefined) drifts.push({ step, what: "its record of what it installed is missing" });
      else if (changed.length > 0) drifts.push({ step, what: changed.join("; ") });
    }
    if (state.active !== "active") drifts.push({ step: "unit", what: `containerd is ${state.active || "not loaded"}` });
    if (state.enabled !== "enabled") {
      drifts.push({ step: "unit", what: `containerd is ${state.enabled || "not installed"} at boot` });
    }
  }
  const generations = {} as Record<DriftingStep, number>;
  for (const step of DRIFTING_STEPS) {
    const current = state.generations[step] ?? 0;
    generations[step] = drifts.some((drift) => drift.step === step) ? current + 1 : current;
  }
  const adoptions = DRIFTING_STEPS.flatMap((step) => {
    const paths = state.unowned[step] ?? [];
    return paths.length > 0 ? [{ step, paths }] : [];
  });
  return { fresh, drifts, adoptions, generations };
}

/** The warning that names files a step will adopt on a worker: during preview (`dryRun`) or this up. */
export function adoptionMessage(worker: string, { step, paths }: Adoption, dryRun: boolean): string {
  const one = paths.length === 1;
  return (
    `adopting on worker ${worker}, step ${step}: ${paths.join(", ")} ${one ? "is" : "are"} on the worker but not ` +
    `the component's; ${dryRun ? "the next up" : "this up"} keeps ${one ? "it" : "each one it overwrites"} aside ` +
    `in ${adoptedCopies(step)}${one ? " before overwriting it" : ""}, and destroy puts ${one ? "it" : "them"} back`
  );
}
