/**
 * Part 7 of the benchmark, `npm run bench -- steps`: the CPU time each step of a cold provision costs
 * inside the worker, the steps run one at a time (a real up runs them in parallel, where the worker's
 * CPU time cannot be told apart by step). Each step's script runs as the engine runs it: one SSH
 * connection, the planned `create` and standard input. Next to them, what every step pays whatever its
 * script does (one SSH connection running `true`, and `sudo -n true`), and the article's whole script on
 * a second fresh worker. The goal figure stays part 1's, a whole up; this part says where it goes.
 */
import { resolveOptions } from "../components/inputs/options";
import { planWorker } from "../components/plan/workerPlan";
import { runRemoteCommand } from "../tests/e2e/driver";
import { MIRROR_VERSIONS, startLab } from "../tests/e2e/lab";
import type { Worker } from "../tests/e2e/sandbox/worker";
import { articleScript } from "./article";
import { wrap } from "./scale";
import { markdownTable, median } from "./stats";

const STEP_CPU_RUNS = Math.max(1, Number(process.env.BENCH_STEP_RUNS ?? 3) || 3);
const SESSION = "one SSH connection running `true`";
const SESSION_SUDO = "one SSH connection running `sudo -n true`";
const ARTICLE = "the article's script (one SSH connection)";

export interface StepCpuResults {
  startedAt: Date;
  durationMs: number;
  /** Per run: CPU milliseconds inside the worker, by figure (a step id, or one of the baselines). */
  runs: Map<string, number>[];
}

/** The worker's own cgroup CPU time across `run`, and what its sessions leave to logind and journald. */
async function cpuOf(worker: Worker, run: () => Promise<unknown>): Promise<number> {
  const before = worker.cpuTimeMs();
  await run();
  await new Promise((resolve) => setTimeout(resolve, 300));
  return worker.cpuTimeMs() - before;
}

async function measureOnce(): Promise<Map<string, number>> {
  const lab = await startLab({ workers: 2 });
  const figures = new Map<string, number>();
  try {
    const [worker, articleWorker] = lab.workers as [Worker, Worker];
    const connection = { host: worker.host, port: worker.port, user: worker.user, privateKey: worker.privateKey };
    const run = async (what: string, command: string, stdin?: string) => {
      const result = await runRemoteCommand(connection, command, { stdin });
      if (result.exitCode !== 0) throw new Error(`${what} failed on ${worker.name}: ${result.stderr}`);
    };
    figures.set(SESSION, await cpuOf(worker, () => run("true", "true")));
    figures.set(SESSION_SUDO, await cpuOf(worker, () => run("sudo", "sudo -n true")));
    const options = resolveOptions({
      downloadBaseUrl: lab.mirror.baseUrl,
      versions: {
        containerd: MIRROR_VERSIONS.containerd,
        runc: MIRROR_VERSIONS.runc,
        cni: MIRROR_VERSIONS.cni,
        crictl: MIRROR_VERSIONS.crictl,
      },
    });
    // The plan's order is a valid order: every step comes after the steps it depends on.
    for (const step of planWorker(worker.name, options).steps) {
      const create = step.create;
      if (create !== undefined) figures.set(step.id, await cpuOf(worker, () => run(step.id, create, step.stdin)));
    }
    const article = articleScript(lab.mirror.baseUrl, MIRROR_VERSIONS);
    figures.set(
      ARTICLE,
      await cpuOf(articleWorker, async () => {
        const result = await articleWorker.ssh(article, { timeoutMs: 300_000 });
        if (result.code !== 0) throw new Error(`the article's script failed: ${result.stderr}`);
      }),
    );
  } finally {
    await lab.stop();
  }
  return figures;
}

export async function measureStepCpu(log: (line: string) => void): Promise<StepCpuResults> {
  const startedAt = new Date();
  const runs: Map<string, number>[] = [];
  for (let i = 0; i < STEP_CPU_RUNS; i++) {
    log(`  steps one at a time, run ${i + 1} of ${STEP_CPU_RUNS} (two fresh workers)`);
    runs.push(await measureOnce());
  }
  return { startedAt, durationMs: Date.now() - startedAt.getTime(), runs };
}

export function stepCpuSection(r: StepCpuResults, provenance: string): string {
  const ms = (value: number): string => `${value.toFixed(0)} ms`;
  const of = (figure: string): number[] => r.runs.map((run) => run.get(figure) ?? NaN);
  const steps = [...(r.runs[0]?.keys() ?? [])].filter((figure) => !figure.includes(" "));
  const stepsTotal = median(r.runs.map((run) => steps.reduce((sum, step) => sum + (run.get(step) ?? 0), 0)));
  const session = median(of(SESSION_SUDO));
  const article = median(of(ARTICLE));
  const row = (figure: string): string[] => [figure, ms(median(of(figure))), of(figure).map(ms).join(" / ")];
  const rows = [
    row(SESSION),
    row(SESSION_SUDO),
    ...steps.map(row),
    ["every step, one after another", ms(stepsTotal), ""],
    row(ARTICLE),
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
