/**
 * Destroy as a complete uninstall, as kubespray's reset does: with containers running, destroy stops
 * them through containerd before containerd itself stops, then forces what is left (shims, mounts),
 * removes every file the component wrote, and keeps the state directories unless
 * `purgeStateOnDestroy` asks for them to go. Every assertion reads the worker itself.
 */
import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../components/inputs/options";
import { planWorker } from "../../components/plan/workerPlan";
import { expectOk, INSTALLED_FILES, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 1 });

/** containerd's proxy, so that the unit has a drop-in for destroy to remove. */
const PROXY = { httpProxy: "http://proxy.internal:3128" };

/** Everything the component writes; destroy must leave none of it. */
const COMPONENT_FILES = [
  ...INSTALLED_FILES,
  "/etc/systemd/system/containerd.service.d/http-proxy.conf",
  "/var/lib/containerd-worker",
];

/** Where the containers write what happened to them: a host directory bind-mounted at /out. */
const OUT = "/var/lib/e2e-out";

/**
 * Starts a container with a busybox rootfs (the workers have no registry): `polite` writes
 * /out/<name> when SIGTERM arrives and exits; `stubborn` ignores SIGTERM and only a SIGKILL ends it.
 */
async function startContainer(name: string, kind: "polite" | "stubborn"): Promise<string> {
  const body =
    kind === "polite"
      ? `trap "echo TERM >/out/${name}; exit 0" TERM; while :; do sleep 1; done`
      : `trap "" TERM; while :; do sleep 1; done`;
  await lab.onWorker(
    [
      `mkdir -p /var/lib/e2e-rootfs/bin ${OUT}`,
      // Copied once: the busybox of a running container cannot be overwritten.
      "{ test -x /var/lib/e2e-rootfs/bin/busybox || cp /bin/busybox /var/lib/e2e-rootfs/bin/busybox; }",
      `ctr run -d --runc-systemd-cgroup --cgroup system.slice:ctr:${name} --mount type=bind,src=${OUT},dst=/out,options=rbind:rw --rootfs /var/lib/e2e-rootfs ${name} /bin/busybox sh -c '${body}'`,
    ].join(" && "),
  );
  const line = (await lab.onWorker(`ctr task ls | awk '$1 == "${name}"'`)).trim();
  const [, pid = "", status = ""] = line.split(/\s+/);
  expect(status, line).toBe("RUNNING");
  return pid;
}

/** Mounts as a CRI sandbox's /dev/shm and a leftover bind leave them: a tmpfs under /run/containerd and a
 * bind of a host directory (holding a canary file) under /var/lib/containerd. */
async function leaveMounts(): Promise<void> {
  await lab.onWorker(
    [
      "mkdir -p /run/containerd/io.containerd.grpc.v1.cri/sandboxes/e2e/shm /var/lib/containerd/e2e-bind /srv/e2e-host",
      "echo keep >/srv/e2e-host/canary",
      "mount -t tmpfs shm /run/containerd/io.containerd.grpc.v1.cri/sandboxes/e2e/shm",
      "mount --bind /srv/e2e-host /var/lib/containerd/e2e-bind",
    ].join(" && "),
  );
}

/** Mount points strictly below containerd's directories (the sandbox's /var/lib/containerd is itself one). */
async function mountsBelowContainerd(): Promise<string> {
  return lab.onWorker(
    'awk \'index($5, "/run/containerd/") == 1 || index($5, "/var/lib/containerd/") == 1 { print $5 }\' /proc/self/mountinfo',
  );
}

/** PIDs of processes whose first word is a containerd shim. */
async function shimProcesses(): Promise<string> {
  return lab.onWorker(
    "for p in /proc/[0-9]*; do a=$(tr '\\0' ' ' <$p/cmdline 2>/dev/null) || continue; case ${a%% *} in *containerd-shim*) echo ${p#/proc/};; esac; done",
  );
}

async function isGone(path: string): Promise<boolean> {
  return (await lab.onWorker(`test -e ${path} && echo present || echo gone`)) === "gone\n";
}

/** The wall-clock time (seconds) systemd began to stop containerd, from its journal. */
async function containerdStopAt(): Promise<number> {
  const lines = await lab.onWorker(
    "journalctl -u containerd -o short-unix --no-pager | grep 'Stopping containerd.service' || true",
  );
  const last = lines.trim().split("\n").pop() ?? "";
  return Number(last.split(" ")[0]);
}

