/**
 * The benchmark's measurements on the e2e infrastructure: one release mirror
 * for the whole run (its throttle switched between phases), a freshly booted
 * sandbox worker per measured run, and the project's program (index.ts)
 * applied by the e2e engine driver with the same stack config the e2e lab
 * uses (tests/e2e/lab.ts), each run with a state file of its own.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resolveOptions } from "../components/inputs/options";
import { StepId } from "../components/catalog/stepIds";
import { planWorker } from "../components/plan/workerPlan";
import { shellQuote } from "../components/worker/shell";
import { PROMISE_LEAKS_DEBUG_VARIABLE } from "../components/wiring/promiseStacks";
import { ConfigValue, DeploymentResult, OperationRecord, runDeployment, runRemoteCommand } from "../tests/e2e/driver";
import { Lab, MIRROR_VERSIONS, PROGRAM, PROJECT, startLab } from "../tests/e2e/lab";
import { Mirror, RequestRecord } from "../tests/e2e/mirror";
import { bootWorker, pidAlive, Worker } from "../tests/e2e/sandbox/worker";
import { articleScript, ArticleMark, parseMarks } from "./article";
import type { MockEvalReport } from "./mockEval";

export const PROJECT_ROOT = path.join(__dirname, "..");
const MOCK_EVAL = path.join(__dirname, "mockEval.ts");
const SLOT_LOCK_DIR = "/run/containerd-worker-e2e";
/** The most the whole bench waits for other processes' workers or CPU load to go away. */
const QUIET_BUDGET_MS = 150_000;

/** What else was running on the machine when a run started (another e2e suite skews the figures). */
export interface Contention {
  /** Sandbox workers booted by other processes (their slot locks), after any wait. */
  foreignWorkers: number;
  /** Share of all CPUs busy over half a second just before the run, in percent. */
  cpuBusyPct: number;
  load1: number;
  /** How long the run waited for the machine to go quiet. */
  waitedMs: number;
}

function foreignWorkers(): number {
  let count = 0;
  try {
    for (const name of fs.readdirSync(SLOT_LOCK_DIR)) {
      if (!name.endsWith(".lock")) continue;
      try {
        const lock = JSON.parse(fs.readFileSync(path.join(SLOT_LOCK_DIR, name), "utf8")) as { owner?: unknown };
        // A lock whose owner has died holds no worker: the next boot in its slot takes it over.
        if (typeof lock.owner === "number" && lock.owner !== process.pid && pidAlive(lock.owner)) count++;
      } catch {
        // a lock being written or removed right now
      }
    }
  } catch {
    // no slot directory: nobody has booted a worker yet
  }
  return count;
}

