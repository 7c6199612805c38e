/**
 * Renders the root script of every step. Pure: the same options give the same
 * text, so an unchanged worker gives the engine nothing to run, and a changed
 * option changes exactly the scripts that use it.
 *
 * Every script is idempotent (running it twice leaves the host as running it
 * once) and puts nothing in place until it has been downloaded, verified and
 * proven to run: a failure leaves the host as it was.
 *
 * The bash is in `scripts/*.sh` (see scriptFiles.ts): each function here chooses the pieces of a
 * step's script and the values they are given, nothing more.
 */
import { Artifact, ArchChoice, PATHS } from "../catalog/catalog";
import type { ConfigExpectation } from "../render/containerdConfig";
import { renderProxyDropIn } from "../render/containerdUnit";
import { adoptedCopies, generationFile, manifestFile } from "../catalog/records";
import { assignments, script, scriptHeader, StepLabel } from "./shell";
import { piece } from "./scriptFiles";
import { INSTALL_STEP, StepId } from "../catalog/stepIds";

/** The values of a step's adoption: its copies directory and its record. */
function adoption(step: StepId): { keep: string; record: string } {
  return { keep: adoptedCopies(step), record: manifestFile(step) };
}

/**
 * Readiness and preflight, the first step on a worker (see ready.sh): `expectedArch` is checked against
 * the machine, or reported back when it is auto; `timeoutSeconds` bounds the wait for cloud-init.
 */
export function readyScript(label: StepLabel, expectedArch: ArchChoice, timeoutSeconds: number): string {
  return script(
    scriptHeader(label),
    assignments({ expected_arch: expectedArch, ready_timeout: timeoutSeconds }),
    piece("ready.sh", "ready"),
  );
}

/**
 * Downloads, checks, runs and installs one release artifact (see install.sh). `artifact` has its URLs
 * relative to the download base URL (see `artifactFor` with base ""), which arrives on standard input.
 */
export function installScript(label: StepLabel, artifact: Artifact, pinnedChecksum?: string): string {
  if (!artifact.url.startsWith("/")) throw new Error(`installScript: ${artifact.url} is not relative to the base URL`);
  const step = INSTALL_STEP[artifact.part];
  const { packaging, selfCheck } = artifact;
  const dir =
    packaging.kind === "tarball"
      ? packaging.intoDir
      : packaging.installAs.slice(0, packaging.installAs.lastIndexOf("/"));
  const checksum =
    pinnedChecksum === undefined
      ? [
          piece("install.sh", "checksum-download"),
          piece("install.sh", `pick-${artifact.checksumFormat}`),
          piece("install.sh", "checksum-check"),
        ]
      : [assignments({ expected: pinnedChecksum })];
  const unpack =
    packaging.kind === "binary"
      ? piece("install.sh", "unpack-binary", {
          name: packaging.installAs.slice(packaging.installAs.lastIndexOf("/") + 1),
          install_as: packaging.installAs,
        })
      : piece("install.sh", "unpack-tarball", { member: packaging.member });
  const run =
    selfCheck.run === "cni-version"
      ? "run-cni-version"
      : artifact.needsGlibc
        ? "run-version-flag-glibc"
        : "run-version-flag";
  return script(
    scriptHeader(label),
    assignments({
      part: artifact.part,
      version: artifact.version,
      file: artifact.fileName,
      url_path: artifact.url,
      ...(pinnedChecksum === undefined ? { checksum_path: artifact.checksumUrl } : {}),
      manifest: manifestFile(step),
    }),
    piece("install.sh", "read-base-url"),
    piece("lib.sh", "work"),
    assignments({ dir }),
    piece("install.sh", "stage", { step }),
    piece("lib.sh", "place"),
    piece("lib.sh", "adopt"),
    piece("install.sh", `fetch-${packaging.kind}`),
    ...checksum,
    piece("install.sh", "compare-checksum"),
    unpack,
    piece("install.sh", "self-check"),
    piece("install.sh", run, { binary: selfCheck.binary }),
    piece("install.sh", "check-answer", {
      binary: selfCheck.binary,
      expect_text: selfCheck.expect.text,
      expect_what: selfCheck.expect.what,
    }),
    piece("install.sh", "put-in-place", adoption(step)),
  );
}

