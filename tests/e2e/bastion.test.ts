/**
 * A worker in a "private subnet": its sshd takes logins only from the
 * bastion's address, so this host cannot reach it directly. With the
 * program's `bastion` config, up converges it through the bastion and
 * preview's drift probe reads it through the bastion too.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { expectOk, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";
import type { Worker } from "./sandbox/worker";

const lab = useLab({
  workers: 2,
  boot: (index, booted) => (index === 1 && booted[0] ? { sshOnlyFrom: booted[0].host } : {}),
});
let bastion: Worker;
let target: Worker;
let viaBastion: Record<string, string>;
beforeAll(() => {
  [bastion, target] = lab.workers as [Worker, Worker];
  viaBastion = {
    hosts: JSON.stringify([`${target.name}=${target.user}@${target.host}`]),
    bastion: `${bastion.user}@${bastion.host}`,
  };
});

describe("5.6 a worker reachable only through a bastion", () => {
  it("refuses SSH from this host, directly", async () => {
    const direct = await target.ssh("true", { timeoutMs: 15_000 });
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toMatch(/Permission denied/);
    // ...and so does the program without the bastion: its ready step cannot log in.
    const result = await lab.up({ hosts: viaBastion.hosts ?? "", readyTimeoutSeconds: 1 });
    expect(result.ok).toBe(false);
    expect(result.error).toContain(`${target.name}-ready`);
    expect(result.error).toMatch(/ssh: handshake failed: ssh: unable to authenticate/);
    expect(stepsRun(result, target.name)).toEqual(["ready:create"]);
  });

  it("up with the bastion config converges it, verified through its own CRI", async () => {
    const result = expectOk(await lab.up(viaBastion));
    expect(stepsRun(result, target.name)).toContain("verify:create");
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[target.name];
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
    expect(await lab.onWorker("crictl version", 1)).toMatch(/^RuntimeVersion:\s+2\.1\.9/m);
    // Every login the worker took came from the bastion; the bastion itself got nothing installed.
    const logins = await lab.onWorker("journalctl -u ssh.service --no-pager | grep 'Accepted publickey' || true", 1);
    expect(logins).not.toBe("");
    for (const line of logins.trim().split("\n")) expect(line).toContain(` from ${bastion.host} `);
    expect(await lab.onWorker("test -e /usr/local/bin/containerd && echo installed || echo absent", 0)).toBe(
      "absent\n",
    );
  });

  it("preview with drift detection reads it through the bastion", async () => {
    const untouched = expectOk(await lab.preview(viaBastion));
    expect(untouched.warnings.filter((w) => /cannot read|host drift/.test(w))).toEqual([]);
    await lab.onWorker("echo '# edited by hand' >> /etc/containerd/config.toml", 1);
    const drifted = expectOk(await lab.preview(viaBastion));
    expect(drifted.warnings).toContainEqual(
      expect.stringContaining(`host drift on worker ${target.name}, step config: /etc/containerd/config.toml changed`),
    );
    const planned = drifted.operations.filter((op) => op.planned && op.op !== "same").map((op) => op.name);
    expect(planned).toContain(`${target.name}-config`);
  });
});
