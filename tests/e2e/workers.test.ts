/**
 * 9. Three workers at once, in parallel, each verified on its own CRI; then a change rolled out first-then-rest:
 * the first worker alone, then the other two together.
 */
import { describe, expect, it } from "vitest";
import { DeploymentResult } from "./driver";
import { expectOk, MIRROR_VERSIONS } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 3 });

/** When a worker's steps ran: from its first start to its last end. */
function span(result: DeploymentResult, worker: string): [number, number] {
  const ops = result.operations.filter((op) => op.command !== undefined && op.name.startsWith(`${worker}-`));
  return [Math.min(...ops.map((op) => op.startedAt)), Math.max(...ops.map((op) => op.endedAt))];
}

describe("three workers", () => {
  it("are provisioned in parallel and each reports containerd through its own CRI", async () => {
    const result = expectOk(await lab.up());
    const outputs = result.outputs.workers as Record<string, Record<string, string>>;
    expect(Object.keys(outputs).sort()).toEqual(lab.workers.map((w) => w.name).sort());
    for (const [index, worker] of lab.workers.entries()) {
      expect(outputs[worker.name]?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
      expect(outputs[worker.name]?.host).toBe(worker.host);
      expect(await lab.onWorker("systemctl is-active containerd", index)).toBe("active\n");
      expect(await lab.onWorker("crictl version", index)).toMatch(/^RuntimeApiVersion:\s+v1$/m);
    }
    const spans = lab.workers.map((worker) => span(result, worker.name));
    const latestStart = Math.max(...spans.map(([start]) => start));
    const earliestEnd = Math.min(...spans.map(([, end]) => end));
    expect(latestStart).toBeLessThan(earliestEnd);
  });

  it("with rollout first-then-rest, take a change on the first worker alone, then on the other two together", async () => {
    const result = expectOk(await lab.up({ rollout: "first-then-rest", sandboxImage: "registry.k8s.io/pause:3.10" }));
    const [canary, ...rest] = lab.workers.map((worker) => span(result, worker.name));
    const canaryEnd = canary?.[1] ?? Infinity;
    for (const [start] of rest) expect(start).toBeGreaterThanOrEqual(canaryEnd);
    // The other two overlap: each starts before the other ends.
    const [second, third] = rest as [[number, number], [number, number]];
    expect(Math.max(second[0], third[0])).toBeLessThan(Math.min(second[1], third[1]));
    for (const index of [0, 1, 2]) {
      expect(await lab.onWorker("grep -h sandbox /etc/containerd/config.toml", index)).toContain("pause:3.10");
    }
  });
});
