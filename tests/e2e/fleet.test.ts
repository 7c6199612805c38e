/**
 * Issue 13, a fleet at once: twelve workers provisioned in one `up`, first directly, then (after a destroy)
 * all through one bastion whose sshd runs with OpenSSH's defaults (`MaxStartups 10:30:100`, `MaxSessions 10`).
 * pulumi-command opens one SSH connection per command, through the bastion as well, so a fleet's first
 * commands all start their key exchange on the bastion at once: past ten, sshd drops them. Every worker must
 * still converge, each verified through its own CRI, without the user tuning the bastion.
 *
 * Thirteen workers at once fit this machine: memory is no issue (twelve booted workers took under 2 GB
 * in all), but each worker's systemd, journald and logind hold about five inotify instances, of which the
 * kernel gives root 128 by default: somewhat over twenty workers at once, all suites together, is the
 * ceiling (thirty at once failed to boot with "Too many open files").
 * The figures (wall time, handshakes, failed dials) are printed; bench/RESULTS.md part 5 has medians. A
 * preview of the twelve through the bastion then shows, on the workers' own clocks, that no more probe sessions
 * are open at once than `driftReadConcurrency` allows.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentResult } from "./driver";
import { expectOk, Lab, MIRROR_VERSIONS, startLab, stepsRun } from "./lab";
import type { Worker } from "./sandbox/worker";

const FLEET = 12;

let lab: Lab;
let bastion: Worker;
let fleet: Worker[];
let hosts: string;
beforeAll(async () => {
  // Thirteen sandbox workers, booted at once: the bastion and the fleet.
  lab = await startLab({ workers: FLEET + 1 });
  [bastion, ...fleet] = lab.workers as [Worker, ...Worker[]];
  hosts = JSON.stringify(fleet.map((worker) => `${worker.name}=${worker.user}@${worker.host}:${worker.port}`));
});
afterAll(async () => {
  await lab?.stop();
});

interface Figures {
  wallMs: number;
  /** Dial attempts that failed and were retried (the driver's attempts minus its completed handshakes). */
  dialRetries: number;
  handshakes: number;
}

async function timedUp(overrides: Record<string, string>): Promise<{ result: DeploymentResult; figures: Figures }> {
  const started = Date.now();
  const result = await lab.up(overrides);
  const wallMs = Date.now() - started;
  return {
    result,
    figures: {
      wallMs,
      dialRetries: result.dialAttempts - result.sshConnections,
      handshakes: result.sshConnections,
    },
  };
}

