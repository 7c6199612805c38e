/** The drift reads of many workers under one bound, with a fake probe that takes its time. */
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ContainerdWorker } from "../components/containerdWorker";
import { DEFAULT_DRIFT_READ_CONCURRENCY, setDriftReadConcurrency } from "../components/wiring/driftReads";
import { installMocks, settle, valueOf } from "./pulumiMocks";

const probe = vi.hoisted(() => ({ running: 0, peak: 0, reads: [] as string[], failing: new Set<string>() }));
vi.mock("../components/drift/sshProbe", () => ({
  PROBE_TIMEOUT_MS: 20_000,
  runProbe: async (connection: { host: string }) => {
    probe.peak = Math.max(probe.peak, ++probe.running);
    try {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (probe.failing.has(connection.host)) throw new Error("connection refused");
      probe.reads.push(connection.host);
      return ""; // a fresh worker: nothing recorded, no drift
    } finally {
      probe.running--;
    }
  },
}));

const VERIFY =
  "RuntimeName:  containerd\nRuntimeVersion:  v2.3.1\nRuntimeApiVersion:  v1\nCgroupDriver:  systemd\nLastCNILoadStatus:  ok\n";

beforeAll(() => {
  installMocks({
    outputsFor: (type, name) =>
      type === "command:remote:Command" && name.endsWith("-verify") ? { stdout: VERIFY } : {},
  });
});
afterAll(() => setDriftReadConcurrency(DEFAULT_DRIFT_READ_CONCURRENCY));

describe("ContainerdWorker drift reads under driftReadConcurrency", () => {
  it("12 workers with a bound of 3: never more than 3 reads at once, every worker read and finished", async () => {
    const info = vi.spyOn(pulumi.log, "info");
    const warn = vi.spyOn(pulumi.log, "warn");
    setDriftReadConcurrency(3);
    probe.failing.add("bounded-11.example");
    const workers = Array.from(
      { length: 12 },
      (_, i) => new ContainerdWorker(`bounded-${i}`, { connection: { host: `bounded-${i}.example`, user: "ubuntu" } }),
    );
    const versions = await Promise.all(workers.map((worker) => valueOf(worker.runtimeVersion)));
    await settle();
    expect(versions).toEqual(Array(12).fill("2.3.1"));
    expect(probe.peak).toBe(3);
    expect(probe.reads.sort()).toEqual(Array.from({ length: 11 }, (_, i) => `bounded-${i}.example`).sort());
    // The nine that waited said so, on their own component.
    const waits = info.mock.calls.map(([message]) => message).filter((m) => m.includes("waiting to read"));
    expect(waits).toHaveLength(9);
    expect(waits).toContainEqual(
      "worker bounded-11: waiting to read bounded-11.example for host drift (reads run 3 at a time; 8 waiting before it)",
    );
    // A worker that cannot be read still only warns.
    expect(warn.mock.calls.map(([message]) => message)).toEqual([
      expect.stringMatching(
        /^worker bounded-11: cannot read bounded-11\.example to check for host drift \(connection refused\)/,
      ),
    ]);
    // Twelve components under mocks: seconds on a loaded machine; the bound, not the time, is what is checked.
  }, 60_000);
});