async function expectComponentGone(): Promise<void> {
  expect(await lab.onWorker("systemctl is-active containerd || true")).toMatch(/^(inactive|unknown)\n$/);
  expect(await lab.onWorker("systemctl is-enabled containerd 2>&1 || true")).not.toContain("enabled\n");
  expect(await lab.onWorker("systemctl cat containerd >/dev/null 2>&1 && echo loaded || echo no-unit")).toBe(
    "no-unit\n",
  );
  for (const file of COMPONENT_FILES) expect(await isGone(file), file).toBe(true);
  expect(await isGone("/etc/systemd/system/containerd.service.d"), "the drop-in directory").toBe(true);
  expect(await lab.onWorker("ls -A /opt/cni/bin 2>/dev/null || true")).toBe("");
  expect(await shimProcesses(), "shims").toBe("");
  expect(await mountsBelowContainerd(), "mounts").toBe("");
}

describe("destroy stops every container first and uninstalls the runtime completely", () => {
  it("1. default: containers stopped before containerd, everything installed gone, state kept", async () => {
    expectOk(await lab.up(PROXY));
    const polite = await startContainer("polite", "polite");
    const stubborn = await startContainer("stubborn", "stubborn");
    await leaveMounts();
    expect(await shimProcesses()).not.toBe("");

    expectOk(await lab.destroy());

    // The polite container had its SIGTERM (so it was stopped through containerd, not killed afterwards),
    // and before systemd began to stop containerd.
    const stoppedAt = Number(await lab.onWorker(`stat -c %.6Y ${OUT}/polite`));
    expect(await lab.onWorker(`cat ${OUT}/polite`)).toBe("TERM\n");
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(await containerdStopAt());
    // The stubborn one ignored SIGTERM and was killed after the grace period.
    expect(await isGone(`${OUT}/stubborn`)).toBe(true);
    for (const pid of [polite, stubborn]) {
      expect(await lab.onWorker(`kill -0 ${pid} 2>/dev/null && echo alive || echo gone`), pid).toBe("gone\n");
    }

    await expectComponentGone();
    expect(await isGone("/etc/containerd"), "/etc/containerd held only what the component wrote").toBe(true);
    expect(await isGone("/etc/crictl.yaml")).toBe(true);
    // State kept: the metadata store and the runtime directory.
    expect(await isGone("/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db")).toBe(false);
    expect(await isGone("/run/containerd")).toBe(false);
    expect(await lab.onWorker("cat /srv/e2e-host/canary")).toBe("keep\n");
  });

  it("2. setting purgeStateOnDestroy runs nothing on the worker", async () => {
    expectOk(await lab.up(PROXY));
    const result = expectOk(await lab.up({ ...PROXY, purgeStateOnDestroy: true }));
    expect(stepsRun(result, lab.worker)).toEqual([]);
    expect(result.operations.find((op) => op.name === `${lab.worker}-reset`)?.op).toBe("update");
  });

  it("3. purge, with containerd already stopped by hand: containers forced, state directories gone, the user's files kept", async () => {
    const pid = await startContainer("orphan", "stubborn");
    await leaveMounts();
    await lab.onWorker(
      [
        "mkdir -p /var/lib/cni/networks/e2e /etc/containerd/certs.d/registry.example",
        "echo 10.22.0.5 >/var/lib/cni/networks/e2e/last_reserved_ip.0",
        "echo 'server = \"https://registry.example\"' >/etc/containerd/certs.d/registry.example/hosts.toml",
        "systemctl stop containerd",
      ].join(" && "),
    );
    expect(await shimProcesses()).not.toBe("");

    expectOk(await lab.destroy());

    expect(await lab.onWorker(`kill -0 ${pid} 2>/dev/null && echo alive || echo gone`)).toBe("gone\n");
    await expectComponentGone();
    expect(await isGone("/etc/containerd/config.toml")).toBe(true);
    expect(await lab.onWorker("cat /etc/containerd/certs.d/registry.example/hosts.toml")).toContain("registry.example");
    expect(await isGone("/run/containerd")).toBe(true);
    expect(await isGone("/var/lib/cni")).toBe(true);
    // The sandbox's /var/lib/containerd is a mount point of its own: emptied, not removed.
    expect(await lab.onWorker("ls -A /var/lib/containerd")).toBe("");
    // Nothing was removed through the bind mount: it was unmounted first.
    expect(await lab.onWorker("cat /srv/e2e-host/canary")).toBe("keep\n");
  });

  it("4. the reset step's delete run again on the bare host converges", async () => {
    const reset = planWorker(lab.worker, resolveOptions({ purgeStateOnDestroy: true })).steps.find(
      (s) => s.id === "reset",
    );
    const host = lab.workers[0];
    if (!host || !reset?.delete) throw new Error("no worker or no reset delete");
    const again = await host.ssh(reset.delete);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("stopped 0 tasks through containerd, forced 0 through runc, killed 0 shims");
  });
});
