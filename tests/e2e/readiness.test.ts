/**
 * The readiness gate on a just-booted worker: an up started while sshd is
 * not yet up and cloud-init is still running waits for both, then
 * installs; a timeout too short for either fails the ready step by name,
 * and nothing is installed.
 */
import { afterAll, describe, expect, it } from "vitest";
import { DeploymentResult } from "./driver";
import { expectOk, Lab, MIRROR_VERSIONS, startLab, stepsRun } from "./lab";
import { CLOUD_INIT_MARKER } from "./sandbox/worker";

const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((lab) => lab.stop()));
});

async function lab(options: Parameters<typeof startLab>[0]): Promise<Lab> {
  const started = await startLab(options);
  labs.push(started);
  return started;
}

const INSTALLED =
  "if test -e /usr/local/bin/containerd || test -e /usr/local/sbin/runc || test -e /opt/cni/bin; then echo installed; else echo absent; fi";

function operation(result: DeploymentResult, name: string) {
  const op = result.operations.find((o) => o.name === name && !o.planned);
  if (!op) throw new Error(`${name} did not run`);
  return op;
}

/** Epoch seconds of the first SSH login the worker's sshd accepted. */
async function firstLogin(l: Lab): Promise<number> {
  const line = await l.onWorker("journalctl -u ssh.service -o short-unix --no-pager | grep -m1 'Accepted publickey'");
  return Number(line.split(" ")[0]);
}

describe("5.5 a worker whose sshd comes up late, with cloud-init still running", () => {
  it("an up started right after boot retries the dial, waits for cloud-init, then installs", async () => {
    // sshd refuses for longer than pulumi-command's default 10 retries wait (about 11 s): only the gate gets in.
    const l = await lab({
      workers: 1,
      boot: () => ({ sshDelaySeconds: 15, waitFor: "started", cloudInit: { runcmdSeconds: 5 } }),
    });
    const worker = l.workers[0]?.name ?? "";
    // The default readyTimeoutSeconds (300).
    const result = expectOk(await l.up());

    const ready = operation(result, `${worker}-ready`);
    const login = (await firstLogin(l)) * 1000;
    // ready kept dialing for longer than the default retries (11.3 s of waits) would have.
    expect(login - ready.startedAt).toBeGreaterThan(11_400);
    const marker = Number(await l.onWorker(`cat ${CLOUD_INIT_MARKER}`)) * 1000;
    // It reached the worker before cloud-init's user-data was done, and ended after it...
    expect(login).toBeLessThan(marker);
    expect(ready.endedAt).toBeGreaterThanOrEqual(marker);
    // ...so no step that installs anything started before it.
    for (const step of ["runc", "containerd", "cni-plugins", "crictl", "config", "crictl-yaml"]) {
      expect(operation(result, `${worker}-${step}`).startedAt).toBeGreaterThanOrEqual(marker);
    }
    expect(await l.onWorker("cloud-init status")).toBe("status: done\n");
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[worker];
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
  });
});

describe("5.5 a readiness timeout too short", () => {
  it("for sshd: the ready step gives up after the timeout, by name, and nothing is installed", async () => {
    const l = await lab({ workers: 1, boot: () => ({ sshDelaySeconds: 20, waitFor: "started" }) });
    const worker = l.workers[0]?.name ?? "";
    const result = await l.up({ readyTimeoutSeconds: 3 });
    expect(result.ok).toBe(false);
    expect(result.error).toContain(`${worker}-ready`);
    // 3 s of retry waits take 7 retries (100 ms x1.5 ...): pulumi-command's own message.
    expect(result.error).toMatch(/after 7 failed attempts: dial tcp [\d.]+:22: connect: connection refused/);
    const ready = operation(result, `${worker}-ready`);
    expect(ready.endedAt - ready.startedAt).toBeGreaterThanOrEqual(3_000);
    expect(ready.endedAt - ready.startedAt).toBeLessThan(20_000);
    expect(stepsRun(result, worker)).toEqual(["ready:create"]);
    expect(await l.onWorker(INSTALLED)).toBe("absent\n");
  });

  it("for cloud-init: the ready step fails with what it waited for and the timeout, and nothing is installed", async () => {
    const l = await lab({ workers: 1, boot: () => ({ cloudInit: { runcmdSeconds: 120 }, waitFor: "started" }) });
    const worker = l.workers[0]?.name ?? "";
    const result = await l.up({ readyTimeoutSeconds: 15 });
    expect(result.ok).toBe(false);
    expect(result.error).toContain(
      `containerd-worker: worker ${worker}, step ready: cloud-init has not finished 15 s after boot (readyTimeoutSeconds; status: running)`,
    );
    expect(stepsRun(result, worker)).toEqual(["ready:create"]);
    expect(await l.onWorker(INSTALLED)).toBe("absent\n");
  });
});
