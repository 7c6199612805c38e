/**
 * Parts 5 and 6 of the benchmark (issue 13, a fleet at once), each runnable on its own:
 *
 *   npm run bench -- fleet   part 5: 12 workers in one up against one worker, directly and through one
 *                            bastion (a sandbox worker whose sshd runs with OpenSSH's defaults);
 *   npm run bench -- mocks   part 6: the program's cost per worker under Pulumi mocks, 100 workers
 *                            against 100 bare components of as many commands, and 1000 workers.
 *
 * Each part renders its own section of bench/RESULTS.md, between markers, with the command that produced
 * it; a run of one part replaces that section and leaves the rest of the file as it was.
 */
import * as os from "node:os";
import { STEP_IDS } from "../components/catalog/stepIds";
import { DEFAULT_DRIFT_READ_CONCURRENCY } from "../components/wiring/driftReads";
import { PROMISE_LEAKS_DEBUG_VARIABLE } from "../components/wiring/promiseStacks";
import { Bench, Contention, fleetCold, FleetRun, mockEval, MockRun, settleMachine } from "./harness";
import { formatRatio, markdownTable, median, ratio, seconds } from "./stats";

/**
 * `core` is parts 1 to 4 (provision, repeat apply, three workers, mocks), which come first in the results file;
 * `steps` is part 7 (bench/stepCpu.ts).
 */
export type PartName = "core" | "fleet" | "mocks" | "steps";
export const PART_NAMES: readonly PartName[] = ["core", "fleet", "mocks", "steps"];

export const FLEET_WORKERS = 12;
const FLEET_RUNS = Math.max(1, Number(process.env.BENCH_FLEET_RUNS ?? 3) || 3);
const SCALE_RUNS = Math.max(1, Number(process.env.BENCH_MOCK_RUNS ?? 3) || 3);
/** Runs of each 100-worker figure: a few seconds each, and the goal's ratio is of two of them. */
const SCALE_RUNS_100 = Math.max(SCALE_RUNS, Number(process.env.BENCH_MOCK_RUNS_100 ?? 7) || 7);
/** As many commands per bare component as the component registers children: the SDK's cost for as many resources. */
const BARE_AS_MANY = STEP_IDS.length;

export const SCALE_GOALS = {
  /** 100 workers' program time against 100 bare components of as many commands. */
  againstBare: 1.1,
  /** Time per worker at 1000 against at 100. */
  perWorkerGrowth: 1.2,
  /** Peak RSS at 1000 workers. */
  rssBytes: 2 * 1024 ** 3,
};

export interface FleetResults {
  startedAt: Date;
  durationMs: number;
  direct: { one: FleetRun[]; fleet: FleetRun[] };
  bastion: { one: FleetRun[]; fleet: FleetRun[] };
}

export interface MockScaleResults {
  startedAt: Date;
  durationMs: number;
  component100: MockRun[];
  bare100: MockRun[];
  component1000: MockRun[];
  bare1000: MockRun[];
  /** The split of the 100-worker figure: the components without index.ts, and one worker's plan replayed. */
  alone100: MockRun[];
  replay100: MockRun[];
  /** The components with PULUMI_DEBUG_PROMISE_LEAKS set: the SDK's leak-report stacks kept (see promiseStacks.ts). */
  stacks100: MockRun[];
  /** Bare components registered as the component registers its commands, without those stacks. */
  bareQuiet100: MockRun[];
  bareQuiet1000: MockRun[];
  contention: Contention[];
}

export async function measureFleet(bench: Bench): Promise<FleetResults> {
  const startedAt = new Date();
  const results: FleetResults = {
    startedAt,
    durationMs: 0,
    direct: { one: [], fleet: [] },
    bastion: { one: [], fleet: [] },
  };
  bench.mirror.setBytesPerSecond(undefined);
  for (let run = 0; run < FLEET_RUNS; run++) {
    for (const viaBastion of [false, true]) {
      const side = viaBastion ? results.bastion : results.direct;
      const how = viaBastion ? "through a bastion" : "directly";
      const one = await fleetCold(bench, 1, viaBastion);
      side.one.push(one);
      bench.log(`  1 worker ${how} #${run + 1}: ${seconds(one.wallMs)}, ${one.failedDials} failed dials`);
      const fleet = await fleetCold(bench, FLEET_WORKERS, viaBastion);
      side.fleet.push(fleet);
      bench.log(
        `  ${FLEET_WORKERS} workers ${how} #${run + 1}: ${seconds(fleet.wallMs)}, ${fleet.sshConnections} handshakes, ` +
          `${fleet.failedDials} failed dials, ${fleet.loggedDrops} drops logged by the bastion`,
      );
    }
  }
  results.durationMs = Date.now() - startedAt.getTime();
  return results;
}

