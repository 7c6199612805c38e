/**
 * containerd 1.7.24 (config schema 2) upgraded to 2.1.9 (schema 3) through
 * the program, with a container started by `ctr run` that must live through
 * a config-change restart and the upgrade: the shim, not containerd, is its parent.
 */
import { describe, expect, it } from "vitest";
import { expectOk, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 1 });

const CONTAINER = "survivor";

/** The PID of the container's process and its task status, as containerd reports them. */
async function task(): Promise<{ pid: string; status: string }> {
  const line = (await lab.onWorker(`ctr task ls | awk '$1 == "${CONTAINER}"'`)).trim();
  const [, pid = "", status = ""] = line.split(/\s+/);
  return { pid, status };
}

describe("upgrade from containerd 1.7 to 2.1 with a running container", () => {
  it("provisions containerd 1.7.24 with a config version 2", async () => {
    const result = expectOk(await lab.up({ containerdVersion: MIRROR_VERSIONS.containerdOld }));
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[lab.worker];
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerdOld);
    expect(await lab.onWorker("grep '^version' /etc/containerd/config.toml")).toBe("version = 2\n");
    expect(await lab.onWorker("/usr/local/bin/containerd config dump")).toMatch(/^\s*SystemdCgroup = true$/m);
  });

  it("starts a container with ctr run (systemd cgroup driver, busybox rootfs)", async () => {
    await lab.onWorker(
      [
        "mkdir -p /var/lib/e2e-rootfs/bin",
        "cp /bin/busybox /var/lib/e2e-rootfs/bin/busybox",
        `ctr run -d --runc-systemd-cgroup --cgroup system.slice:ctr:${CONTAINER} --rootfs /var/lib/e2e-rootfs ${CONTAINER} /bin/busybox sleep 86400`,
      ].join(" && "),
    );
    expect((await task()).status).toBe("RUNNING");
  });

  it("10a. the container survives a config-change restart", async () => {
    const before = await task();
    const mainPid = await lab.onWorker("systemctl show -p MainPID --value containerd");
    const result = expectOk(
      await lab.up({ containerdVersion: MIRROR_VERSIONS.containerdOld, sandboxImage: "registry.k8s.io/pause:3.10" }),
    );
    expect(stepsRun(result, lab.worker)).toEqual(["config:create", "restart:update", "verify:create"]);
    expect(await lab.onWorker("systemctl show -p MainPID --value containerd")).not.toBe(mainPid);
    expect(await task()).toEqual(before);
    expect(await lab.onWorker(`kill -0 ${before.pid} && echo alive`)).toBe("alive\n");
  });

  it("4 + 10b. upgrades to 2.1.9: binaries replaced, config re-rendered, runtime verified, container alive", async () => {
    const before = await task();
    const result = expectOk(await lab.up({ sandboxImage: "registry.k8s.io/pause:3.10" }));
    expect(stepsRun(result, lab.worker)).toEqual([
      "config:create",
      "containerd:create",
      "restart:update",
      "verify:create",
    ]);
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[lab.worker];
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
    expect(await lab.onWorker("/usr/local/bin/containerd --version")).toContain(MIRROR_VERSIONS.containerd);
    expect(await lab.onWorker("grep '^version' /etc/containerd/config.toml")).toBe("version = 3\n");
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
    expect(await lab.onWorker("crictl version")).toMatch(/^RuntimeVersion:\s+2\.1\.9/m);
    expect(await task()).toEqual(before);
    expect(await lab.onWorker(`kill -0 ${before.pid} && echo alive`)).toBe("alive\n");
  });
});
