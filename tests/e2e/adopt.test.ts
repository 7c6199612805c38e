/**
 * Adopt, don't destroy: workers set up by hand with the article's steps (the mirror's real binaries at the
 * lab's versions, `containerd config default` and its sed, the unit, `enable --now`, /etc/crictl.yaml), a
 * container running on each. Preview names what each step will adopt; up converges them without stopping
 * the container, keeps every hand-made file it overwrites aside and says so, and restarts containerd once,
 * because its config changed; destroy puts every hand-made file back as it was (content, mode, owner,
 * timestamps) and leaves containerd enabled, as it was. Every assertion reads the workers themselves.
 *
 * Worker 0 has upstream's containerd.service as the article fetches it (license header and comments), so
 * the unit step rewrites it and restarts containerd; worker 1 has a unit identical to the component's, so
 * only the changed config.toml makes the unit step restart the containerd it found running.
 */
import { describe, expect, it } from "vitest";
import { artifactFor, Part } from "../../components/catalog/catalog";
import { renderContainerdUnit } from "../../components/render/containerdUnit";
import { resolveOptions } from "../../components/inputs/options";
import { planWorker } from "../../components/plan/workerPlan";
import { DeploymentResult } from "./driver";
import { expectOk, MIRROR_VERSIONS } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 2 });

/** upstream's containerd.service, as the article's curl fetches it. */
const UPSTREAM_UNIT = `# Copyright The containerd Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd

Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5

# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNPROC=infinity
LimitCORE=infinity

# Comment TasksMax if your systemd version does not supports it.
# Only systemd 226 and above support this version.
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`;

const CRICTL_YAML = `runtime-endpoint: unix:///run/containerd/containerd.sock
image-endpoint: unix:///run/containerd/containerd.sock
timeout: 10
`;

/** Everything the article's steps write, and what else lies in those directories. */
const HAND_MADE =
  "/usr/local/bin /usr/local/sbin /opt/cni/bin /etc/containerd /etc/crictl.yaml /etc/systemd/system/containerd.service";

/** The article's steps 1 to 5, by hand, as root on worker `index`. */
async function installByHand(index: number, unit: string): Promise<void> {
  const arch = process.arch === "arm64" ? "arm64" : "amd64";
  const url = (part: Part) => artifactFor(part, MIRROR_VERSIONS[part], arch, lab.mirror.baseUrl).url;
  const file = (part: Part) => artifactFor(part, MIRROR_VERSIONS[part], arch, lab.mirror.baseUrl).fileName;
  await lab.onWorker(
    [
      "set -euo pipefail",
      "cd /tmp",
      ...(["containerd", "runc", "cni", "crictl"] as const).map((part) => `curl -fsSL -O ${url(part)}`),
      `tar Cxzf /usr/local ${file("containerd")}`,
      `install -m 755 ${file("runc")} /usr/local/sbin/runc`,
      `mkdir -p /opt/cni/bin && tar Cxzf /opt/cni/bin ${file("cni")}`,
      `tar Cxzf /usr/local/bin ${file("crictl")}`,
      "mkdir -p /etc/containerd",
      "containerd config default | tee /etc/containerd/config.toml >/dev/null",
      "sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml",
      "cat >/etc/systemd/system/containerd.service <<'UNIT'",
      unit.replace(/\n$/, ""),
      "UNIT",
      "tee /etc/crictl.yaml >/dev/null <<'EOF'",
      CRICTL_YAML.replace(/\n$/, ""),
      "EOF",
      "systemctl daemon-reload",
      "systemctl enable --now containerd",
      "rm -f /tmp/containerd-*.tar.gz /tmp/runc.* /tmp/cni-plugins-*.tgz /tmp/crictl-*.tar.gz",
    ].join("\n"),
    index,
  );
}

/** Every file in the article's places: path, mode, owner, mtime (ns) and sha256, one line each. */
async function snapshot(index: number): Promise<string> {
  return lab.onWorker(
    `find ${HAND_MADE} \\( -type f -o -type l \\) -print0 2>/dev/null | sort -z | ` +
      `while IFS= read -r -d '' f; do printf '%s %s %s\\n' "$f" "$(stat -c '%a %u:%g %.9Y %F' "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"; done`,
    index,
  );
}

