/**
 * The steps that make one worker's container runtime, as plain data: each
 * step's commands, standard input and dependencies. The component turns each
 * step into a `remote.Command`; tests and the end-to-end driver read it directly.
 */
import { createHash } from "node:crypto";
import { Arch, artifactFor, Part, PATHS } from "../catalog/catalog";
import { RenderCache } from "../render/renderCache";
import { renderContainerdConfig, RenderedConfig } from "../render/containerdConfig";
import { renderContainerdUnit, renderProxyEnvironment } from "../render/containerdUnit";
import { renderCrictlConfig } from "../render/crictlConfig";
import { InvalidInputError } from "../inputs/errors";
import { urlForDisplay, WorkerOptions } from "../inputs/options";
import { registryStream, renderRegistryFiles } from "../render/registryHosts";
import { DriftingStep, DRIFTING_STEPS, INSTALL_STEP, StepId } from "../catalog/stepIds";
import {
  forgetRun,
  giveBackFileScript,
  installScript,
  proxyDropInScript,
  removeProxyDropInScript,
  readyScript,
  recordRun,
  registriesScript,
  removeRegistriesScript,
  removeVerifiedScript,
  removeUnitScript,
  resetScript,
  restartScript,
  uninstallScript,
  unitScript,
  verifyScript,
  writeFileScript,
} from "../worker/scripts";
import { rootCommand, StepLabel } from "../worker/shell";

/** The longest command a step may send: Linux takes at most 128 KiB in one argument (MAX_ARG_STRLEN). */
export const MAX_SCRIPT_KIB = 120;

/** One child command: what `remote.Command` gets, apart from the connection. */
export interface Step {
  id: StepId;
  /** Runs when the step is created, and again on any change when `update` is absent. */
  create?: string;
  /** Runs instead of `create` when an input changed. */
  update?: string;
  /** Runs on destroy. */
  delete?: string;
  /** File content the script writes, sent on standard input. */
  stdin?: string;
  /** Steps that must have finished first. */
  dependsOn: StepId[];
}

export interface WorkerPlan {
  steps: Step[];
  config: RenderedConfig;
  unit: string;
  crictlConfig: string;
  /** What the registries step sends: every hosts.toml and CA file, framed (see registryStream). */
  registryStream: string;
}

/** What a fleet's workers share: the config, the unit, crictl.yaml and the registry files. */
const shared = new RenderCache<unknown>(256);
/** `render()`, made once per `key` (see RenderCache). */
const renderedOnce = <T>(key: readonly unknown[], render: () => T): T => shared.get(key, render) as T;

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Renders every step of a worker. Dependencies are only the real ones: the
 * four installs, the config, the registry files and crictl.yaml run in
 * parallel after `ready`; the unit needs runc, containerd, the CNI plugins and
 * the config; `restart` reloads containerd when the config or its version
 * changes, and never for the registry files, which containerd reads on every
 * pull; `verify` needs the running runtime, crictl, crictl.yaml and the
 * registry files (so the plan it records includes them); `reset` stops every
 * container on destroy, before the unit step's delete disables containerd.
 *
 * With `arch: "auto"`, `workerArch` is the arch the worker's ready step
 * reported; the installs download for it.
 */
