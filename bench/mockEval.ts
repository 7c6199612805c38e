/**
 * Child process for part 4 of the benchmark: evaluates index.ts under Pulumi
 * mocks (no SSH; the verify command's stdout is a realistic `crictl version`
 * answer, see tests/programStack.ts) for N workers given as config `hosts`,
 * waits until every stack output has resolved, and prints one JSON line:
 *
 *   { workers, registrations, fromProcessStartMs, programMs, maxRssKb }
 *
 * `fromProcessStartMs` counts from the Node process's own start (its
 * performance time origin), so it includes loading Node, tsx, @pulumi/pulumi
 * and the components; `programMs` starts just before index.ts is imported
 * (and with it the components and @pulumi/command; nothing here loads them
 * before), and ends when every stack output has resolved, in this one
 * process. Run it in a fresh process per measurement:
 *
 *   node --import tsx bench/mockEval.ts 100 [--no-source-maps]
 *     [--bare K [--text BYTES] [--no-promise-stacks] | --component | --replay]
 *
 * `--bare K` is the baseline: instead of index.ts, N components of K
 * commands that do nothing (`true`), in a chain, under the same mocks. It is
 * what the Pulumi SDK alone costs for as many resources, whatever they send. `--text BYTES` pads their
 * commands to carry BYTES per component in all, as much as a worker's scripts and standard inputs.
 * `--no-promise-stacks` registers them as the component registers its own, without the SDK's
 * leak-report stacks (components/wiring/promiseStacks.ts): the like-for-like baseline.
 * `--component` builds N ContainerdWorkers directly, without index.ts (its stack config, its outputs map
 * and its agreement checks): the component's own share of the program's cost. `--replay` builds N bare
 * components whose commands carry one worker's planned scripts, standard inputs, connections and
 * dependencies as plain values, rendered once, registered as the component registers them (without the
 * SDK's leak-report stacks, see components/wiring/promiseStacks.ts): what the SDK costs for the
 * component's very resources, without the component's rendering and Output wiring. The bare components
 * keep the SDK's default.
 */
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import type * as remoteModule from "@pulumi/command/remote";
import type { ReadyDialing } from "../components/inputs/readiness";
import type { WorkerPlan } from "../components/plan/workerPlan";
import { pausePromiseStacks } from "../components/wiring/promiseStacks";
import { loadProgram, verifyStdout } from "../tests/programStack";
import { installMocks, settle, valueOf } from "../tests/pulumiMocks";

/**
 * N `worker-i=ubuntu@198.18.x.y` entries: 198.18.0.0/15 is set aside for benchmarks (RFC 2544), room
 * for a thousand workers and more. Nothing connects to them: the mocks run no command, and host drift
 * detection is off.
 */
export function mockHosts(count: number): string[] {
  if (count > 250 * 256) throw new Error("at most 64000 hosts");
  return Array.from({ length: count }, (_, i) => `worker-${i}=ubuntu@198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`);
}

export interface MockEvalReport {
  workers: number;
  registrations: number;
  fromProcessStartMs: number;
  programMs: number;
  /** CPU time (user + system) this process used over `programMs`: less swayed by other processes than wall time. */
  programCpuMs: number;
  maxRssKb: number;
}

let programCpuStart = process.cpuUsage();
const cpuSinceProgramStart = (): number => {
  const used = process.cpuUsage(programCpuStart);
  return (used.user + used.system) / 1000;
};

/** A component of `commands` remote commands that run `true`, each depending on the one before. */
class BareWorker extends pulumi.ComponentResource {
  readonly last: remoteModule.Command;

  constructor(remote: typeof remoteModule, name: string, commands: number, textBytes = 0, promiseStacks = true) {
    super("containerd-worker:bench:BareWorker", name);
    const connection = { host: "198.18.0.1", user: "ubuntu", privateKey: pulumi.secret("bench") };
    // `true`, padded with a comment so that the worker's commands carry `textBytes` in all, as scripts do.
    const create = textBytes > 0 ? `true # ${"x".repeat(Math.floor(textBytes / commands))}` : "true";
    let last: remoteModule.Command | undefined;
    // Without the SDK's leak-report stacks, as the component registers its commands, when asked.
    const resumePromiseStacks = promiseStacks ? () => undefined : pausePromiseStacks();
    try {
      for (let i = 0; i < commands; i++) {
        last = new remote.Command(
          `${name}-${i}`,
          { connection, create, delete: "true" },
          { parent: this, dependsOn: last === undefined ? [] : [last] },
        );
      }
    } finally {
      resumePromiseStacks();
    }
    if (last === undefined) throw new Error("a bare worker needs at least one command");
    this.last = last;
    this.registerOutputs({});
  }
}

/** A component whose commands carry `plan`'s steps as they are, with the connections the component gives them. */
class ReplayWorker extends pulumi.ComponentResource {
  readonly last: remoteModule.Command;

  constructor(remote: typeof remoteModule, name: string, plan: WorkerPlan, host: string, gate: ReadyDialing) {
    super("containerd-worker:bench:ReplayWorker", name);
    const connection = { host, user: "ubuntu", privateKey: pulumi.secret("bench") };
    const readyConnection = { ...connection, dialErrorLimit: gate.dialErrorLimit, perDialTimeout: gate.perDialTimeout };
    const commands = new Map<string, remoteModule.Command>();
    // As the component registers them (see promiseStacks.ts).
    const resumePromiseStacks = pausePromiseStacks();
    try {
      for (const step of plan.steps) {
        const command = new remote.Command(
          `${name}-${step.id}`,
          {
            connection: step.id === "ready" ? readyConnection : connection,
            create: step.create,
            update: step.update,
            delete: step.delete,
            stdin: step.stdin,
            addPreviousOutputInEnv: false,
          },
          {
            parent: this,
            dependsOn: step.dependsOn.flatMap((id) => commands.get(id) ?? []),
            customTimeouts: step.id === "ready" ? { create: `${gate.worstCaseSeconds}s` } : undefined,
          },
        );
        commands.set(step.id, command);
      }
    } finally {
      resumePromiseStacks();
    }
    const verify = commands.get("verify");
    if (verify === undefined) throw new Error("the plan has no verify step");
    this.last = verify;
    this.registerOutputs({});
  }
}