const CONTAINER = "handmade";

/** The container's PID and status, as containerd reports them. */
async function task(index: number): Promise<{ pid: string; status: string }> {
  const line = (await lab.onWorker(`ctr task ls | awk '$1 == "${CONTAINER}"'`, index)).trim();
  const [, pid = "", status = ""] = line.split(/\s+/);
  return { pid, status };
}

async function starts(index: number): Promise<number> {
  const out = await lab.onWorker(
    "journalctl -u containerd --no-pager -o cat | grep -c '^Started containerd' || true",
    index,
  );
  return Number(out.trim());
}

function stdoutOf(result: DeploymentResult, worker: string, step: string): string {
  return result.operations.find((op) => op.name === `${worker}-${step}` && op.command !== undefined)?.stdout ?? "";
}

/** What each step adopts on a hand-made worker: a sample of its files. */
const ADOPTED: Record<string, string[]> = {
  runc: ["/usr/local/sbin/runc"],
  containerd: ["/usr/local/bin/containerd", "/usr/local/bin/containerd-shim-runc-v2", "/usr/local/bin/ctr"],
  "cni-plugins": ["/opt/cni/bin/bridge", "/opt/cni/bin/loopback"],
  crictl: ["/usr/local/bin/crictl"],
  config: ["/etc/containerd/config.toml"],
  "crictl-yaml": ["/etc/crictl.yaml"],
  unit: ["/etc/systemd/system/containerd.service"],
};

const before: string[] = [];
const handConfig: string[] = [];
const containers: { pid: string; status: string }[] = [];
const startsBefore: number[] = [];

