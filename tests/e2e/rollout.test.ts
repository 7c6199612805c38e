/**
 * `rollout: one-at-a-time` on two workers: a change reaches the second worker only once the first has run it and
 * answered CRI with it, and a change that breaks containerd on the first never touches the second.
 */
import { describe, expect, it } from "vitest";
import { DeploymentResult } from "./driver";
import { expectOk, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 2 });

const ONE_AT_A_TIME = { rollout: "one-at-a-time" };
/** A drop-in that makes every start of containerd fail: a fault on the first worker only. */
const BROKEN_DROP_IN = "/etc/systemd/system/containerd.service.d/zz-e2e-broken.conf";

/** When a worker's steps ran: from its first start to its last end. */
function span(result: DeploymentResult, worker: string): [number, number] {
  const ops = result.operations.filter((op) => op.command !== undefined && op.name.startsWith(`${worker}-`));
  return [Math.min(...ops.map((op) => op.startedAt)), Math.max(...ops.map((op) => op.endedAt))];
}

const sandboxImageOn = (index: number) => lab.onWorker("grep -h sandbox /etc/containerd/config.toml", index);
const mainPidOn = (index: number) => lab.onWorker("systemctl show -p MainPID --value containerd", index);

describe("rollout one-at-a-time", () => {
  it("provisions the second worker only after the first has been verified", async () => {
    const result = expectOk(await lab.up(ONE_AT_A_TIME));
    const [, firstEnd] = span(result, lab.nameOf(0));
    const [secondStart] = span(result, lab.nameOf(1));
    expect(secondStart).toBeGreaterThanOrEqual(firstEnd);
    const outputs = result.outputs.workers as Record<string, Record<string, string>>;
    for (const worker of lab.names) expect(outputs[worker]?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
  });

  it("stops a change that breaks containerd at the first worker: the second is not touched", async () => {
    await lab.onWorker(
      `mkdir -p ${BROKEN_DROP_IN.replace(/\/[^/]*$/, "")} && printf '[Service]\\nExecStartPre=/bin/false\\n' >${BROKEN_DROP_IN} && systemctl daemon-reload`,
      0,
    );
    const imageBefore = await sandboxImageOn(1);
    const pidBefore = await mainPidOn(1);
    const result = await lab.up({ ...ONE_AT_A_TIME, sandboxImage: "registry.k8s.io/pause:3.10" });
    expect(result.ok).toBe(false);
    expect(result.errors.join("\n")).toContain(
      `containerd-worker: worker ${lab.nameOf(0)}, step restart: containerd is not running after restart, nor with the /etc/containerd/config.toml it last ran with:`,
    );
    expect(stepsRun(result, lab.nameOf(0))).toEqual(["config:create", "restart:update"]);
    expect(stepsRun(result, lab.nameOf(1))).toEqual([]);
    expect(await sandboxImageOn(1)).toBe(imageBefore);
    expect(await mainPidOn(1)).toBe(pidBefore);
    expect(await lab.onWorker("systemctl is-active containerd", 1)).toBe("active\n");
  });

  it("finishes the rollout once the first worker is fixed, still one worker after the other", async () => {
    await lab.onWorker(`rm ${BROKEN_DROP_IN} && systemctl daemon-reload`, 0);
    const result = expectOk(await lab.up({ ...ONE_AT_A_TIME, sandboxImage: "registry.k8s.io/pause:3.10" }));
    // The restart step put the old config.toml back when the new one would not start: the config step writes the
    // new one again. The unit step runs too if the drift probe finds containerd down.
    const firstSteps = stepsRun(result, lab.nameOf(0)).filter((step) => step !== "unit:create");
    expect(firstSteps).toEqual(["config:create", "restart:update", "verify:create"]);
    expect(stepsRun(result, lab.nameOf(1))).toEqual(["config:create", "restart:update", "verify:create"]);
    expect(span(result, lab.nameOf(1))[0]).toBeGreaterThanOrEqual(span(result, lab.nameOf(0))[1]);
    for (const index of [0, 1]) expect(await sandboxImageOn(index)).toContain("registry.k8s.io/pause:3.10");
  });
});