/** Every fleet worker ran its verify step and reported the mirror's containerd through its own CRI. */
async function expectFleetConverged(result: DeploymentResult): Promise<void> {
  expectOk(result);
  const outputs = result.outputs.workers as Record<string, Record<string, string>>;
  expect(Object.keys(outputs).sort()).toEqual(fleet.map((worker) => worker.name).sort());
  for (const [index, worker] of fleet.entries()) {
    expect(stepsRun(result, worker.name)).toContain("verify:create");
    expect(outputs[worker.name]?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
    expect(await lab.onWorker("crictl version", index + 1)).toMatch(/^RuntimeApiVersion:\s+v1$/m);
  }
}

/**
 * The drops sshd logged on the bastion. At its default LogLevel it logs the first drop of a burst
 * ("drop connection #12 from [...] past Maxstartups") and the rest only at VERBOSE, so this is a floor;
 * the driver's failed dials are the full count.
 */
async function dropsLoggedByBastion(since: string): Promise<number> {
  const count = await lab.onWorker(
    `journalctl -u ssh.service -o cat --no-pager --since '${since}' | grep -ci 'drop connection.*maxstartups' || true`,
    0,
  );
  return Number(count.trim());
}

const report = (what: string, f: Figures, extra = ""): void => {
  console.log(
    `[fleet] ${what}: ${FLEET} workers in ${(f.wallMs / 1000).toFixed(1)} s, ${f.handshakes} SSH handshakes, ` +
      `${f.dialRetries} dial retries${extra}`,
  );
};

describe("13 twelve workers in one up", () => {
  it("directly: every worker converges and answers CRI", async () => {
    const { result, figures } = await timedUp({ hosts });
    await expectFleetConverged(result);
    report("directly", figures);
  });

  it("through one bastion running sshd's defaults: every worker converges and answers CRI", async () => {
    expectOk(await lab.destroy());
    // The bastion runs sshd as the image ships it: MaxStartups and MaxSessions at OpenSSH's defaults.
    const effective = await lab.onWorker("sshd -T | grep -Ei '^(maxstartups|maxsessions) '", 0);
    expect(effective).toMatch(/^maxstartups 10:30:100$/m);
    expect(effective).toMatch(/^maxsessions 10$/m);
    // The fleet now takes logins from the bastion only: a "private subnet".
    for (const index of fleet.keys()) {
      await lab.onWorker(
        `echo 'AllowUsers *@${bastion.host}' > /etc/ssh/sshd_config.d/20-only-from.conf && systemctl reload ssh`,
        index + 1,
      );
    }
    const direct = await fleet[0]?.ssh("true", { timeoutMs: 15_000 });
    expect(direct?.stderr).toMatch(/Permission denied/);

    const since = (await lab.onWorker("date '+%Y-%m-%d %H:%M:%S'", 0)).trim();
    const { result, figures } = await timedUp({ hosts, bastion: `${bastion.user}@${bastion.host}` });
    await expectFleetConverged(result);
    await new Promise((resolve) => setTimeout(resolve, 500)); // sshd's last lines reach the journal
    const logged = await dropsLoggedByBastion(since);
    report("through one bastion", figures, ` (failed dials; the bastion's sshd logged ${logged} MaxStartups drops)`);
    // Nothing was installed on the bastion itself.
    expect(await lab.onWorker("test -e /usr/local/bin/containerd && echo installed || echo absent", 0)).toBe(
      "absent\n",
    );
  });

  it("a preview through the bastion reads all twelve, never more at once than driftReadConcurrency", async () => {
    // Each fleet worker's sshd runs /etc/ssh/sshrc before a session's command: it records, on the worker's
    // own clock, when the session began and ended, and holds it a second so that reads overlap if they can.
    const sessions = "/tmp/probe-sessions";
    for (const index of fleet.keys()) {
      await lab.onWorker(
        `printf '%s\\n' 'echo "$(date +%s.%N) start" >>${sessions}' 'sleep 1' 'echo "$(date +%s.%N) end" >>${sessions}' >/etc/ssh/sshrc`,
        index + 1,
      );
    }
    const bound = 4;
    const started = Date.now();
    const result = expectOk(
      await lab.preview({ hosts, bastion: `${bastion.user}@${bastion.host}`, driftReadConcurrency: bound }),
    );
    const wallMs = Date.now() - started;
    expect(result.warnings.filter((w) => /cannot read|host drift/.test(w))).toEqual([]);
    const intervals: [number, number][] = [];
    for (const index of fleet.keys()) {
      const lines = (await lab.onWorker(`cat ${sessions}; rm -f ${sessions} /etc/ssh/sshrc`, index + 1)).trim();
      const times = (word: string) =>
        lines
          .split("\n")
          .filter((line) => line.endsWith(` ${word}`))
          .map((line) => Number(line.split(" ")[0]));
      // One read per worker, and nothing else connected during the preview.
      expect(times("start")).toHaveLength(1);
      expect(times("end")).toHaveLength(1);
      intervals.push([times("start")[0] ?? 0, times("end")[0] ?? 0]);
    }
    // The most sessions open at one instant, over all twelve workers' clocks (one kernel, one clock).
    const events = intervals.flatMap(([start, end]) => [
      [start, 1],
      [end, -1],
    ]);
    events.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0) || (a[1] ?? 0) - (b[1] ?? 0));
    let open = 0;
    let peak = 0;
    for (const [, change] of events) peak = Math.max(peak, (open += change ?? 0));
    console.log(
      `[fleet] preview through one bastion: ${FLEET} workers read in ${(wallMs / 1000).toFixed(1)} s, ` +
        `at most ${peak} probe sessions open at once on the workers (driftReadConcurrency ${bound})`,
    );
    expect(peak).toBeLessThanOrEqual(bound);
    // The reads did run side by side, up to the bound: it is the bound that held them.
    expect(peak).toBeGreaterThan(1);
  });
});