/** Machine-wide CPU time from /proc/stat, in milliseconds: busy (all but idle and iowait) and total. */
export function cpuTimes(): { busyMs: number; totalMs: number } {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  // USER_HZ is 100 on Linux.
  return { busyMs: (total - idle) * 10, totalMs: total * 10 };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function cpuBusyPct(sampleMs: number): Promise<number> {
  const before = cpuTimes();
  await sleep(sampleMs);
  const after = cpuTimes();
  const total = after.totalMs - before.totalMs;
  return total > 0 ? (100 * (after.busyMs - before.busyMs)) / total : 0;
}

/**
 * Waits (at most `maxWaitMs`, and only while the shared `budget` lasts) until no other process has
 * sandbox workers booted and the CPUs are mostly idle, then reports what was still running.
 */
export async function settleMachine(budget: { remainingMs: number }, maxWaitMs = 30_000): Promise<Contention> {
  const started = Date.now();
  let busy = await cpuBusyPct(500);
  while (foreignWorkers() > 0 || busy > 30) {
    const waited = Date.now() - started;
    if (waited >= maxWaitMs || waited >= budget.remainingMs) break;
    busy = await cpuBusyPct(500);
  }
  const waitedMs = Date.now() - started;
  budget.remainingMs = Math.max(0, budget.remainingMs - waitedMs);
  return { foreignWorkers: foreignWorkers(), cpuBusyPct: busy, load1: os.loadavg()[0] ?? 0, waitedMs };
}

export interface Bench {
  /** The e2e lab with no workers of its own: its mirror, and its stack config for the workers booted here. */
  lab: Lab;
  mirror: Mirror;
  log: (line: string) => void;
  /** Workers booted and not yet stopped, for the interrupt handler. */
  live: Set<Worker>;
  /** What is left of the time the whole bench may spend waiting for other processes to finish. */
  quietBudget: { remainingMs: number };
  stop(): Promise<void>;
}

export async function startBench(log: (line: string) => void): Promise<Bench> {
  const lab = await startLab({ workers: 0, log });
  const live = new Set<Worker>();
  return {
    lab,
    mirror: lab.mirror,
    log,
    live,
    quietBudget: { remainingMs: QUIET_BUDGET_MS },
    async stop() {
      await Promise.all([...live].map((worker) => worker.stop()));
      live.clear();
      await lab.stop();
    },
  };
}

/** Boots `count` fresh workers, runs `body`, and stops them (by their own PIDs) whatever happens. */
/**
 * How a run's workers get CPU: `undefined`, they share the host's CPUs (as measured so far); a number, each
 * worker is capped at that many CPUs, as separate machines of equal size would be.
 */
export type CpuModel = number | undefined;

async function withWorkers<T>(
  bench: Bench,
  count: number,
  body: (workers: Worker[]) => Promise<T>,
  cpus?: CpuModel,
): Promise<T> {
  const booted = await Promise.allSettled(Array.from({ length: count }, () => bootWorker({ log: bench.log })));
  const workers = booted.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  if (cpus !== undefined) for (const worker of workers) worker.limitCpu(cpus);
  for (const worker of workers) bench.live.add(worker);
  const stopAll = async (): Promise<void> => {
    await Promise.all(workers.map((worker) => worker.stop()));
    for (const worker of workers) bench.live.delete(worker);
  };
  const failed = booted.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await stopAll();
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  try {
    return await body(workers);
  } finally {
    await stopAll();
  }
}

/** The e2e lab's stack config (tests/e2e/lab.ts: its mirror, the mirror's versions) with these workers as `hosts`. */
function stackConfig(bench: Bench, workers: Worker[]): Record<string, ConfigValue> {
  return bench.lab.config({
    hosts: JSON.stringify(workers.map((worker) => `${worker.name}=${worker.user}@${worker.host}:${worker.port}`)),
    sshPrivateKey: { secret: workers[0]?.privateKey ?? "" },
  });
}

/**
 * SSH connections the worker's sshd has accepted since boot, from its journal (read through the
 * worker's console, not SSH): counts every connection, the engine's and any the program opens itself.
 */
async function acceptedConnections(worker: Worker): Promise<number> {
  await sleep(300); // sshd's log lines reach the journal asynchronously
  const result = await worker.exec("journalctl -u ssh.service -o cat --no-pager | grep -c '^Accepted ' || true");
  const count = Number(result.stdout.trim());
  if (!Number.isInteger(count)) throw new Error(`${worker.name}: cannot read sshd's journal: ${result.stderr}`);
  return count;
}

async function acceptedOnAll(workers: Worker[]): Promise<number> {
  const counts = await Promise.all(workers.map(acceptedConnections));
  return counts.reduce((a, b) => a + b, 0);
}

function failed(what: string, result: DeploymentResult): Error {
  return new Error(`${what} failed: ${result.error ?? "(no error)"}\n${result.log.slice(-3000)}`);
}

/** Operations that ran a script, in start order. */
function scripts(result: DeploymentResult): OperationRecord[] {
  return result.operations.filter((op) => op.command !== undefined && !op.planned);
}

/** The four artifacts, told apart by their URL paths (checksum files excluded). */
const ARTIFACT_PATTERNS = {
  containerd: /\/containerd-[^/]*\.tar\.gz$/,
  runc: /\/runc\.amd64$/,
  cni: /\/cni-plugins-[^/]*\.tgz$/,
  crictl: /\/crictl-[^/]*\.tar\.gz$/,
} as const;
export type ArtifactName = keyof typeof ARTIFACT_PATTERNS;

export interface MirrorTraffic {
  requests: number;
  bytes: number;
  /** Per artifact, the mirror's time from request to the response's end. */
  downloadMs: Partial<Record<ArtifactName, number>>;
}

function traffic(requests: RequestRecord[]): MirrorTraffic {
  const downloadMs: MirrorTraffic["downloadMs"] = {};
  for (const request of requests) {
    for (const [name, pattern] of Object.entries(ARTIFACT_PATTERNS) as [ArtifactName, RegExp][]) {
      if (pattern.test(request.path)) downloadMs[name] = request.ms;
    }
  }
  return { requests: requests.length, bytes: requests.reduce((sum, r) => sum + r.bytes, 0), downloadMs };
}

interface Deployed {
  result: DeploymentResult;
  wallMs: number;
  startedAt: number;
  endedAt: number;
  mirror: MirrorTraffic;
  /** CPU time used machine-wide while it ran (all processes: driver, sshd, the workers' scripts). */
  cpuMs: number;
  /** CPU time used inside the workers (their cgroups: sshd, sudo, the scripts, containerd), all together. */
  workerCpuMs: number;
}

const workersCpuMs = (workers: Worker[]): number => workers.reduce((sum, worker) => sum + worker.cpuTimeMs(), 0);

async function deploy(
  bench: Bench,
  workers: Worker[],
  stateFile: string,
  overrides: Record<string, ConfigValue> = {},
  preview = false,
): Promise<Deployed> {
  const before = bench.mirror.requests.length;
  const cpuBefore = cpuTimes().busyMs;
  const workerCpuBefore = workersCpuMs(workers);
  const startedAt = Date.now();
  const result = await runDeployment({
    program: PROGRAM,
    project: PROJECT,
    stack: "bench",
    stateFile,
    config: { ...stackConfig(bench, workers), ...overrides },
    timeoutMs: 300_000,
    preview,
  });
  const endedAt = Date.now();
  const cpuMs = cpuTimes().busyMs - cpuBefore;
  const workerCpuMs = workersCpuMs(workers) - workerCpuBefore;
  return {
    result,
    wallMs: endedAt - startedAt,
    startedAt,
    endedAt,
    mirror: traffic(bench.mirror.requests.slice(before)),
    cpuMs,
    workerCpuMs,
  };
}

/** Checks the stack outputs name every worker with the mirror's containerd, as its own CRI reported it. */
function checkOutputs(result: DeploymentResult, workers: Worker[]): void {
  const outputs = result.outputs.workers as Record<string, { runtimeVersion?: string }> | undefined;
  for (const worker of workers) {
    const version = outputs?.[worker.name]?.runtimeVersion;
    if (version !== MIRROR_VERSIONS.containerd) {
      throw new Error(
        `${worker.name}: runtimeVersion output is ${String(version)}, expected ${MIRROR_VERSIONS.containerd}`,
      );
    }
  }
}

export interface StepTiming {
  /** From the deployment's first command start. */
  startMs: number;
  durationMs: number;
  /** Start minus the end of the last step it depends on (engine scheduling, state write, SSH dial + handshake). */
  waitMs: number;
}

export interface ComponentRun {
  contention: Contention;
  /** (a) the whole deployment, as the caller sees it. */
  wallMs: number;
  /** (b) first remote command's start to the last one's end. */
  spanMs: number;
  /**
   * (c) the program's part: from the driver's child starting to load index.ts (Node, tsx and the Pulumi SDK,
   * which stand in for the Pulumi CLI's language host, are loaded by then) to the last command's end.
   */
  programMs: number;
  /** Deployment start to the first command's start: child process, module loading, program evaluation. */
  leadInMs: number;
  /** Last command's end to the deployment's end: outputs, state, exit. */
  tailMs: number;
  /** Handshakes the driver completed (`result.sshConnections`: the engine's own connections). */
  sshConnections: number;
  /** Connections the worker's sshd accepted during the deployment (the engine's and any the program opens). */
  sshAccepted: number;
  dialAttempts: number;
  commands: number;
  mirror: MirrorTraffic;
  cpuMs: number;
  /** CPU time used inside the worker. */
  workerCpuMs: number;
  steps: Partial<Record<StepId, StepTiming>>;
  /** The repeated apply with unchanged inputs on the same worker and state. */
  repeat: { wallMs: number; commands: number; sshConnections: number; sshAccepted: number };
}

/** Which steps each step waits for (the component's own plan). */
export const STEP_DEPENDENCIES: ReadonlyMap<StepId, readonly StepId[]> = new Map(
  planWorker("bench", resolveOptions({})).steps.map((step) => [step.id, step.dependsOn]),
);

/**
 * When each step that ran a script started and ended, relative to `origin`. `all` holds every operation of
 * the deployment: a step that runs no script (e.g. one without `create`) still ends when the engine is done
 * with it, and that is when the steps depending on it may start.
 */
function stepTimings(all: OperationRecord[], worker: string, origin: number): Partial<Record<StepId, StepTiming>> {
  const byStep = new Map<string, OperationRecord>();
  for (const op of all) {
    if (!op.planned && op.name.startsWith(`${worker}-`)) byStep.set(op.name.slice(worker.length + 1), op);
  }
  const timings: Partial<Record<StepId, StepTiming>> = {};
  for (const [step, op] of byStep) {
    if (op.command === undefined) continue;
    const depsEnd = Math.max(
      origin,
      ...(STEP_DEPENDENCIES.get(step as StepId) ?? []).map((dep) => byStep.get(dep)?.endedAt ?? origin),
    );
    timings[step as StepId] = {
      startMs: op.startedAt - origin,
      durationMs: op.endedAt - op.startedAt,
      waitMs: op.startedAt - depsEnd,
    };
  }
  return timings;
}

/** Part 1 (component side) and part 2: a cold `up` on a fresh worker, then the same `up` again. */
export async function componentCold(bench: Bench, cpus?: CpuModel): Promise<ComponentRun> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "containerd-worker-bench-"));
  try {
    return await withWorkers(
      bench,
      1,
      async (workers) => {
        const worker = workers[0];
        if (!worker) throw new Error("no worker booted");
        const stateFile = path.join(stateDir, "state.json");
        const load = await settleMachine(bench.quietBudget);
        const accepted0 = await acceptedConnections(worker);
        const cold = await deploy(bench, workers, stateFile);
        if (!cold.result.ok) throw failed("cold up", cold.result);
        checkOutputs(cold.result, workers);
        const ops = scripts(cold.result);
        const first = Math.min(...ops.map((op) => op.startedAt));
        const last = Math.max(...ops.map((op) => op.endedAt));
        const accepted1 = await acceptedConnections(worker);

        const again = await deploy(bench, workers, stateFile);
        if (!again.result.ok) throw failed("repeated up", again.result);
        const accepted2 = await acceptedConnections(worker);
        if (cold.result.programStartedAt === undefined)
          throw new Error("the driver did not say when the program loaded");
        return {
          contention: load,
          wallMs: cold.wallMs,
          spanMs: last - first,
          programMs: last - cold.result.programStartedAt,
          leadInMs: first - cold.startedAt,
          tailMs: cold.endedAt - last,
          sshConnections: cold.result.sshConnections,
          sshAccepted: accepted1 - accepted0,
          dialAttempts: cold.result.dialAttempts,
          commands: ops.length,
          mirror: cold.mirror,
          cpuMs: cold.cpuMs,
          workerCpuMs: cold.workerCpuMs,
          steps: stepTimings(cold.result.operations, worker.name, first),
          repeat: {
            wallMs: again.wallMs,
            commands: scripts(again.result).length,
            sshConnections: again.result.sshConnections,
            sshAccepted: accepted2 - accepted1,
          },
        };
      },
      cpus,
    );
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

export interface ArticleRun {
  contention: Contention;
  /** The whole `ssh` invocation: process start, handshake, the script, teardown. */
  wallMs: number;
  /** The script's own first to last mark on the worker. */
  spanMs: number;
  /** Per article step, from the marks. */
  steps: Partial<Record<Exclude<ArticleMark, "start">, number>>;
  sshAccepted: number;
  mirror: MirrorTraffic;
  cpuMs: number;
  /** CPU time used inside the worker. */
  workerCpuMs: number;
}

/** Runs the article's script on a worker over one OpenSSH session; fails unless it ends with a v1 CRI. */
async function runArticle(bench: Bench, worker: Worker): Promise<{ stdout: string; wallMs: number }> {
  const started = Date.now();
  const result = await worker.ssh(articleScript(bench.mirror.baseUrl, MIRROR_VERSIONS), { timeoutMs: 300_000 });
  const wallMs = Date.now() - started;
  if (result.code !== 0) {
    throw new Error(`the article's script exited ${result.code}:\n${result.stderr}\n${result.stdout.slice(-3000)}`);
  }
  if (!/^RuntimeApiVersion:\s+v1$/m.test(result.stdout) || !/"SystemdCgroup": true/.test(result.stdout)) {
    throw new Error(`the article's script did not end with a v1 CRI and SystemdCgroup: true:\n${result.stdout}`);
  }
  return { stdout: result.stdout, wallMs };
}

/** Part 1 (article side): Steps 1–5 as one bash script over one OpenSSH session, on a fresh worker. */
export async function articleCold(bench: Bench, cpus?: CpuModel): Promise<ArticleRun> {
  return withWorkers(
    bench,
    1,
    async (workers) => {
      const worker = workers[0];
      if (!worker) throw new Error("no worker booted");
      const load = await settleMachine(bench.quietBudget);
      const accepted0 = await acceptedConnections(worker);
      const before = bench.mirror.requests.length;
      const cpuBefore = cpuTimes().busyMs;
      const workerCpuBefore = worker.cpuTimeMs();
      const result = await runArticle(bench, worker);
      const wallMs = result.wallMs;
      const cpuMs = cpuTimes().busyMs - cpuBefore;
      const workerCpuMs = worker.cpuTimeMs() - workerCpuBefore;
      const sshAccepted = (await acceptedConnections(worker)) - accepted0;
      const requests = bench.mirror.requests.slice(before);
      const marks = parseMarks(result.stdout);
      const order: ArticleMark[] = ["start", "download", "install", "config", "unit", "verify"];
      const steps: ArticleRun["steps"] = {};
      for (let i = 1; i < order.length; i++) {
        const from = marks[order[i - 1] ?? "start"];
        const name = order[i];
        const to = name === undefined ? undefined : marks[name];
        if (from !== undefined && to !== undefined && name !== undefined && name !== "start") steps[name] = to - from;
      }
      return {
        contention: load,
        wallMs,
        spanMs: (marks.verify ?? NaN) - (marks.start ?? NaN),
        steps,
        sshAccepted,
        mirror: traffic(requests),
        cpuMs,
        workerCpuMs,
      };
    },
    cpus,
  );
}

export interface MultiRun {
  contention: Contention;
  workers: number;
  wallMs: number;
  spanMs: number;
  sshConnections: number;
  sshAccepted: number;
  commands: number;
  cpuMs: number;
  /** CPU time used inside the workers, all together. */
  workerCpuMs: number;
  /** Per worker, its own first start to last end. */
  perWorkerSpanMs: number[];
}

/** Part 3: one cold `up` for `count` fresh workers at once. */
export async function multiCold(bench: Bench, count: number, cpus?: CpuModel): Promise<MultiRun> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "containerd-worker-bench-"));
  try {
    return await withWorkers(
      bench,
      count,
      async (workers) => {
        const load = await settleMachine(bench.quietBudget);
        const accepted0 = await acceptedOnAll(workers);
        const cold = await deploy(bench, workers, path.join(stateDir, "state.json"));
        if (!cold.result.ok) throw failed(`cold up of ${count} workers`, cold.result);
        const sshAccepted = (await acceptedOnAll(workers)) - accepted0;
        checkOutputs(cold.result, workers);
        const ops = scripts(cold.result);
        const spanOf = (list: OperationRecord[]): number =>
          Math.max(...list.map((op) => op.endedAt)) - Math.min(...list.map((op) => op.startedAt));
        return {
          contention: load,
          workers: count,
          wallMs: cold.wallMs,
          spanMs: spanOf(ops),
          sshConnections: cold.result.sshConnections,
          sshAccepted,
          commands: ops.length,
          cpuMs: cold.cpuMs,
          workerCpuMs: cold.workerCpuMs,
          perWorkerSpanMs: workers.map((worker) => spanOf(ops.filter((op) => op.name.startsWith(`${worker.name}-`)))),
        };
      },
      cpus,
    );
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

export interface FleetRun {
  contention: Contention;
  workers: number;
  viaBastion: boolean;
  wallMs: number;
  /** First command start to last command end. */
  spanMs: number;
  /** Handshakes the driver completed (a command through the bastion makes two). */
  sshConnections: number;
  /** Dial attempts that failed and were retried (attempts minus completed handshakes). */
  failedDials: number;
  /** Drops the bastion's sshd logged past MaxStartups (at its default LogLevel, the first of each burst only). */
  loggedDrops: number;
  /** The preview after the up, with the default drift-read bound: its wall time, the most probe sessions open
   * at once on the workers' own clocks, and the workers it could not read (a warning each). */
  preview: { wallMs: number; peakSessions: number; unread: number };
}

const PROBE_SESSIONS = "/tmp/bench-probe-sessions";

/**
 * A preview of workers that are already up, each of whose sshd records (in /etc/ssh/sshrc, run before a
 * session's command) when a session began and ended, held a second so that reads overlap if they can. Nothing
 * else connects during a preview: every session is a drift read.
 */
async function previewReads(
  bench: Bench,
  workers: Worker[],
  stateFile: string,
  overrides: Record<string, ConfigValue>,
): Promise<FleetRun["preview"]> {
  const sshrc = [
    `echo "$(date +%s.%N) start" >>${PROBE_SESSIONS}`,
    "sleep 1",
    `echo "$(date +%s.%N) end" >>${PROBE_SESSIONS}`,
  ];
  await Promise.all(
    workers.map((worker) => worker.exec(`printf '%s\\n' ${sshrc.map(shellQuote).join(" ")} >/etc/ssh/sshrc`)),
  );
  const { result, wallMs } = await deploy(bench, workers, stateFile, overrides, true);
  if (!result.ok) throw failed(`preview of ${workers.length} workers`, result);
  const events: [number, number][] = [];
  for (const worker of workers) {
    const lines = (await worker.exec(`cat ${PROBE_SESSIONS}; rm -f ${PROBE_SESSIONS} /etc/ssh/sshrc`)).stdout;
    for (const line of lines.trim().split("\n")) {
      const [time, what] = line.split(" ");
      if (what === "start" || what === "end") events.push([Number(time), what === "start" ? 1 : -1]);
    }
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let peakSessions = 0;
  for (const [, change] of events) peakSessions = Math.max(peakSessions, (open += change));
  const unread = result.warnings.filter((warning) => /cannot read .* for host drift/.test(warning)).length;
  return { wallMs, peakSessions, unread };
}

/**
 * Part 5: one `up` for `count` freshly booted workers, directly or through one more fresh worker as the
 * bastion, whose sshd runs as the image ships it (OpenSSH's defaults: MaxStartups 10:30:100, MaxSessions
 * 10). Behind the bastion the workers take logins from it alone.
 */
export async function fleetCold(bench: Bench, count: number, viaBastion: boolean): Promise<FleetRun> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "containerd-worker-bench-"));
  const booted: Worker[] = [];
  const boot = async (options: Parameters<typeof bootWorker>[0]): Promise<Worker> => {
    const worker = await bootWorker({ log: bench.log, ...options });
    booted.push(worker);
    bench.live.add(worker);
    return worker;
  };
  try {
    const bastion = viaBastion ? await boot({}) : undefined;
    const results = await Promise.allSettled(
      Array.from({ length: count }, () => boot(bastion ? { sshOnlyFrom: bastion.host } : {})),
    );
    const failedBoot = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failedBoot) throw failedBoot.reason instanceof Error ? failedBoot.reason : new Error(String(failedBoot.reason));
    const workers = booted.filter((worker) => worker !== bastion);
    const load = await settleMachine(bench.quietBudget);
    const since = bastion ? (await bastion.exec("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim() : "";
    const cold = await deploy(
      bench,
      workers,
      path.join(stateDir, "state.json"),
      bastion ? { bastion: `${bastion.user}@${bastion.host}` } : {},
    );
    if (!cold.result.ok) throw failed(`cold up of ${count} workers${bastion ? " through a bastion" : ""}`, cold.result);
    checkOutputs(cold.result, workers);
    let loggedDrops = 0;
    if (bastion) {
      await sleep(300);
      const drops = await bastion.exec(
        `journalctl -u ssh.service -o cat --no-pager --since '${since}' | grep -ci 'drop connection.*maxstartups' || true`,
      );
      loggedDrops = Number(drops.stdout.trim()) || 0;
    }
    const preview = await previewReads(
      bench,
      workers,
      path.join(stateDir, "state.json"),
      bastion ? { bastion: `${bastion.user}@${bastion.host}` } : {},
    );
    const ops = scripts(cold.result);
    return {
      contention: load,
      workers: count,
      viaBastion,
      preview,
      wallMs: cold.wallMs,
      spanMs: Math.max(...ops.map((op) => op.endedAt)) - Math.min(...ops.map((op) => op.startedAt)),
      sshConnections: cold.result.sshConnections,
      failedDials: cold.result.dialAttempts - cold.result.sshConnections,
      loggedDrops,
    };
  } finally {
    await Promise.all(booted.map((worker) => worker.stop()));
    for (const worker of booted) bench.live.delete(worker);
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * Part 3's baseline: the article's script on `count` fresh workers at once, one OpenSSH session each. Its
 * ratio to one worker is what sharing this machine's CPUs costs any installer, however parallel.
 */
export async function articleMulti(
  bench: Bench,
  count: number,
  cpus?: CpuModel,
): Promise<{ contention: Contention; wallMs: number; cpuMs: number }> {
  return withWorkers(
    bench,
    count,
    async (workers) => {
      const load = await settleMachine(bench.quietBudget);
      const cpuBefore = cpuTimes().busyMs;
      const started = Date.now();
      await Promise.all(workers.map((worker) => runArticle(bench, worker)));
      return { contention: load, wallMs: Date.now() - started, cpuMs: cpuTimes().busyMs - cpuBefore };
    },
    cpus,
  );
}

/** One SSH connection + `true` through the driver's own SSH code, on a fresh worker: the price of a handshake. */
export async function handshakeCost(bench: Bench, samples: number): Promise<number[]> {
  return withWorkers(bench, 1, async (workers) => {
    const worker = workers[0];
    if (!worker) throw new Error("no worker booted");
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = Date.now();
      await runRemoteCommand(
        { host: worker.host, port: worker.port, user: worker.user, privateKey: worker.privateKey },
        "true",
      );
      times.push(Date.now() - started);
    }
    return times;
  });
}

export interface MockRun extends MockEvalReport {
  /** Parent's view: spawn to exit of the child. */
  childWallMs: number;
}

/** Part 4: index.ts under Pulumi mocks for `count` workers, in a fresh child process. */
export function mockEval(
  count: number,
  extraArgs: string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<MockRun> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  delete env.NODE_OPTIONS;
  // The SDK's leak-report stacks are kept only where a figure asks for them.
  delete env[PROMISE_LEAKS_DEBUG_VARIABLE];
  Object.assign(env, extraEnv);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", MOCK_EVAL, String(count), ...extraArgs], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const childWallMs = Date.now() - started;
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        reject(new Error(`mockEval ${count} exited ${String(code)}:\n${stderr}\n${stdout}`));
        return;
      }
      resolve({ ...(JSON.parse(line) as MockEvalReport), childWallMs });
    });
  });
}
