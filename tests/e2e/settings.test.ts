/**
 * containerdSettings through the program on a sandbox worker: on containerd
 * 1.7.24 (config version 2) and, after an upgrade, 2.1.9 (version 3), each
 * setting is in effect in the running containerd, as its `config dump` and its
 * CRI answer show; a key in the wrong place fails before anything connects;
 * removing the settings takes them out again.
 */
import { describe, expect, it } from "vitest";
import type { ContainerdSettings } from "../../components/args/containerdSettingsArgs";
import { commandsRun } from "./driver";
import { expectOk, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 1 });

const settings = (value: ContainerdSettings) => ({ containerdSettings: JSON.stringify(value) });

/** The lines of one table of `containerd config dump`, indentation removed. */
async function dumpTable(header: string): Promise<string[]> {
  const dump = await lab.onWorker("/usr/local/bin/containerd config dump");
  const lines = dump.split("\n").map((line) => line.trim());
  const start = lines.indexOf(header);
  expect(start, `${header} in the dump`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, i) => i > start && line.startsWith("["));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** What containerd's CRI plugin itself reports (`crictl info`), parsed. */
async function criInfo(): Promise<Record<string, unknown>> {
  return JSON.parse(await lab.onWorker("crictl info")) as Record<string, unknown>;
}

const SETTINGS_2X: ContainerdSettings = {
  snapshotter: "native",
  maxContainerLogLineSize: 65536,
  runtimes: {
    // A second runc handler whose binary exists on the worker: a RuntimeClass could name it.
    "runc-debug": {
      runtimeType: "io.containerd.runc.v2",
      options: { BinaryName: "/usr/local/sbin/runc", SystemdCgroup: true },
    },
  },
  extraConfig: { timeouts: { "io.containerd.timeout.shim.load": "7s" } },
};

describe("5.7 extra containerd settings", () => {
  it("containerd 1.7.24 (config version 2): the log line size is in effect under the 1.x CRI plugin", async () => {
    const result = expectOk(
      await lab.up({
        containerdVersion: MIRROR_VERSIONS.containerdOld,
        ...settings({ maxContainerLogLineSize: 65536 }),
      }),
    );
    expect(stepsRun(result, lab.worker)).toContain("verify:create");
    expect(await lab.onWorker("grep '^version' /etc/containerd/config.toml")).toBe("version = 2\n");
    expect(await dumpTable('[plugins."io.containerd.grpc.v1.cri"]')).toContain("max_container_log_line_size = 65536");
    // The CRI plugin's own view of its config (the field's JSON name is maxContainerLogSize).
    expect(((await criInfo()).config as Record<string, unknown>).maxContainerLogSize).toBe(65536);
  });

  it("2.1.9 (config version 3): snapshotter, log line size, an extra runtime and a raw key, all in effect", async () => {
    const result = expectOk(await lab.up(settings(SETTINGS_2X)));
    expect(stepsRun(result, lab.worker)).toEqual([
      "config:create",
      "containerd:create",
      "restart:update",
      "verify:create",
    ]);
    expect(await lab.onWorker("grep '^version' /etc/containerd/config.toml")).toBe("version = 3\n");

    // The merged config containerd runs with, table by table.
    expect(await dumpTable("[plugins.'io.containerd.cri.v1.images']")).toContain("snapshotter = 'native'");
    expect(await dumpTable("[plugins.'io.containerd.cri.v1.runtime']")).toContain(
      "max_container_log_line_size = 65536",
    );
    expect(await dumpTable("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc-debug]")).toContain(
      "runtime_type = 'io.containerd.runc.v2'",
    );
    expect(await dumpTable("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc-debug.options]")).toEqual(
      expect.arrayContaining(["BinaryName = '/usr/local/sbin/runc'", "SystemdCgroup = true"]),
    );
    expect(await dumpTable("[timeouts]")).toContain("'io.containerd.timeout.shim.load' = '7s'");
    // The component's own runc is untouched.
    expect(await dumpTable("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]")).toContain(
      "SystemdCgroup = true",
    );

    // The CRI plugin serves the new handler, and the native snapshotter is loaded.
    const info = await criInfo();
    const handlers = (info.runtimeHandlers as { name: string }[] | undefined)?.map((handler) => handler.name);
    expect(handlers).toEqual(expect.arrayContaining(["runc", "runc-debug"]));
    expect(await lab.onWorker("ctr plugins ls | awk '$2 == \"native\" { print $1, $NF }'")).toBe(
      "io.containerd.snapshotter.v1 ok\n",
    );
    expect(await lab.onWorker("ctr snapshots --snapshotter native ls")).toMatch(/^KEY\s+PARENT\s+KIND/);
  });

  it("the same settings again run nothing", async () => {
    const result = expectOk(await lab.up(settings(SETTINGS_2X)));
    expect(commandsRun(result)).toEqual([]);
  });

  it("a key in the wrong place for 2.1 fails before anything connects, naming where it lives", async () => {
    const before = await lab.onWorker("sha256sum /etc/containerd/config.toml");
    const wrong = settings({
      extraConfig: { plugins: { "io.containerd.grpc.v1.cri": { containerd: { snapshotter: "native" } } } },
    });
    for (const result of [await lab.preview(wrong), await lab.up(wrong)]) {
      expect(result.ok).toBe(false);
      expect(result.error).toContain(
        `ContainerdWorker ${lab.worker}: invalid containerdSettings.extraConfig.plugins."io.containerd.grpc.v1.cri".containerd.snapshotter: ` +
          `containerd 2.1 (config version 3) has no such key; it lives at plugins."io.containerd.cri.v1.images".snapshotter`,
      );
      expect(commandsRun(result)).toEqual([]);
    }
    expect(await lab.onWorker("sha256sum /etc/containerd/config.toml")).toBe(before);
  });

  it("without the settings, only config, restart and verify run, and containerd is back to its defaults", async () => {
    const result = expectOk(await lab.up());
    expect(stepsRun(result, lab.worker)).toEqual(["config:create", "restart:update", "verify:create"]);
    expect(await dumpTable("[plugins.'io.containerd.cri.v1.images']")).toContain("snapshotter = 'overlayfs'");
    expect(await lab.onWorker("/usr/local/bin/containerd config dump")).not.toContain("runc-debug");
    const handlers = ((await criInfo()).runtimeHandlers as { name: string }[] | undefined)?.map((h) => h.name);
    expect(handlers).not.toContain("runc-debug");
  });
});
