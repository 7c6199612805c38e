/**
 * One worker's life through the project's own program: cold provision, a
 * repeat with the same inputs, a sandbox image change, and destroy. Every
 * assertion reads the worker itself.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { CONTAINERD_WORKER_OLD_TYPE, CONTAINERD_WORKER_TYPE } from "../../components/containerdWorker";
import { commandsRun, readState } from "./driver";
import { expectOk, INSTALLED_FILES, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 1 });

function field(text: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(\\S.*)$`, "m").exec(text)?.[1];
}

describe("a worker through the program's life cycle", () => {
  it("1. cold provision: containerd runs, and the outputs are what the worker's CRI says", async () => {
    const result = expectOk(await lab.up());
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
    expect(await lab.onWorker("systemctl is-enabled containerd")).toBe("enabled\n");
    // systemd has loaded everything the unit step wrote and enabled: nothing is left "changed on disk".
    expect(await lab.onWorker("systemctl show -p NeedDaemonReload --value containerd")).toBe("no\n");

    const crictl = await lab.onWorker("crictl version");
    const workerOutputs = (result.outputs.workers as Record<string, Record<string, string>>)[lab.worker];
    expect(workerOutputs?.runtimeVersionReported).toBe(field(crictl, "RuntimeVersion"));
    expect(workerOutputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
    expect(workerOutputs?.runtimeName).toBe(field(crictl, "RuntimeName"));
    expect(workerOutputs?.runtimeApiVersion).toBe("v1");
    expect(workerOutputs?.cgroupDriver).toBe("systemd");
    expect(result.outputs.runtimeEndpoint).toBe("unix:///run/containerd/containerd.sock");

    const dump = await lab.onWorker("/usr/local/bin/containerd config dump");
    expect(dump).toMatch(/^\s*SystemdCgroup = true$/m);
    expect(dump).toMatch(/^\s*sandbox = ['"]registry\.k8s\.io\/pause:3\.10\.2['"]$/m);
    expect(dump).toMatch(/^\s*BinaryName = ['"]\/usr\/local\/sbin\/runc['"]$/m);

    // The article's expected complaint, and no other about CNI.
    const cniLines = (await lab.onWorker("journalctl -u containerd --no-pager -o cat | grep -i cni || true"))
      .split("\n")
      .filter((line) => /level=(error|warning)/.test(line));
    expect(cniLines.length).toBeGreaterThan(0);
    for (const line of cniLines) expect(line).toContain("no network config found in /etc/cni/net.d");
  });

  it("2. the same inputs again: no command runs", async () => {
    const result = expectOk(await lab.up());
    expect(commandsRun(result)).toEqual([]);
  });

  it("2b. a stack made with the 0.1 token (containerd-worker:containerd:…) re-applies with no command and no replacement", async () => {
    // The state as release 0.1 left it: the same resources and inputs (tests/stateCompatibility.test.ts holds every
    // input against that release), with the component, and so every child's URN, under the old token.
    const state = fs.readFileSync(lab.stateFile, "utf8");
    expect(state).toContain(CONTAINERD_WORKER_TYPE);
    fs.writeFileSync(lab.stateFile, state.split(CONTAINERD_WORKER_TYPE).join(CONTAINERD_WORKER_OLD_TYPE));
    const result = expectOk(await lab.up());
    expect(commandsRun(result)).toEqual([]);
    expect(result.operations.filter((operation) => operation.op !== "same")).toEqual([]);
    const after = readState(lab.stateFile)?.resources ?? [];
    expect(after.filter((resource) => resource.urn.includes(CONTAINERD_WORKER_OLD_TYPE))).toEqual([]);
    expect(after.filter((resource) => resource.parent?.includes(`${CONTAINERD_WORKER_TYPE}::`)).length).toBe(13);
  });

  it("3. a new sandbox image: only config, restart and verify run, and the image is in effect", async () => {
    const pidBefore = await lab.onWorker("systemctl show -p MainPID --value containerd");
    const result = expectOk(await lab.up({ sandboxImage: "registry.k8s.io/pause:3.10" }));
    expect(stepsRun(result, lab.worker)).toEqual(["config:create", "restart:update", "verify:create"]);
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
    expect(await lab.onWorker("systemctl is-enabled containerd")).toBe("enabled\n");
    expect(await lab.onWorker("systemctl show -p MainPID --value containerd")).not.toBe(pidBefore);
    expect(await lab.onWorker("/usr/local/bin/containerd config dump")).toMatch(
      /^\s*sandbox = ['"]registry\.k8s\.io\/pause:3\.10['"]$/m,
    );
  });

  it("8. destroy: containerd stopped and disabled, everything the component installed gone", async () => {
    expect(await lab.onWorker(`ls ${INSTALLED_FILES.join(" ")} | wc -l`)).toBe(`${INSTALLED_FILES.length}\n`);
    expectOk(await lab.destroy());
    expect(await lab.onWorker("systemctl is-active containerd || true")).toMatch(/^(inactive|unknown)\n$/);
    expect(await lab.onWorker("systemctl is-enabled containerd 2>&1 || true")).not.toContain("enabled\n");
    for (const file of INSTALLED_FILES) {
      expect(await lab.onWorker(`test -e ${file} && echo present || echo gone`), file).toBe("gone\n");
    }
    expect(await lab.onWorker("ls -A /opt/cni/bin /var/lib/containerd-worker 2>/dev/null | grep -v : || true")).toBe(
      "",
    );
  });
});