export function planWorker(
  worker: string,
  options: WorkerOptions,
  generations: Partial<Record<DriftingStep, number>> = {},
  workerArch?: Arch,
): WorkerPlan {
  const arch = options.arch === "auto" ? workerArch : options.arch;
  if (arch === undefined) throw new Error(`planWorker(${worker}): arch is auto; pass the arch the worker reported`);
  const label = (step: StepId): StepLabel => ({ worker, step });
  const generation = (step: StepId): number | undefined =>
    (DRIFTING_STEPS as readonly string[]).includes(step) ? (generations[step as DriftingStep] ?? 0) : undefined;
  // A step whose result can drift records its generation (and the file it wrote) when it runs,
  // and forgets both on destroy.
  const writtenFile: Partial<Record<StepId, string>> = {
    config: PATHS.containerdConfig,
    "crictl-yaml": PATHS.crictlConfig,
    unit: PATHS.containerdUnit,
  };
  const command = (step: StepId, body: string, kind: "create" | "delete" = "create"): string => {
    const n = generation(step);
    const record = n === undefined ? "" : kind === "create" ? recordRun(step, n, writtenFile[step]) : forgetRun(step);
    const text = rootCommand(label(step), n === undefined ? body : `${body}${record}\n`);
    // The root script rides in one argument of bash -c, and Linux takes at most 128 KiB in one argument.
    const kib = Math.ceil(Buffer.byteLength(text) / 1024);
    if (kib > MAX_SCRIPT_KIB) {
      // Only containerdSettings can make a script this long; file contents travel on standard input.
      throw new InvalidInputError(
        "containerdSettings",
        `makes the ${step} step's script ${kib} KiB, over the ${MAX_SCRIPT_KIB} KiB a worker takes in one command`,
      );
    }
    return text;
  };
  const configInput = {
    containerdVersion: options.versions.containerd,
    sandboxImage: options.sandboxImage,
    systemdCgroup: options.systemdCgroup,
    settings: options.containerdSettings,
  };
  const config = renderedOnce(["config", configInput], () => renderContainerdConfig(configInput));
  const unit = renderedOnce(["unit"], renderContainerdUnit);
  const proxyEnvironment = renderProxyEnvironment(options.httpProxy);
  // The download base URL may be a secret: the install steps read it (and the form their errors
  // show) from standard input, so it is in no script.
  const downloadInput = `${options.downloadBaseUrl}\n${urlForDisplay(options.downloadBaseUrl)}\n`;
  const crictlConfig = renderedOnce(["crictl-yaml"], renderCrictlConfig);
  const registries = renderedOnce(["registries", options.registries], () =>
    registryStream(renderRegistryFiles(options.registries)),
  );
  const runtimeState = {
    containerdVersion: options.versions.containerd,
    containerdBuild: options.staticBuild ? ("static" as const) : ("dynamic" as const),
    configSha256: sha256(config.text),
    configGeneration: generations.config ?? 0,
  };

  const installs: Step[] = (Object.keys(INSTALL_STEP) as Part[]).map((part) => {
    const id = INSTALL_STEP[part];
    // URLs relative to the base, which the step reads from standard input.
    const artifact = artifactFor(part, options.versions[part], arch, "", {
      staticBuild: options.staticBuild,
    });
    return {
      id,
      create: command(id, installScript(label(id), artifact, options.checksums[part])),
      delete: command(id, uninstallScript(label(id), artifact), "delete"),
      stdin: downloadInput,
      dependsOn: ["ready"],
    };
  });

  // A file the operator may have had before us: written from standard input, adopted on the first run, given
  // back on destroy.
  const fileStep = (id: "config" | "crictl-yaml", path: string, content: string): Step => ({
    id,
    create: command(id, writeFileScript(label(id), path)),
    delete: command(id, giveBackFileScript(label(id), id, path), "delete"),
    stdin: content,
    dependsOn: ["ready"],
  });

  const preparation: Step[] = [
    {
      id: "ready",
      create: command("ready", readyScript(label("ready"), options.arch, options.readyTimeoutSeconds)),
      dependsOn: [],
    },
    ...installs,
    fileStep("config", PATHS.containerdConfig, config.text),
    {
      id: "proxy",
      create: command("proxy", proxyDropInScript(label("proxy"))),
      delete: command("proxy", removeProxyDropInScript(label("proxy"))),
      stdin: proxyEnvironment,
      dependsOn: ["ready"],
    },
    {
      id: "registries",
      create: command("registries", registriesScript(label("registries"))),
      delete: command("registries", removeRegistriesScript(label("registries")), "delete"),
      stdin: registries,
      dependsOn: ["ready"],
    },
    fileStep("crictl-yaml", PATHS.crictlConfig, crictlConfig),
    {
      id: "unit",
      create: command("unit", unitScript(label("unit"))),
      delete: command("unit", removeUnitScript(label("unit")), "delete"),
      stdin: unit,
      dependsOn: ["runc", "containerd", "cni-plugins", "config", "proxy"],
    },
    {
      id: "restart",
      // No create: a first install needs no restart, so nothing connects for it.
      update: command("restart", restartScript(label("restart"), runtimeState)),
      // The proxy environment containerd must run with: a new one restarts it.
      stdin: proxyEnvironment,
      dependsOn: ["unit", "containerd", "config", "proxy"],
    },
  ];
  // Verify runs again whenever any other step changes; the digest it records
  // on the worker says which plan was last proven there.
  // ready changes nothing on the worker (its script carries only the readiness timeout and arch, which the
  // install steps carry too), so a new timeout re-runs ready alone.
  const planSha256 = sha256(
    JSON.stringify(
      preparation.filter((s) => s.id !== "ready").map(({ create, update, stdin }) => [create, update, stdin]),
    ),
  );
  const verify: Step = {
    id: "verify",
    create: command(
      "verify",
      verifyScript(label("verify"), {
        containerdVersion: options.versions.containerd,
        systemdCgroup: options.systemdCgroup,
        configDump: config.dumpExpectations,
      }),
    ),
    stdin: `${planSha256}\n`,
    delete: command("verify", removeVerifiedScript(label("verify"))),
    dependsOn: ["restart", "crictl", "crictl-yaml", "registries"],
  };
  // Acts only on destroy, before the unit step stops containerd (it depends on the unit and on crictl,
  // so containerd, ctr, crictl and runc are all still there). With no create or update, a changed
  // purgeStateOnDestroy only updates the delete saved in state: nothing runs on the worker.
  const reset: Step = {
    id: "reset",
    delete: command("reset", resetScript(label("reset"), options.purgeStateOnDestroy)),
    dependsOn: ["unit", "crictl"],
  };
  return { steps: [...preparation, verify, reset], config, unit, crictlConfig, registryStream: registries };
}