export async function measureMockScale(
  bench: Bench | undefined,
  log: (line: string) => void,
): Promise<MockScaleResults> {
  const startedAt = new Date();
  const budget = bench?.quietBudget ?? { remainingMs: 150_000 };
  const results: MockScaleResults = {
    startedAt,
    durationMs: 0,
    component100: [],
    bare100: [],
    component1000: [],
    bare1000: [],
    alone100: [],
    replay100: [],
    stacks100: [],
    bareQuiet100: [],
    bareQuiet1000: [],
    contention: [],
  };
  const measure = async (
    list: MockRun[],
    count: number,
    args: string[],
    what: string,
    env: Record<string, string> = {},
  ): Promise<void> => {
    results.contention.push(await settleMachine(budget));
    const run = await mockEval(count, args, env);
    list.push(run);
    log(
      `  ${what}: ${seconds(run.programMs)} from the import to every output, ` +
        `${(run.maxRssKb / 1024).toFixed(0)} MB peak RSS`,
    );
  };
  const bare = ["--bare", String(BARE_AS_MANY)];
  const bareQuiet = [...bare, "--no-promise-stacks"];
  // Each round alternates the sides, so a slow spell of the machine falls on all of them.
  for (let run = 0; run < SCALE_RUNS_100; run++) {
    await measure(results.component100, 100, [], "100 workers");
    await measure(results.bare100, 100, bare, `100 bare components of ${BARE_AS_MANY} commands`);
    await measure(results.alone100, 100, ["--component"], "100 ContainerdWorkers without index.ts");
    await measure(results.replay100, 100, ["--replay"], "100 replays of one worker's planned commands");
    await measure(results.stacks100, 100, ["--component"], "100 ContainerdWorkers keeping the SDK's promise stacks", {
      [PROMISE_LEAKS_DEBUG_VARIABLE]: "1",
    });
    await measure(results.bareQuiet100, 100, bareQuiet, "100 bare components without the SDK's promise stacks");
  }
  for (let run = 0; run < SCALE_RUNS; run++) {
    await measure(results.component1000, 1000, [], "1000 workers");
    await measure(results.bare1000, 1000, bare, `1000 bare components of ${BARE_AS_MANY} commands`);
    await measure(results.bareQuiet1000, 1000, bareQuiet, "1000 bare components without the SDK's promise stacks");
  }
  results.durationMs = Date.now() - startedAt.getTime();
  return results;
}

const runs = (values: number[], format: (v: number) => string): string => values.map(format).join(" / ");
/** The CPU times (s) of two sets of runs, as `a / a vs b / b`. */
const cpuRuns = (a: MockRun[], b: MockRun[]): string =>
  `${runs(
    a.map((m) => m.programCpuMs),
    (v) => (v / 1000).toFixed(1),
  )} s vs ${runs(
    b.map((m) => m.programCpuMs),
    (v) => (v / 1000).toFixed(1),
  )} s`;
const s2 = (ms: number): string => (ms / 1000).toFixed(2);
const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;
const verdict = (met: boolean): string => (met ? "met" : "MISSED");

/** How busy the machine was when the runs started (another session's e2e suite, say). */
function contentionLine(seen: Contention[]): string {
  const busy = seen.filter((c) => c.foreignWorkers > 0 || c.cpuBusyPct > 30);
  if (busy.length === 0) return "No run started on a busy machine.";
  const load = seen.map((c) => c.load1);
  const foreign = Math.max(0, ...seen.map((c) => c.foreignWorkers));
  return (
    `**${busy.length} of ${seen.length} runs started while other processes kept the machine busy** (after waiting up to 30 s ` +
    `for it to go quiet): load average ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} on ` +
    `${os.availableParallelism()} CPUs` +
    (foreign > 0 ? `, up to ${foreign} other sandbox workers booted` : "") +
    ". Wall times are inflated by that, and noisy."
  );
}

export const sectionMarkers = (part: PartName): { start: string; end: string } => ({
  start: `<!-- bench part ${part}: start -->`,
  end: `<!-- bench part ${part}: end -->`,
});