/** Removes exactly the files the install step recorded, and gives back what it adopted. */
export function uninstallScript(label: StepLabel, artifact: Artifact): string {
  const step = INSTALL_STEP[artifact.part];
  return script(
    scriptHeader(label),
    assignments({ manifest: manifestFile(step) }),
    piece("install.sh", "uninstall"),
    piece("lib.sh", "adopt"),
    piece("install.sh", "give-back", { ...adoption(step), part: artifact.part }),
  );
}

/** Writes a configuration file sent on standard input (config.toml, crictl.yaml), adopting the operator's. */
export function writeFileScript(label: StepLabel, path: string): string {
  return script(
    scriptHeader(label),
    piece("lib.sh", "adopt"),
    piece("lib.sh", "adopt-file", { ...adoption(label.step as StepId), path }),
    ...writeStdin(path),
    piece("lib.sh", "write", { mode: "0644" }),
    piece("file.sh", "report"),
  );
}

/** The pieces that read standard input, to be written to `path` (by lib.sh's write or write-or-remove). */
function writeStdin(path: string): string[] {
  return [
    piece("lib.sh", "place"),
    assignments({ target: path }),
    piece("lib.sh", "work"),
    piece("lib.sh", "read-content"),
  ];
}

/**
 * Gives back the file a step wrote (config.toml, crictl.yaml) on destroy: the operator's file it adopted
 * goes back; one it wrote over nothing is removed, and its directory if left empty (never /etc).
 */
export function giveBackFileScript(label: StepLabel, step: StepId, path: string): string {
  const dir = path.slice(0, path.lastIndexOf("/"));
  return script(
    scriptHeader(label),
    piece("lib.sh", "adopt"),
    piece("file.sh", "give-back", adoption(step)),
    dir === "/etc" ? "" : piece("file.sh", "remove-dir", { dir }),
    piece("file.sh", "given-back", { path }),
  );
}

/** Removes the records the verify step kept, on destroy. */
export function removeVerifiedScript(label: StepLabel): string {
  return script(scriptHeader(label), piece("verify.sh", "remove"));
}

/**
 * Records on the worker that a step has run at `generation`, and the sha256 of
 * the file it wrote, if it wrote one (install steps record their own files).
 * See hostDrift.ts.
 */
export function recordRun(step: StepId, generation: number, writtenFile?: string): string {
  return [
    piece("lib.sh", "record-dir"),
    ...(writtenFile === undefined
      ? []
      : [piece("lib.sh", "record-file", { written: writtenFile, record: manifestFile(step) })]),
    piece("lib.sh", "record-generation", { generation, generation_file: generationFile(step) }),
  ].join("\n");
}

/** Forgets a step's records on destroy, and the record directory once it is empty. */
export function forgetRun(step: StepId): string {
  return piece("lib.sh", "forget-run", { generation_file: generationFile(step), record: manifestFile(step) });
}

/**
 * Writes the proxy environment sent on standard input to a root-only file and the drop-in that names it,
 * or removes both when the input is empty (see proxy.sh).
 */
export function proxyDropInScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    assignments({ drop_in: PATHS.containerdProxyDropIn }),
    ...writeStdin(PATHS.containerdProxyEnv),
    piece("lib.sh", "write-or-remove", { mode: "0600" }),
    piece("proxy.sh", "drop-in", { drop_in_lines: renderProxyDropIn().replace(/\n$/, "").split("\n") }),
  );
}

/** Removes the proxy environment and its drop-in on destroy (after the unit step has stopped containerd). */
export function removeProxyDropInScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    assignments({ drop_in: PATHS.containerdProxyDropIn, env_file: PATHS.containerdProxyEnv }),
    piece("proxy.sh", "remove"),
  );
}

