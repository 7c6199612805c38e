/**
 * Part 7 of the benchmark, `npm run bench -- steps`: the CPU time each step of a cold provision costs
 * inside the worker, the steps run one at a time (a real up runs them in parallel, where the worker's
 * CPU time cannot be told apart by step). Each step's script runs as the engine runs it: one SSH
 * connection, the planned `create` and standard input. Next to them, what every step pays whatever its
 * script does (one SSH connection running `true`, and `sudo -n true`), and the article's whole script on
 * a second fresh worker. The goal figure stays part 1's, a whole up; this part says where it goes.
 */
import type { StepId } from "../components/catalog/stepIds";
import { resolveOptions } from "../components/inputs/options";
import { planWorker } from "../components/plan/workerPlan";
import { runRemoteCommand } from "../tests/e2e/driver";
import { MIRROR_VERSIONS, startLab } from "../tests/e2e/lab";
import type { Worker } from "../tests/e2e/sandbox/worker";
import { articleScript } from "./article";
import { wrap } from "./scale";
import { markdownTable, median } from "./stats";

const STEP_CPU_RUNS = Math.max(1, Number(process.env.BENCH_STEP_RUNS ?? 3) || 3);
/** One run's CPU milliseconds inside the worker. */
interface StepCpuRun {
  /** One SSH connection running `true`, and running `sudo -n true`: what every step pays. */
  session: number;
  sessionSudo: number;
  /** Each step that has a `create`, in plan order. */
  steps: Map<StepId, number>;
  /** The article's script in one connection, on a second fresh worker. */
  article: number;
}

export interface StepCpuResults {
  startedAt: Date;
  durationMs: number;
  runs: StepCpuRun[];
}

/** The worker's own cgroup CPU time across `run`, and what its sessions leave to logind and journald. */
async function cpuOf(worker: Worker, run: () => Promise<unknown>): Promise<number> {
  const before = worker.cpuTimeMs();
  await run();
  await new Promise((resolve) => setTimeout(resolve, 300));
  return worker.cpuTimeMs() - before;
}

async function measureOnce(): Promise<StepCpuRun> {
  const lab = await startLab({ workers: 2 });
  try {
    const [worker, articleWorker] = lab.workers as [Worker, Worker];
    const connection = { host: worker.host, port: worker.port, user: worker.user, privateKey: worker.privateKey };
    const run = async (what: string, command: string, stdin?: string) => {
      const result = await runRemoteCommand(connection, command, { stdin });
      if (result.exitCode !== 0) throw new Error(`${what} failed on ${worker.name}: ${result.stderr}`);
    };
    const session = await cpuOf(worker, () => run("true", "true"));
    const sessionSudo = await cpuOf(worker, () => run("sudo", "sudo -n true"));
    const options = resolveOptions({
      downloadBaseUrl: lab.mirror.baseUrl,
      versions: {
        containerd: MIRROR_VERSIONS.containerd,
        runc: MIRROR_VERSIONS.runc,
        cni: MIRROR_VERSIONS.cni,
        crictl: MIRROR_VERSIONS.crictl,
      },
    });
    const steps = new Map<StepId, number>();
    // The plan's order is a valid order: every step comes after the steps it depends on.
    for (const step of planWorker(worker.name, options).steps) {
      const create = step.create;
      if (create !== undefined) steps.set(step.id, await cpuOf(worker, () => run(step.id, create, step.stdin)));
    }
    const script = articleScript(lab.mirror.baseUrl, MIRROR_VERSIONS);
    const article = await cpuOf(articleWorker, async () => {
      const result = await articleWorker.ssh(script, { timeoutMs: 300_000 });
      if (result.code !== 0) throw new Error(`the article's script failed: ${result.stderr}`);
    });
    return { session, sessionSudo, steps, article };
  } finally {
    await lab.stop();
  }
}

export async function measureStepCpu(log: (line: string) => void): Promise<StepCpuResults> {
  const startedAt = new Date();
  const runs: StepCpuRun[] = [];
  for (let i = 0; i < STEP_CPU_RUNS; i++) {
    log(`  steps one at a time, run ${i + 1} of ${STEP_CPU_RUNS} (two fresh workers)`);
    runs.push(await measureOnce());
  }
  return { startedAt, durationMs: Date.now() - startedAt.getTime(), runs };
}

export function stepCpuSection(r: StepCpuResults, provenance: string): string {
  const ms = (value: number): string => `${value.toFixed(0)} ms`;
  const row = (figure: string, values: number[]): string[] => [figure, ms(median(values)), values.map(ms).join(" / ")];
  const steps = [...(r.runs[0]?.steps.keys() ?? [])];
  const stepsTotal = median(r.runs.map((run) => [...run.steps.values()].reduce((sum, cpu) => sum + cpu, 0)));
  const session = median(r.runs.map((run) => run.sessionSudo));
  const article = median(r.runs.map((run) => run.article));
  const rows = [
    row(
      "one SSH connection running `true`",
      r.runs.map((run) => run.session),
    ),
    row(
      "one SSH connection running `sudo -n true`",
      r.runs.map((run) => run.sessionSudo),
    ),
    ...steps.map((step) =>
      row(
        step,
        r.runs.map((run) => run.steps.get(step) ?? NaN),
      ),
    ),
    ["every step, one after another", ms(stepsTotal), ""],
    row(
      "the article's script (one SSH connection)",
      r.runs.map((run) => run.article),
    ),
  ];
  // What the steps' connections alone cost beyond the article's one.
  const sessionsFloor = article + (steps.length - 1) * session;
  return wrap("steps", [
    "## 7. CPU inside the worker, step by step",
    "",
    `Command: \`npm run bench -- steps\` (${provenance}; ${r.runs.length} runs, the bench took ${(r.durationMs / 1000).toFixed(2)} s).`,
    "",
    "Each run boots two fresh workers. On the first, each step's planned script runs alone, one after another, " +
      "as the engine runs it (its own SSH connection as `ubuntu`, the script's one `sudo -n`, its standard input), " +
      "and the worker's cgroup CPU time across it is the step's figure (300 ms after the connection closes are " +
      "included, for what logind and journald do for it). The second runs the article's script in one connection. " +
      "The mirror is unthrottled.",
    "",
    markdownTable(["figure", "CPU inside the worker (median)", "runs"], rows),
    "",
    `The ${steps.length} steps cost ${(stepsTotal / article).toFixed(2)}× the article's CPU one after another ` +
      `(part 1's goal figure is a whole up, where they overlap). Each runs in a connection of its own, as ` +
      `pulumi-command opens one per command, and a connection with one sudo costs ${ms(session)} here ` +
      `before its script does anything: the article plus ${steps.length - 1} more connections is ` +
      `${ms(sessionsFloor)}, ${(sessionsFloor / article).toFixed(2)}× the article, whatever the scripts do.`,
  ]);
}