export function wrap(part: PartName, lines: string[]): string {
  const { start, end } = sectionMarkers(part);
  return [start, "", ...lines, "", end].join("\n");
}

export function fleetSection(r: FleetResults, provenance: string): string {
  const rows: string[][] = [];
  const sides = [
    ["directly", r.direct],
    ["through one bastion (sshd defaults)", r.bastion],
  ] as const;
  const perWorker: Record<string, number> = {};
  for (const [how, side] of sides) {
    const one = side.one.map((f) => f.wallMs);
    const fleet = side.fleet.map((f) => f.wallMs);
    const each = median(fleet) / FLEET_WORKERS;
    perWorker[how] = ratio(each, median(one));
    rows.push(
      [`1 worker ${how}: deployment wall time`, seconds(median(one)), runs(one, s2)],
      [`${FLEET_WORKERS} workers ${how}: deployment wall time`, seconds(median(fleet)), runs(fleet, s2)],
      [
        `${FLEET_WORKERS} workers ${how}: first command start → last end`,
        seconds(median(side.fleet.map((f) => f.spanMs))),
        runs(
          side.fleet.map((f) => f.spanMs),
          s2,
        ),
      ],
      [`${FLEET_WORKERS} workers ${how}: time per worker`, seconds(each), "median wall / 12"],
      [
        `${FLEET_WORKERS} workers ${how}: time per worker / one worker's wall time`,
        formatRatio(perWorker[how] ?? NaN),
        "medians",
      ],
      [
        `${FLEET_WORKERS} workers ${how}: wall time / one worker's`,
        formatRatio(ratio(median(fleet), median(one))),
        "medians",
      ],
      [
        `${FLEET_WORKERS} workers ${how}: SSH handshakes (driver)`,
        String(median(side.fleet.map((f) => f.sshConnections))),
        side.fleet.map((f) => f.sshConnections).join(" / "),
      ],
      [
        `${FLEET_WORKERS} workers ${how}: failed dials, retried (driver)`,
        String(median(side.fleet.map((f) => f.failedDials))),
        side.fleet.map((f) => f.failedDials).join(" / "),
      ],
      [
        `1 worker ${how}: failed dials, retried (driver)`,
        String(median(side.one.map((f) => f.failedDials))),
        side.one.map((f) => f.failedDials).join(" / "),
      ],
    );
    const previews = side.fleet.map((f) => f.preview);
    rows.push(
      [
        `${FLEET_WORKERS} workers ${how}: preview (drift reads, default bound ${DEFAULT_DRIFT_READ_CONCURRENCY}): wall time`,
        seconds(median(previews.map((p) => p.wallMs))),
        runs(
          previews.map((p) => p.wallMs),
          s2,
        ),
      ],
      [
        `${FLEET_WORKERS} workers ${how}: preview: most probe sessions open at once, on the workers' clocks`,
        String(median(previews.map((p) => p.peakSessions))),
        previews.map((p) => p.peakSessions).join(" / "),
      ],
      [
        `${FLEET_WORKERS} workers ${how}: preview: workers it could not read (a warning each)`,
        String(median(previews.map((p) => p.unread))),
        previews.map((p) => p.unread).join(" / "),
      ],
    );
    if (how !== "directly") {
      rows.push([
        `${FLEET_WORKERS} workers ${how}: drops the bastion's sshd logged (first of each burst only)`,
        String(median(side.fleet.map((f) => f.loggedDrops))),
        side.fleet.map((f) => f.loggedDrops).join(" / "),
      ]);
    }
  }
  return wrap("fleet", [
    `## 5. ${FLEET_WORKERS} workers in one up, directly and through one bastion`,
    "",
    `Command: \`npm run bench -- fleet\` (${provenance}; ${FLEET_RUNS} runs of each, the bench took ${seconds(r.durationMs)}).`,
    "",
    `Each run boots fresh workers: 1 or ${FLEET_WORKERS}, and for the bastion side one more, a sandbox worker whose sshd ` +
      "runs as Debian ships it (OpenSSH's defaults, `MaxStartups 10:30:100`, `MaxSessions 10`); behind it the workers take " +
      "logins from the bastion only (`AllowUsers *@bastion`). The mirror is unthrottled. Every run converged and every " +
      "worker's containerd answered CRI with the mirror's version (a run that does not fails the bench). " +
      "A failed dial is one the driver retried as pulumi-command does (a fresh connection after 100 ms, ×1.5 each time); " +
      "through the bastion they are the bastion dropping connections past MaxStartups. After each up, a preview of the same " +
      "workers reads each for host drift under the default bound; each worker's sshd records when every session began " +
      "and ended (held a second, so reads overlap where they can), and the most open at one instant is counted over " +
      "all workers.",
    "",
    markdownTable(["figure", "median", "runs"], rows),
    "",
    contentionLine([...r.direct.one, ...r.direct.fleet, ...r.bastion.one, ...r.bastion.fleet].map((f) => f.contention)),
    "",
    `All ${FLEET_WORKERS + 1} sandbox workers share this machine's CPUs (and the bastion's sshd forks for every connection), ` +
      `so a fleet's wall time here grows with the CPU work of ${FLEET_WORKERS} installs, where separate machines would not.`,
  ]);
}