describe("workers set up by hand with the article's steps", () => {
  it("run containerd and a container of their own", async () => {
    await Promise.all([installByHand(0, UPSTREAM_UNIT), installByHand(1, renderContainerdUnit())]);
    for (const index of [0, 1]) {
      expect(await lab.onWorker("systemctl is-active containerd; systemctl is-enabled containerd", index)).toBe(
        "active\nenabled\n",
      );
      await lab.onWorker(
        [
          "mkdir -p /var/lib/e2e-rootfs/bin",
          "cp /bin/busybox /var/lib/e2e-rootfs/bin/busybox",
          `ctr run -d --runc-systemd-cgroup --cgroup system.slice:ctr:${CONTAINER} --rootfs /var/lib/e2e-rootfs ${CONTAINER} /bin/busybox sleep 86400`,
        ].join(" && "),
        index,
      );
      const running = await task(index);
      expect(running.status).toBe("RUNNING");
      containers[index] = running;
      before[index] = await snapshot(index);
      handConfig[index] = (await lab.onWorker("sha256sum </etc/containerd/config.toml", index)).split(" ")[0] ?? "";
      startsBefore[index] = await starts(index);
    }
    expect(before[0]).toContain("/etc/containerd/config.toml 644 0:0");
    expect(before[0]).toContain("/usr/local/sbin/runc 755 0:0");
  });

  it("preview names, by worker and step, every file each step will adopt", async () => {
    const result = expectOk(await lab.preview());
    const adopting = result.warnings.filter((warning) => warning.includes("adopting on worker"));
    for (const worker of lab.names) {
      for (const [step, paths] of Object.entries(ADOPTED)) {
        const warning = adopting.find((w) => w.includes(`adopting on worker ${worker}, step ${step}: `));
        expect(warning, `${worker} ${step}`).toBeDefined();
        for (const path of paths) expect(warning, `${worker} ${step}`).toContain(path);
      }
    }
    // A worker set up by hand is a first install, not drift.
    expect(result.warnings.filter((warning) => warning.includes("host drift"))).toEqual([]);
  });

  it("up converges them, says what it adopted, and keeps the container running", async () => {
    const result = expectOk(await lab.up());
    for (const [index, worker] of lab.names.entries()) {
      for (const [step, paths] of Object.entries(ADOPTED)) {
        for (const path of paths) {
          expect(stdoutOf(result, worker, step), `${worker} ${step}`).toContain(
            `adopted ${path} (kept aside; put back on destroy)`,
          );
        }
      }
      // The same container, the same process: containerd's restart left the shim alone.
      expect(await task(index)).toEqual(containers[index]);
      expect(await lab.onWorker(`kill -0 ${containers[index]?.pid ?? ""} && echo alive`, index)).toBe("alive\n");
      // Restarted once, since its config changed (the binaries are the same bytes): worker 0 for its new
      // unit text too, worker 1 because the containerd it found ran an older config.toml.
      expect(await starts(index), worker).toBe((startsBefore[index] ?? 0) + 1);
      expect(await lab.onWorker("systemctl is-active containerd; systemctl is-enabled containerd", index)).toBe(
        "active\nenabled\n",
      );
      // The copies: root-only, each the hand-made file.
      expect(await lab.onWorker("stat -c %a /var/lib/containerd-worker/adopted", index)).toBe("700\n");
      expect(
        (
          await lab.onWorker("sha256sum </var/lib/containerd-worker/adopted/config/etc/containerd/config.toml", index)
        ).split(" ")[0],
      ).toBe(handConfig[index]);
    }
    expect(stdoutOf(result, lab.nameOf(0), "unit")).toContain("unit changed: containerd restarted");
    expect(stdoutOf(result, lab.nameOf(1), "unit")).toContain(
      "containerd restarted: the one running was started before the component (/etc/containerd/config.toml changed after it started)",
    );
    const outputs = result.outputs.workers as Record<string, Record<string, string>>;
    for (const worker of lab.names) expect(outputs[worker]?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
  });

  it("once the component's, nothing is adopted again: preview is clean, and a new config keeps the first copy", async () => {
    const preview = expectOk(await lab.preview());
    expect(preview.warnings.filter((w) => w.includes("adopting on worker") || w.includes("host drift"))).toEqual([]);

    const result = expectOk(await lab.up({ sandboxImage: "registry.k8s.io/pause:3.10" }));
    for (const [index, worker] of lab.names.entries()) {
      expect(stdoutOf(result, worker, "config")).toContain("wrote /etc/containerd/config.toml");
      expect(stdoutOf(result, worker, "config")).not.toContain("adopted");
      expect(
        (
          await lab.onWorker("sha256sum </var/lib/containerd-worker/adopted/config/etc/containerd/config.toml", index)
        ).split(" ")[0],
      ).toBe(handConfig[index]);
      expect(await task(index)).toEqual(containers[index]);
    }
  });

  it("destroy puts every hand-made file back as it was, and containerd enabled as it was", async () => {
    const result = expectOk(await lab.destroy());
    for (const [index, worker] of lab.names.entries()) {
      expect(stdoutOf(result, worker, "config")).toContain("put back /etc/containerd/config.toml");
      expect(await snapshot(index)).toBe(before[index]);
      // Enabled again, as before; stopped, as destroy leaves every worker.
      expect(await lab.onWorker("systemctl is-enabled containerd; systemctl is-active containerd || true", index)).toBe(
        "enabled\ninactive\n",
      );
      expect(await lab.onWorker("test -e /var/lib/containerd-worker && echo left || echo gone", index)).toBe("gone\n");
    }
  });

  it("the unit's, config's and an install's deletes run again converge: the hand-made files stay", async () => {
    const steps = planWorker(lab.nameOf(0), resolveOptions({})).steps;
    const host = lab.workers[0];
    if (!host) throw new Error("no worker");
    for (const id of ["unit", "config", "crictl-yaml", "containerd"]) {
      const script = steps.find((step) => step.id === id)?.delete;
      if (!script) throw new Error(`no delete for ${id}`);
      const again = await host.ssh(script);
      expect(again.stderr, id).toBe("");
      expect(again.code, id).toBe(0);
    }
    expect(await snapshot(0)).toBe(before[0]);
    expect(await lab.onWorker("systemctl is-enabled containerd")).toBe("enabled\n");
    // And the operator's containerd starts with its own files again.
    await lab.onWorker("systemctl start containerd && systemctl is-active containerd");
  });
});
