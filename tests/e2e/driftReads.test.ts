/**
 * Bounded drift reads (issue 13): a preview of three workers with
 * `driftReadConcurrency: 1` reads them one at a time. Each worker's sshd makes
 * every session take two seconds (/etc/ssh/sshrc) and records when it began
 * and ended, so overlapping reads would show on the workers' own clocks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { expectOk } from "./lab";
import { useLab } from "./fixture";

const SESSIONS = "/tmp/drift-read-sessions";

const lab = useLab({ workers: 3 });
beforeAll(async () => {
  for (const index of [0, 1, 2]) {
    // sshd runs /etc/ssh/sshrc (as the user, with sh) before the session's command.
    await lab.onWorker(
      `printf '%s\\n' 'echo "$(date +%s.%N) start" >>${SESSIONS}' 'sleep 2' 'echo "$(date +%s.%N) end" >>${SESSIONS}' >/etc/ssh/sshrc`,
      index,
    );
  }
});

/** Every worker's session intervals of the last preview, in seconds, sorted by start; then forgets them. */
async function sessions(): Promise<[number, number][]> {
  const intervals: [number, number][] = [];
  for (const index of [0, 1, 2]) {
    const lines = (await lab.onWorker(`cat ${SESSIONS} 2>/dev/null; rm -f ${SESSIONS}`, index)).trim().split("\n");
    const starts = lines.filter((l) => l.endsWith(" start")).map((l) => Number(l.split(" ")[0]));
    const ends = lines.filter((l) => l.endsWith(" end")).map((l) => Number(l.split(" ")[0]));
    // One read per worker per preview.
    expect(starts).toHaveLength(1);
    expect(ends).toHaveLength(1);
    intervals.push([starts[0] ?? 0, ends[0] ?? 0]);
  }
  return intervals.sort((a, b) => a[0] - b[0]);
}

describe("driftReadConcurrency", () => {
  it("1: the three workers are read one after another, and those waiting say so", async () => {
    const result = expectOk(await lab.preview({ driftReadConcurrency: 1 }));
    expect(result.warnings.filter((w) => /cannot read|host drift/.test(w))).toEqual([]);
    const reads = await sessions();
    for (let i = 1; i < reads.length; i++) {
      // Each read began after the one before it had ended.
      expect(reads[i]?.[0]).toBeGreaterThanOrEqual(reads[i - 1]?.[1] ?? Infinity);
    }
    expect(result.log.match(/waiting to read \S+ for host drift \(reads run 1 at a time/g)).toHaveLength(2);
  });

  it("the default (16): the same three reads overlap, so it is the bound that kept them apart", async () => {
    expectOk(await lab.preview());
    const reads = await sessions();
    expect(reads[2]?.[0]).toBeLessThan(reads[0]?.[1] ?? -Infinity);
  });
});