/** The report of a run whose every output resolved at `resolved` (default: now). */
function reportNow(
  workers: number,
  registrations: number,
  programStart: number,
  resolved = performance.now(),
): MockEvalReport {
  return {
    workers,
    registrations,
    fromProcessStartMs: resolved,
    programMs: resolved - programStart,
    programCpuMs: cpuSinceProgramStart(),
    maxRssKb: process.resourceUsage().maxRSS,
  };
}

async function bareBaseline(
  count: number,
  commands: number,
  programStart: number,
  textBytes = 0,
  promiseStacks = true,
): Promise<MockEvalReport> {
  const run = installMocks();
  // Imported here, as index.ts imports it through the components: both sides count loading @pulumi/command.
  const remote = await import("@pulumi/command/remote");
  const workers = Array.from(
    { length: count },
    (_, i) => new BareWorker(remote, `worker-${i}`, commands, textBytes, promiseStacks),
  );
  await Promise.all(workers.map((worker) => valueOf(worker.last.stdout)));
  return reportNow(count, run.registrations.length, programStart);
}

/** N replays of one worker's plan (see ReplayWorker), under the same mocks. */
async function replayed(count: number, programStart: number): Promise<MockEvalReport> {
  const run = installMocks();
  const remote = await import("@pulumi/command/remote");
  const { planWorker } = await import("../components/plan/workerPlan");
  const { resolveOptions } = await import("../components/inputs/options");
  const { readyDialing } = await import("../components/inputs/readiness");
  const options = resolveOptions({});
  const plan = planWorker("worker-0", options);
  const workers = mockHosts(count).map((spec) => {
    const [name = "", host = ""] = spec.split(/=ubuntu@/);
    return new ReplayWorker(remote, name, plan, host, readyDialing(options.readyTimeoutSeconds));
  });
  await Promise.all(workers.map((worker) => valueOf(worker.last.stdout)));
  return reportNow(count, run.registrations.length, programStart);
}

/** N ContainerdWorkers without the program around them, under the same mocks as index.ts gets. */
async function componentsAlone(count: number, programStart: number): Promise<MockEvalReport> {
  const run = installMocks({
    outputsFor: (type, name) => (name.endsWith("-verify") ? { stdout: verifyStdout("v2.3.1") } : {}),
  });
  const { ContainerdWorker } = await import("../components/containerdWorker");
  const privateKey = pulumi.secret("bench");
  const workers = mockHosts(count).map((spec) => {
    const [name = "", host = ""] = spec.split(/=ubuntu@/);
    return new ContainerdWorker(name, { connection: { host, user: "ubuntu", privateKey }, detectHostDrift: false });
  });
  await Promise.all(workers.map((worker) => valueOf(worker.runtimeVersion)));
  return reportNow(count, run.registrations.length, programStart);
}

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  if (!Number.isInteger(count) || count < 1) throw new Error(`usage: mockEval.ts <workers>, got ${process.argv[2]}`);
  // Diagnostic switch: tsx turns on source-mapped stack traces, which the Pulumi runtime captures per
  // promise and per resource; `--no-source-maps` measures the program without that cost.
  if (process.argv.includes("--no-source-maps")) process.setSourceMapsEnabled(false);
  const programStart = performance.now();
  programCpuStart = process.cpuUsage();
  const bare = process.argv.indexOf("--bare");
  if (bare !== -1) {
    const commands = Number(process.argv[bare + 1]);
    if (!Number.isInteger(commands) || commands < 1) throw new Error("--bare needs a number of commands");
    const text = process.argv.indexOf("--text");
    const textBytes = text === -1 ? 0 : Number(process.argv[text + 1]);
    const promiseStacks = !process.argv.includes("--no-promise-stacks");
    const report = await bareBaseline(count, commands, programStart, textBytes, promiseStacks);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    await settle();
    process.exit(0);
  }
  if (process.argv.includes("--replay")) {
    process.stdout.write(`${JSON.stringify(await replayed(count, programStart))}\n`);
    await settle();
    process.exit(0);
  }
  if (process.argv.includes("--component")) {
    process.stdout.write(`${JSON.stringify(await componentsAlone(count, programStart))}\n`);
    await settle();
    process.exit(0);
  }
  const { run, program } = await loadProgram({ hosts: mockHosts(count) });
  const [workers, runtimeVersion] = await Promise.all([
    valueOf(program.workers),
    valueOf(program.runtimeVersion),
    valueOf(program.runtimeEndpoint),
    valueOf(program.cgroupDriver),
    valueOf(program.sandboxImage),
    valueOf(program.cniBinDir),
    valueOf(program.cniConfDir),
  ]);
  const resolved = performance.now();
  const names = Object.keys(workers);
  if (names.length !== count) throw new Error(`expected ${count} workers in the outputs, got ${names.length}`);
  if (runtimeVersion !== "2.3.1") throw new Error(`runtimeVersion resolved to ${runtimeVersion}`);
  const report = reportNow(count, run.registrations.length, programStart, resolved);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  // Let the last registrations reach the mocks, so the runtime's exit check finds nothing pending.
  await settle();
  process.exit(0);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
