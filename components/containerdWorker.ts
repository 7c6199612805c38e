import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as remote from "@pulumi/command/remote";
import { Arch, DEFAULT_ARCH, PATHS, RUNTIME_ENDPOINT } from "./catalog/catalog";
import { parseRuntimeReport, RuntimeReport } from "./worker/runtimeReport";
import {
  checkConnection,
  checkNoControlCharacters,
  ConnectionFacts,
  OPTION_NAMES,
  OptionName,
  checkArgument,
  resolveOptions,
  WorkerOptions,
} from "./inputs/options";
import { DECLARATIONS } from "./inputs/declarations";
import { InvalidInputError } from "./inputs/errors";
import { withDriftReadSlot } from "./wiring/driftReads";
import { pausePromiseStacks } from "./wiring/promiseStacks";
import { adoptionMessage, assessDrift, parseHostState, probeScript } from "./drift/hostDrift";
import { checkHostKeys } from "./drift/hostKey";
import { ProbeConnection, runProbe } from "./drift/sshProbe";
import { BASTION_DIAL_ERROR_LIMIT, READY_TIMEOUT_RANGE, readyDialing } from "./inputs/readiness";
import { parseReadyReport } from "./worker/readyReport";
import { DriftingStep, StepId } from "./catalog/stepIds";
import { claimWorkerAddress, WorkerAddress } from "./wiring/workerAddresses";
import { planWorker } from "./plan/workerPlan";
import { isDeepPlain, isSecretCapable, resolveLaterInputs } from "./wiring/laterInputs";
import { ScriptVariants, StepText } from "./wiring/scriptVariants";
import { AfterResource, ContainerdWorkerArgs } from "./args/containerdWorkerArgs";
import { CgroupDriver, WorkerArch } from "./args/enums";

/**
 * The component's type token. The module is `index` because a component provider serves only that module
 * (other languages reach the component as `containerd-worker:index:ContainerdWorker`).
 */
export const CONTAINERD_WORKER_TYPE = "containerd-worker:index:ContainerdWorker";

/**
 * The token of releases up to 0.1: the component carries it as an alias, so a stack made with it keeps every
 * resource (the engine finds the old URNs through the alias, and its children's through the parent's) instead
 * of replacing them, which would run each step's delete script and uninstall containerd. The component adds it
 * itself because a component provider's Construct passes on a caller's alias without its `type`.
 */
export const CONTAINERD_WORKER_OLD_TYPE = "containerd-worker:containerd:ContainerdWorker";

const isPlain = (value: unknown) => !pulumi.Output.isInstance(value) && !(value instanceof Promise);

/** Knows a connection's (and its bastion's) host/port/user where they are plain values, so preview can check them. */
function plainConnectionFacts(connection: ContainerdWorkerArgs["connection"]): ConnectionFacts | undefined {
  const hop = (host: unknown, port: unknown, user: unknown) =>
    [host, port, user].every(isPlain) ? { host, port, user } : undefined;
  if (!isPlain(connection)) return undefined;
  const { host, port, user, proxy } = connection as command.types.input.remote.ConnectionArgs;
  const target = hop(host, port, user);
  if (target === undefined || !isPlain(proxy)) return undefined;
  if (proxy === undefined) return target;
  const { host: proxyHost, port: proxyPort, user: proxyUser } = proxy as command.types.input.remote.ProxyConnectionArgs;
  const bastion = hop(proxyHost, proxyPort, proxyUser);
  return bastion && { ...target, proxy: bastion };
}

/**
 * `after` as the ready step's dependencies. A resource stays as it is (a component stands for all its children).
 * Through the component provider, `after` arrives as data: each entry's URN (`{ urn }`, or a bare URN string for a
 * resource reference of a package the provider does not load), which the step then depends on. Construct answers
 * only once a worker's steps have all run, so a worker given as `after` elsewhere is done before this one starts.
 */
function afterDependencies(after: ContainerdWorkerArgs["after"]): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
  const asResource = (entry: AfterResource | string): pulumi.Input<pulumi.Resource> => {
    if (pulumi.Resource.isInstance(entry)) return entry;
    const urn = typeof entry === "string" ? entry : entry.urn;
    return typeof urn === "string"
      ? new pulumi.DependencyResource(urn)
      : pulumi.output(urn).apply((value) => new pulumi.DependencyResource(value));
  };
  if (after === undefined) return [];
  if (Array.isArray(after)) {
    return (after as pulumi.Input<AfterResource | string>[]).map((entry) =>
      isPlain(entry)
        ? asResource(entry as AfterResource | string)
        : pulumi.output(entry).apply((known) => asResource(known as AfterResource | string) as pulumi.Resource),
    );
  }
  // The whole list arrived as an Output (it carries dependencies): its entries are plain once it resolves.
  return pulumi
    .output(after)
    .apply((entries) => (entries as (AfterResource | string)[]).map((entry) => asResource(entry) as pulumi.Resource));
}

