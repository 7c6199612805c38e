/**
 * Child process for part 4 of the benchmark: evaluates index.ts under Pulumi
 * mocks (no SSH; the verify command's stdout is a realistic `crictl version`
 * answer, see tests/programStack.ts) for N workers given as config `hosts`,
 * waits until every stack output has resolved, and prints one JSON line:
 *
 *   { workers, registrations, fromProcessStartMs, programMs, maxRssKb }
 *
 * `fromProcessStartMs` counts from the Node process's own start (its
 * performance time origin), so it includes loading Node, tsx, @pulumi/pulumi,
 * @pulumi/aws and the components; `programMs` starts just before index.ts is
 * imported. Run it in a fresh process per measurement:
 *
 *   node --import tsx bench/mockEval.ts 100 [--no-source-maps]
 */
import { performance } from "node:perf_hooks";
import { loadProgram } from "../tests/programStack";
import { settle, valueOf } from "../tests/pulumiMocks";

/** N `worker-i=ubuntu@192.0.2.x` entries (TEST-NET-1 documentation addresses). */
export function mockHosts(count: number): string[] {
  if (count > 254) throw new Error("at most 254 hosts fit in 192.0.2.0/24");
  return Array.from({ length: count }, (_, i) => `worker-${i}=ubuntu@192.0.2.${i + 1}`);
}

export interface MockEvalReport {
  workers: number;
  registrations: number;
  fromProcessStartMs: number;
  programMs: number;
  maxRssKb: number;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  if (!Number.isInteger(count) || count < 1) throw new Error(`usage: mockEval.ts <workers>, got ${process.argv[2]}`);
  // Diagnostic switch: tsx turns on source-mapped stack traces, which the Pulumi runtime captures per
  // promise and per resource; `--no-source-maps` measures the program without that cost.
  if (process.argv.includes("--no-source-maps")) process.setSourceMapsEnabled(false);
  const programStart = performance.now();
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
  const report: MockEvalReport = {
    workers: count,
    registrations: run.registrations.length,
    fromProcessStartMs: resolved,
    programMs: resolved - programStart,
    maxRssKb: process.resourceUsage().maxRSS,
  };
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