/** A path in the registry stream: `<registry>/hosts.toml` or `<registry>/ca-<n>.crt`, never `.` or `..`. */
const REGISTRY_FILE_PATTERN = "^(_default|[A-Za-z0-9][A-Za-z0-9.:-]*)/(hosts\\.toml|ca-[0-9]+\\.crt)$";

/** Makes the registry directory hold exactly the files sent on standard input (see registries.sh). */
export function registriesScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    piece("lib.sh", "place"),
    assignments({
      dir: PATHS.registryConfigDir,
      manifest: manifestFile("registries"),
      pattern: REGISTRY_FILE_PATTERN,
    }),
    piece("lib.sh", "work"),
    piece("registries.sh", "write"),
  );
}

/** Removes every registry file the registries step wrote, and the directories left empty. */
export function removeRegistriesScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    assignments({ dir: PATHS.registryConfigDir, manifest: manifestFile("registries") }),
    piece("registries.sh", "remove"),
  );
}

/**
 * Installs the containerd unit from standard input, enables it and makes sure
 * containerd runs; restarts it only when the unit text changed.
 */
export function unitScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    piece("lib.sh", "journal"),
    piece("lib.sh", "adopt"),
    piece("lib.sh", "unit-adopt"),
    piece("unit.sh", "adopt"),
    ...writeStdin(PATHS.containerdUnit),
    piece("lib.sh", "write", { mode: "0644" }),
    piece("unit.sh", "start"),
  );
}

/** Stops and disables containerd, then removes its unit, and puts back the operator's. */
export function removeUnitScript(label: StepLabel): string {
  return script(
    scriptHeader(label),
    piece("lib.sh", "adopt"),
    piece("lib.sh", "unit-adopt"),
    piece("unit.sh", "remove"),
  );
}

/** How long containers get to exit after SIGTERM on destroy before they are killed: 10 s (reset.sh). */
export const STOP_GRACE_SECONDS = 10;

/** The state directories `purgeStateOnDestroy` removes (reset.sh). */
export const PURGED_STATE_DIRS = [PATHS.containerdState, PATHS.containerdRoot, PATHS.cniState] as const;

/**
 * Stops everything containerd runs, then containerd itself, on destroy (see reset.sh); with
 * `purgeState`, removes the state directories too.
 */
export function resetScript(label: StepLabel, purgeState: boolean): string {
  return script(
    scriptHeader(label),
    piece("reset.sh", "stop"),
    piece("reset.sh", "shims"),
    piece("reset.sh", "kill-and-unmount"),
    piece("reset.sh", purgeState ? "purge" : "keep"),
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
 * Restarts containerd so it loads the installed binary and config (see restart.sh), once the other
 * steps have put `state` in place. Its standard input is the proxy environment, so a new proxy restarts too.
 */
export function restartScript(label: StepLabel, state: RuntimeState): string {
  return script(
    scriptHeader(label),
    piece("lib.sh", "journal"),
    piece("lib.sh", "place"),
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
    piece("restart.sh", "check-installed"),
    piece("restart.sh", "restart"),
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
 * Asks the runtime itself what it is, and checks `containerd config dump` for every rendered key (see
 * verify.sh). Its standard input is the digest of every other step's scripts and input (see `planDigest`).
 */
export function verifyScript(label: StepLabel, expect: VerifyExpectations): string {
  // Each rendered key as values (its name, the tables it may stand in, the lines that show it), checked by check_dump.
  const dumpChecks = expect.configDump.flatMap(({ key, headers, lines }, index) => [
    assignments({ [`key_${index}`]: key, [`headers_${index}`]: headers, [`lines_${index}`]: lines }),
    piece("verify.sh", "check-dump", { index }),
  ]);
  return script(
    scriptHeader(label),
    piece("lib.sh", "place"),
    piece("verify.sh", "crictl"),
    assignments({ expected_version: expect.containerdVersion, proxy_env: PATHS.containerdProxyEnv }),
    piece("verify.sh", "read-digest"),
    piece("lib.sh", "work"),
    piece("verify.sh", "ask", { driver: expect.systemdCgroup ? "systemd" : "cgroupfs" }),
    ...dumpChecks,
    piece("verify.sh", "record"),
  );
}