/** Each component's step commands (not a property, which the component provider's schema would have to carry). */
const STEP_COMMANDS = new WeakMap<ContainerdWorker, Readonly<Record<StepId, remote.Command>>>();

/**
 * The connection of the steps after `ready`: as given, but a bastion hop without a `dialErrorLimit` of
 * its own gets one sized for a fleet's burst of connections (see `BASTION_DIAL_WAIT_SECONDS`).
 */
function fleetConnection<C extends { proxy?: { dialErrorLimit?: number } }>(connection: C): C {
  const { proxy } = connection;
  if (proxy === undefined || proxy === null || proxy.dialErrorLimit !== undefined) return connection;
  return { ...connection, proxy: { ...proxy, dialErrorLimit: BASTION_DIAL_ERROR_LIMIT } };
}

/** The connection of the `ready` step: the readiness gate's dial limits on every hop. */
function gatedConnection<C extends { proxy?: object }>(connection: C, timeoutSeconds: number): C {
  const { dialErrorLimit, perDialTimeout } = readyDialing(timeoutSeconds);
  const limits = { dialErrorLimit, perDialTimeout };
  return { ...connection, ...limits, ...(connection.proxy && { proxy: { ...connection.proxy, ...limits } }) };
}

/**
 * The container runtime layer of one Kubernetes worker, installed and verified
 * over SSH as the article does by hand: runc, containerd and its shim, the CNI
 * plugins, crictl, config.toml, the containerd unit and /etc/crictl.yaml.
 *
 * Each step is a child `remote.Command` named `${name}-<step>` (see `STEP_IDS`);
 * the outputs come from the worker's own CRI answer.
 */
export class ContainerdWorker extends pulumi.ComponentResource {
  /** containerd's version as `X.Y.Z`, from the runtime's CRI answer. */
  public readonly runtimeVersion: pulumi.Output<string>;
  /** The version string exactly as the runtime reported it (`v2.3.1`, `2.1.9+unknown`). */
  public readonly runtimeVersionReported: pulumi.Output<string>;
  /** The CRI runtime name (`containerd`). */
  public readonly runtimeName: pulumi.Output<string>;
  /** The CRI API version the runtime serves (`v1`). */
  public readonly runtimeApiVersion: pulumi.Output<string>;
  /** The CRI socket for the kubelet's `containerRuntimeEndpoint`. */
  public readonly runtimeEndpoint: pulumi.Output<string>;
  /** The cgroup driver in effect (`systemd` or `cgroupfs`), for the kubelet's `cgroupDriver`. */
  public readonly cgroupDriver: pulumi.Output<CgroupDriver>;
  /** The pause image containerd pins for pod sandboxes: `sandboxImage` as checked. */
  public readonly sandboxImage: pulumi.Output<string>;
  /** Where the CNI plugins are installed (`/opt/cni/bin`), for the network add-on. */
  public readonly cniBinDir: pulumi.Output<string>;
  /** Where containerd reads CNI network configs (`/etc/cni/net.d`), for the network add-on. */
  public readonly cniConfDir: pulumi.Output<string>;
  /** The rendered /etc/containerd/config.toml. */
  public readonly config: pulumi.Output<string>;
  /** The worker's arch as release artifacts name it: `arch`, or what the worker reported with `auto`. */
  public readonly arch: pulumi.Output<WorkerArch>;

  /** The child commands by step. */
  public get steps(): Readonly<Record<StepId, remote.Command>> {
    return STEP_COMMANDS.get(this) ?? ({} as Record<StepId, remote.Command>);
  }