/** A peak-RSS row: the figure, each run's peak, and the goal where there is one. */
function rssRow(label: string, figureKb: number, measured: MockRun[], goal = "", met = ""): string[] {
  return [
    label,
    mb(figureKb),
    runs(
      measured.map((m) => m.maxRssKb),
      mb,
    ),
    goal,
    met,
  ];
}

export function mockScaleSection(r: MockScaleResults, provenance: string): string {
  const program = (list: MockRun[]): number => median(list.map((m) => m.programMs));
  const cpu = (list: MockRun[]): number => median(list.map((m) => m.programCpuMs));
  const cpuAgainstBare = ratio(cpu(r.component100), cpu(r.bare100));
  const cpuGrowth = ratio(cpu(r.component1000) / 1000, cpu(r.component100) / 100);
  const bareCpuGrowth = ratio(cpu(r.bare1000) / 1000, cpu(r.bare100) / 100);
  const rss = (list: MockRun[]): number => median(list.map((m) => m.maxRssKb));
  const per100 = program(r.component100) / 100;
  const per1000 = program(r.component1000) / 1000;
  const growth = ratio(per1000, per100);
  const bareGrowth = ratio(program(r.bare1000) / 1000, program(r.bare100) / 100);
  const peak = Math.max(...r.component1000.map((m) => m.maxRssKb));
  /** A row of a measured program time: its median and every run. */
  const measured = (figure: string, list: MockRun[]): string[] => [
    figure,
    seconds(program(list)),
    runs(
      list.map((m) => m.programMs),
      s2,
    ),
    "",
    "",
  ];
  // The goal is set on the component: from its import to every output resolved, without a program around it.
  const aloneAgainstBare = ratio(program(r.alone100), program(r.bare100));
  const against = (list: MockRun[]): string => formatRatio(ratio(program(list), program(r.bare100)));
  const rows: string[][] = [
    measured("100 ContainerdWorkers (`--component`): import → every output resolved", r.alone100),
    measured(`100 bare components of ${BARE_AS_MANY} commands: import → every output resolved`, r.bare100),
    [
      "100 ContainerdWorkers against 100 bare components",
      formatRatio(aloneAgainstBare),
      "medians",
      `≤ ${SCALE_GOALS.againstBare}×`,
      verdict(aloneAgainstBare <= SCALE_GOALS.againstBare),
    ],
    measured(
      "100 bare components registered as the component registers its commands, without the SDK's leak-report stacks " +
        "(`--bare 13 --no-promise-stacks`)",
      r.bareQuiet100,
    ),
    [
      "100 ContainerdWorkers against those (like for like: the component's own cost)",
      formatRatio(ratio(program(r.alone100), program(r.bareQuiet100))),
      "medians",
      "",
      "",
    ],
    measured(`100 ContainerdWorkers with ${PROMISE_LEAKS_DEBUG_VARIABLE}=1 (the SDK's stacks kept)`, r.stacks100),
    [
      "those against 100 bare components (like for like, the stacks kept on both sides)",
      against(r.stacks100),
      "medians",
      "",
      "",
    ],
    measured("100 replays of one worker's planned commands as plain values (`--replay`)", r.replay100),
    [
      "100 ContainerdWorkers against the replays (the component's rendering and wiring)",
      formatRatio(ratio(program(r.alone100), program(r.replay100))),
      "medians",
      "",
      "",
    ],
    measured("100 workers in the program: index.ts import → every output resolved", r.component100),
    ["the program against 100 bare components", against(r.component100), "medians", "", ""],
    measured("1000 workers: index.ts import → every output resolved", r.component1000),
    measured(`1000 bare components of ${BARE_AS_MANY} commands: import → every output resolved`, r.bare1000),
    measured("1000 bare components without the SDK's leak-report stacks", r.bareQuiet1000),
    ["time per worker at 100", `${per100.toFixed(1)} ms`, "", "", ""],
    ["time per worker at 1000", `${per1000.toFixed(1)} ms`, "", "", ""],
    [
      "time per worker, 1000 against 100",
      formatRatio(growth),
      "medians",
      `≤ ${SCALE_GOALS.perWorkerGrowth}×`,
      verdict(growth <= SCALE_GOALS.perWorkerGrowth),
    ],
    ["the same for the bare components (the SDK's own growth)", formatRatio(bareGrowth), "medians", "", ""],
    [
      "CPU time, 100 ContainerdWorkers against 100 bare components",
      formatRatio(ratio(cpu(r.alone100), cpu(r.bare100))),
      cpuRuns(r.alone100, r.bare100),
      "",
      "",
    ],
    [
      "CPU time, the program's 100 workers against 100 bare components",
      formatRatio(cpuAgainstBare),
      cpuRuns(r.component100, r.bare100),
      "",
      "",
    ],
    ["CPU time per worker, 1000 against 100", formatRatio(cpuGrowth), cpuRuns(r.component1000, r.component100), "", ""],
    ["the same for the bare components", formatRatio(bareCpuGrowth), cpuRuns(r.bare1000, r.bare100), "", ""],
    rssRow("100 workers: peak RSS", rss(r.component100), r.component100),
    rssRow("100 bare components: peak RSS", rss(r.bare100), r.bare100),
    rssRow(
      "1000 workers: peak RSS (highest run)",
      peak,
      r.component1000,
      "< 2 GB",
      verdict(peak * 1024 < SCALE_GOALS.rssBytes),
    ),
    rssRow("1000 bare components: peak RSS", rss(r.bare1000), r.bare1000),
    rssRow(
      "1000 bare components without the SDK's leak-report stacks: peak RSS (the SDK's floor)",
      rss(r.bareQuiet1000),
      r.bareQuiet1000,
    ),
  ];

  return wrap("mocks", [
    "## 6. The program's cost per worker under mocks: 100 and 1000 workers",
    "",
    `Command: \`npm run bench -- mocks\` (${provenance}; ${SCALE_RUNS_100} runs of each 100-worker figure and ${SCALE_RUNS} of each 1000-worker one, the bench took ${seconds(r.durationMs)}).`,
    "",
    "Each figure is one fresh `node --import tsx bench/mockEval.ts N [--bare K]` process: index.ts with config `hosts` of " +
      "N workers (drift detection off, the verify command's stdout mocked), or N bare components of K commands that run `true`, " +
      "under the same mocks. The time runs, in that one process, from just before index.ts (or @pulumi/command, for the bare " +
      "components) is imported to every stack output resolved; the SDK's own start-up before it is left out on both sides. " +
      "The CPU time is the process's own (user + system) over the same span: other processes on the machine sway it less " +
      "than the wall time, which the goals are set on. The 100-worker goal is set on the component, from its import: " +
      "`--component` builds the ContainerdWorkers without index.ts (its stack config, outputs map and agreement checks). " +
      "`--replay` registers, for each worker, commands carrying one worker's planned scripts, standard inputs, " +
      "connections and dependencies as plain values, rendered once, registered as the component registers them: the " +
      "SDK's own cost for the component's very resources, without the component's rendering and wiring. The component " +
      "registers its commands without the stack the SDK stores on each output promise for its leak report, which it " +
      `prints only with ${PROMISE_LEAKS_DEBUG_VARIABLE} set (components/wiring/promiseStacks.ts). The goal's bare ` +
      "components keep the SDK's default; for a like-for-like split, `--no-promise-stacks` registers them as the " +
      "component does, and one more figure runs the component with that variable set.",
    "",
    markdownTable(["figure", "median", "runs", "goal", ""], rows),
    "",
    contentionLine(r.contention),
  ]);
}

/** Puts `section` in place of the file's section for `part`, or at the end when it has none. */
export function replaceSection(file: string, part: PartName, section: string): string {
  const { start, end } = sectionMarkers(part);
  const from = file.indexOf(start);
  const to = file.indexOf(end);
  if (from === -1 || to === -1 || to < from) return `${file.trimEnd()}\n\n${section}\n`;
  return `${file.slice(0, from)}${section}${file.slice(to + end.length)}`;
}
