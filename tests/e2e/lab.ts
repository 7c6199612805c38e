/**
 * The end-to-end lab: sandbox workers (systemd in nspawn, real sshd), the
 * release mirror on the host's bridge address, and the project's own program
 * (index.ts) applied to them by the engine driver, with a state file that
 * lives across runs as a stack's would.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ConfigValue,
  DeploymentHandle,
  DeploymentResult,
  OperationEvent,
  runDeployment,
  startDeployment,
} from "./driver";
import { ensureReleases, Mirror, startMirror } from "./mirror";
import { BootOptions, bootWorker, ensureBridge, ensureRoot, HOST_ADDRESS, Worker } from "./sandbox/worker";

export const PROGRAM = path.join(__dirname, "..", "..", "index.ts");
export const PROJECT = "containerd-workers";

/** What a first up puts on a worker (binaries, a sample of the CNI plugins, config files and unit). */
export const INSTALLED_FILES = [
  "/usr/local/sbin/runc",
  "/usr/local/bin/containerd",
  "/usr/local/bin/containerd-shim-runc-v2",
  "/usr/local/bin/ctr",
  "/usr/local/bin/crictl",
  "/opt/cni/bin/bridge",
  "/opt/cni/bin/loopback",
  "/etc/containerd/config.toml",
  "/etc/systemd/system/containerd.service",
  "/etc/crictl.yaml",
];

/** The versions the mirror has real binaries for. */
export const MIRROR_VERSIONS = {
  containerd: "2.1.9",
  containerdOld: "1.7.24",
  runc: "1.3.6",
  cni: "1.9.1",
  crictl: "1.36.0",
};

export interface LabOptions {
  workers: number;
  /**
   * Boot options of worker `index`. With them the workers boot one after
   * another, so one can name an earlier one (a bastion's address).
   */
  boot?: (index: number, booted: readonly Worker[]) => BootOptions;
  /** Mirror throttle per connection, bytes per second. */
  bytesPerSecond?: number;
  /** The mirror serves static builds: containerd's static release, and a static runc as upstream's (built once, a few minutes; see staticBuild.ts). */
  staticBuilds?: boolean;
  log?: (line: string) => void;
  /** Called for every step the driver starts and ends. */
  onOperation?: (event: OperationEvent) => void;
}

export interface Lab {
  mirror: Mirror;
  workers: Worker[];
  stateFile: string;
  /** Stack config for the workers and the mirror, with `overrides` on top. */
  config(overrides?: Record<string, ConfigValue>): Record<string, ConfigValue>;
  up(overrides?: Record<string, ConfigValue>): Promise<DeploymentResult>;
  /** Starts an up without waiting, e.g. to interrupt it. */
  startUp(overrides?: Record<string, ConfigValue>): DeploymentHandle;
  preview(overrides?: Record<string, ConfigValue>): Promise<DeploymentResult>;
  destroy(): Promise<DeploymentResult>;
  /** Runs a command as root on worker `index` (default 0), over its own console, not through the component. */
  onWorker(command: string, index?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startLab(options: LabOptions): Promise<Lab> {
  const log = options.log ?? (() => undefined);
  const [releases] = await Promise.all([
    ensureReleases({ log, withStaticBuilds: options.staticBuilds }),
    ensureRoot({ log }),
    ensureBridge(),
  ]);
  const mirror = await startMirror({ host: HOST_ADDRESS, releases, bytesPerSecond: options.bytesPerSecond });
  const workers: Worker[] = [];
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "containerd-worker-stack-"));
  try {
    const { boot } = options;
    if (boot === undefined) {
      workers.push(...(await Promise.all(Array.from({ length: options.workers }, () => bootWorker({ log })))));
    } else {
      for (let index = 0; index < options.workers; index++)
        workers.push(await bootWorker({ log, ...boot(index, workers) }));
    }
  } catch (error) {
    await Promise.all(workers.map((worker) => worker.stop()));
    await mirror.stop();
    throw error;
  }
  const stateFile = path.join(stateDir, "state.json");

  const config = (overrides: Record<string, ConfigValue> = {}): Record<string, ConfigValue> => ({
    hosts: JSON.stringify(workers.map((worker) => `${worker.name}=${worker.user}@${worker.host}:${worker.port}`)),
    sshPrivateKey: { secret: workers[0]?.privateKey ?? "" },
    downloadBaseUrl: mirror.baseUrl,
    containerdVersion: MIRROR_VERSIONS.containerd,
    runcVersion: MIRROR_VERSIONS.runc,
    cniVersion: MIRROR_VERSIONS.cni,
    crictlVersion: MIRROR_VERSIONS.crictl,
    detectHostDrift: true,
    ...overrides,
  });
  const deployment = (overrides: Record<string, ConfigValue> | undefined, preview: boolean) => ({
    program: PROGRAM,
    project: PROJECT,
    stack: "e2e",
    stateFile,
    preview,
    config: config(overrides),
    onOperation: options.onOperation,
  });

  return {
    mirror,
    workers,
    stateFile,
    config,
    up: (overrides) => runDeployment(deployment(overrides, false)),
    startUp: (overrides) => startDeployment(deployment(overrides, false)),
    preview: (overrides) => runDeployment(deployment(overrides, true)),
    destroy: () => runDeployment({ project: PROJECT, stack: "e2e", stateFile, destroy: true }),
    async onWorker(command, index = 0) {
      const worker = workers[index];
      if (!worker) throw new Error(`no worker ${index}`);
      const result = await worker.exec(command);
      if (result.code !== 0) {
        throw new Error(`on ${worker.name}: ${command} exited ${result.code}: ${result.stderr}${result.stdout}`);
      }
      return result.stdout;
    },
    async stop() {
      await Promise.all(workers.map((worker) => worker.stop()));
      await mirror.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The step (child) names that ran a command, sorted, without the worker prefix. */
export function stepsRun(result: DeploymentResult, worker: string): string[] {
  return result.operations
    .filter((op) => op.command !== undefined && !op.planned && op.name.startsWith(`${worker}-`))
    .map((op) => `${op.name.slice(worker.length + 1)}:${op.command}`)
    .sort();
}

/** Fails with the driver's own account of what went wrong. */
export function expectOk(result: DeploymentResult): DeploymentResult {
  if (!result.ok) {
    throw new Error(`deployment failed: ${result.error ?? "(no error)"}\n${result.log.slice(-4000)}`);
  }
  return result;
}