  constructor(name: string, args: ContainerdWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      CONTAINERD_WORKER_TYPE,
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), { type: CONTAINERD_WORKER_OLD_TYPE }],
      },
    );

    const invalid = (error: unknown): never => {
      if (error instanceof InvalidInputError) {
        throw new pulumi.ResourceError(`ContainerdWorker ${name}: ${error.message}`, this);
      }
      throw error;
    };
    const validated = <T>(check: () => T): T => {
      try {
        return check();
      } catch (error) {
        return invalid(error);
      }
    };
    validated(() => checkNoControlCharacters("name", name));
    const { connection: _connection, detectHostDrift: _detectHostDrift, after: _after, ...optionArgs } = args;
    const given = optionArgs as Partial<Record<OptionName, unknown>>;
    // Inputs given as Outputs are checked once they resolve, with the plain inputs whose checks need them
    // (containerdSettings follows versions); every other input is checked now. The options planned now
    // hold the later ones' defaults: only the texts that depend on them wait for them.
    const later = OPTION_NAMES.filter(
      (name) => !isDeepPlain(given[name]) || (DECLARATIONS[name].needs ?? []).some((need) => !isDeepPlain(given[need])),
    );
    const settledArgs = Object.fromEntries(
      Object.entries(given).filter(([name]) => !later.includes(name as OptionName)),
    );
    const options: WorkerOptions = validated(() => resolveOptions(settledArgs));
    const laterInputs = later.length > 0 ? resolveLaterInputs(given, validated, later) : undefined;
    // Secret-capable inputs travel on standard input only: no script depends on them.
    const scriptsWait = later.some((name) => !isSecretCapable(name));
    const detectHostDrift = args.detectHostDrift;
    if (isDeepPlain(detectHostDrift)) {
      validated(() => checkArgument("detectHostDrift", detectHostDrift));
    }
    const facts = plainConnectionFacts(args.connection);
    if (facts) validated(() => checkConnection(facts));
    // One machine, one component: a second one for the same host:port fails here, naming the first
    // (the facts' shape was checked just above).
    if (facts) validated(() => claimWorkerAddress(name, facts as WorkerAddress));
    // Values only known later (an instance's IP) are checked once they are.
    const connection = pulumi
      .output(args.connection)
      .apply((value) => validated(() => (checkConnection(value), checkHostKeys(value), fleetConnection(value))));

    // What only the worker can tell: with drift detection, each step's generation as read
    // from it; with `arch: "auto"`, the arch its ready step reports. Everything else about
    // the scripts is known now (unless an input is an Output); without either, they are plain text.
    const archLater = later.includes("arch");
    const autoArch = options.arch === "auto";
    const knownArch: Arch = options.arch === "auto" ? DEFAULT_ARCH : options.arch;
    const plan = validated(() => planWorker(name, options, {}, knownArch));
    // The repair counts hold nothing secret, though they come from the (secret) connection:
    // unsecret them so the scripts stay readable in `pulumi preview --diff`.
    const readDrift = (value: unknown) => this.readDrift(name, value as ProbeConnection);
    const generations =
      detectHostDrift === false
        ? undefined
        : pulumi.unsecret(
            isDeepPlain(detectHostDrift)
              ? connection.apply(readDrift)
              : pulumi.all([connection, pulumi.output(detectHostDrift)]).apply(([value, detect]) => {
                  validated(() => checkArgument("detectHostDrift", detect));
                  return detect === false ? {} : readDrift(value);
                }),
          );
    // Which texts are plain now and what each of the others waits for (see scriptVariants.ts).
    const variants = new ScriptVariants({
      name,
      options,
      knownArch,
      archLater,
      generations,
      laterInputs,
      scriptsWait,
      validated,
    });
    let workerArch: pulumi.Output<Arch> | undefined;
    const laterValue = <K extends OptionName>(input: K): pulumi.Output<pulumi.Unwrap<WorkerOptions[K]>> | undefined =>
      laterInputs && later.includes(input)
        ? laterInputs.apply(({ values, secret }) => {
            const value = values[input] as WorkerOptions[K];
            return secret.includes(input) ? pulumi.secret(value) : pulumi.output(value);
          })
        : undefined;
    // A readiness timeout known later: the engine's timeout allows the longest one.
    const readyTimeout = laterValue("readyTimeoutSeconds");
    const readyGate = readyDialing(readyTimeout ? READY_TIMEOUT_RANGE.max : options.readyTimeoutSeconds);
    const readyConnection = pulumi
      .all([connection, readyTimeout ?? options.readyTimeoutSeconds])
      .apply(([value, timeout]) => gatedConnection(value, timeout));
    const after = afterDependencies(args.after);
    const commands: Partial<Record<StepId, remote.Command>> = {};
    // Without the stacks the SDK stores on each output promise and reads only to debug leaks (promiseStacks.ts).
    const resumePromiseStacks = pausePromiseStacks();
    try {
      for (const step of plan.steps) {
        // Present or absent as in the plan; only the text can differ.
        const text = (kind: StepText) => variants.text(step, kind, workerArch ?? knownArch);
        const dependsOn = step.dependsOn.map((id) => commands[id]).filter((c): c is remote.Command => c !== undefined);
        commands[step.id] = new remote.Command(
          `${name}-${step.id}`,
          {
            connection: step.id === "ready" ? readyConnection : connection,
            create: text("create"),
            update: text("update"),
            delete: text("delete"),
            stdin: text("stdin"),
            // The provider would send previous output through SSH setenv, which
            // sshd refuses unless AcceptEnv allows it; our scripts never read it.
            addPreviousOutputInEnv: false,
          },
          {
            parent: this,
            // Every other step runs after ready, so waiting there holds the whole worker. Ready depends on
            // no other step, so an `after` known later (an Output) can be its whole dependsOn.
            dependsOn: step.id !== "ready" ? dependsOn : Array.isArray(after) ? [...dependsOn, ...after] : after,
            // The readiness gate may take this long; an engine timeout must not cut it short.
            customTimeouts: step.id === "ready" ? { create: `${readyGate.worstCaseSeconds}s` } : undefined,
          },
        );
        // The installs follow the arch the worker reported (its ready step runs first).
        const ready = commands.ready;
        if (step.id === "ready" && ready && (autoArch || archLater)) {
          const reported = () => ready.stdout.apply((stdout) => parseReadyReport(stdout).arch);
          const given = laterValue("arch");
          workerArch = given ? given.apply((arch) => (arch === "auto" ? reported() : pulumi.output(arch))) : reported();
        }
      }
    } catch (error) {
      resumePromiseStacks(error);
      throw error;
    } finally {
      resumePromiseStacks();
    }
    STEP_COMMANDS.set(this, commands as Record<StepId, remote.Command>);
    this.arch = workerArch ?? pulumi.output(knownArch);

    const report: pulumi.Output<RuntimeReport> = this.steps.verify.stdout.apply(parseRuntimeReport);
    this.runtimeVersion = report.runtimeVersion;
    this.runtimeVersionReported = report.runtimeVersionReported;
    this.runtimeName = report.runtimeName;
    this.runtimeApiVersion = report.runtimeApiVersion;
    this.cgroupDriver = report.cgroupDriver;
    this.runtimeEndpoint = pulumi.output(RUNTIME_ENDPOINT);
    this.sandboxImage = laterValue("sandboxImage") ?? pulumi.output(options.sandboxImage);
    this.cniBinDir = pulumi.output(PATHS.cniBinDir);
    this.cniConfDir = pulumi.output(PATHS.cniConfDir);
    this.config = scriptsWait
      ? variants
          .settled()
          .apply(({ plan: p, secretScripts }) =>
            secretScripts ? pulumi.secret(p.config.text) : pulumi.output(p.config.text),
          )
      : pulumi.output(plan.config.text);

    this.registerOutputs({
      arch: this.arch,
      runtimeVersion: this.runtimeVersion,
      runtimeVersionReported: this.runtimeVersionReported,
      runtimeName: this.runtimeName,
      runtimeApiVersion: this.runtimeApiVersion,
      runtimeEndpoint: this.runtimeEndpoint,
      cgroupDriver: this.cgroupDriver,
      sandboxImage: this.sandboxImage,
      cniBinDir: this.cniBinDir,
      cniConfDir: this.cniConfDir,
      config: this.config,
    });
  }

  /** Reads the worker and returns the generation each step must carry; reports every drift by worker and part. */
  private async readDrift(name: string, connection: ProbeConnection): Promise<Partial<Record<DriftingStep, number>>> {
    let stdout: string;
    try {
      // At most driftReadConcurrency reads at once across the program; the wait shows in the progress.
      const waits = (limit: number, ahead: number) =>
        void pulumi.log.info(
          `worker ${name}: waiting to read ${connection.host} for host drift (reads run ${limit} at a time; ${ahead} waiting before it)`,
          this,
        );
      stdout = await withDriftReadSlot(() => runProbe(connection, probeScript()), waits);
    } catch (error) {
      void pulumi.log.warn(
        `worker ${name}: cannot read ${connection.host} to check for host drift (${(error as Error).message}); ` +
          "its steps are planned from the stack alone",
        this,
      );
      return {};
    }
    const assessment = assessDrift(parseHostState(stdout));
    const next = pulumi.runtime.isDryRun() ? "the next up restores it" : "restoring it";
    for (const drift of assessment.drifts) {
      void pulumi.log.warn(`host drift on worker ${name}, step ${drift.step}: ${drift.what}; ${next}`, this);
    }
    for (const adoption of assessment.adoptions) {
      void pulumi.log.warn(adoptionMessage(name, adoption, pulumi.runtime.isDryRun()), this);
    }
    return assessment.generations;
  }
}
