/**
 * Faults on the host side: a bad checksum, a corrupt, missing or truncated
 * download, a sudo that wants a password, an apply killed mid-way, a containerd
 * that will not start. Each gives an error naming the worker and the step, and
 * leaves the installed runtime as it was; the next apply converges.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { findArtifact } from "./mirror";
import { NEEDSPW_USER } from "./sandbox/worker";
import { expectOk, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 1, firstUp: true });
let runcSha256: string;
beforeAll(() => {
  const runc = findArtifact(lab.mirror.releases, "runc", MIRROR_VERSIONS.runc, "amd64");
  runcSha256 = createHash("sha256")
    .update(fs.readFileSync(`${lab.mirror.releases.root}/${runc.urlPath}`))
    .digest("hex");
});

async function installedRunc(): Promise<string> {
  return lab.onWorker("sha256sum /usr/local/sbin/runc | cut -d' ' -f1; systemctl is-active containerd");
}

describe("5. a bad artifact fails its step by name and leaves the installed binary untouched", () => {
  const wrong = "0".repeat(64);
  it.each([
    {
      what: "a pinned checksum that does not match",
      pin: () => wrong,
      fault: undefined,
      message: () => new RegExp(`checksum mismatch for runc\\.amd64 .*: expected sha256 ${wrong}, got ${runcSha256}`),
    },
    {
      what: "a corrupt download",
      pin: () => runcSha256,
      fault: "corrupt" as const,
      message: () =>
        new RegExp(`checksum mismatch for runc\\.amd64 .*: expected sha256 ${runcSha256}, got [0-9a-f]{64}`),
    },
    { what: "a 404", pin: () => runcSha256, fault: "404" as const, message: () => /runc\.amd64 failed: .*404/ },
    {
      what: "a truncated download",
      pin: () => runcSha256,
      fault: "truncate" as const,
      message: () => /download of .*runc\.amd64 failed: curl: \(18\)/,
    },
  ])("$what", async ({ pin, fault, message }) => {
    const before = await installedRunc();
    lab.mirror.clearFaults();
    if (fault) lab.mirror.setFault("/runc.amd64", fault);
    const result = await lab.up({ runcSha256: pin() });
    lab.mirror.clearFaults();
    expect(result.ok).toBe(false);
    expect(result.error).toContain(`${lab.worker}-runc`);
    expect(result.error).toContain(`containerd-worker: worker ${lab.worker}, step runc:`);
    expect(result.error).toMatch(message());
    expect(await installedRunc()).toBe(before);
  });

  it("converges once the artifact is right again", async () => {
    const result = expectOk(await lab.up({ runcSha256 }));
    expect(stepsRun(result, lab.worker)).toEqual(["runc:create", "verify:create"]);
  });
});

describe("6. a sudo that wants a password", () => {
  it("fails the first step at once with a clear message, and does not hang", async () => {
    const host = lab.workers[0]?.host ?? "";
    const started = Date.now();
    const result = await lab.up({ runcSha256, hosts: JSON.stringify([`${lab.worker}=${NEEDSPW_USER}@${host}`]) });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.ok).toBe(false);
    expect(result.error).toContain(
      `containerd-worker: worker ${lab.worker}, step ready: user ${NEEDSPW_USER} cannot run sudo without a password`,
    );
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
  });
});

describe("7. an apply killed mid-way converges on the next one", () => {
  it("kills the deployment during the downloads of a fresh install, then applies again", async () => {
    expectOk(await lab.destroy());
    lab.mirror.setBytesPerSecond(4_000_000);
    const handle = lab.startUp();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    handle.kill("SIGKILL");
    const killed = await handle.done;
    lab.mirror.setBytesPerSecond(undefined);
    expect(killed.signal).toBe("SIGKILL");
    const partial = lab.mirror.requests.filter((request) => !request.complete);
    expect(partial.length).toBeGreaterThan(0);

    const result = expectOk(await lab.up());
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[lab.worker];
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
    expect(await lab.onWorker("crictl version")).toMatch(/^RuntimeName:\s+containerd$/m);
    // No stage is left where the binaries live, whether the killed run's trap removed it or the next run did.
    const stages = await lab.onWorker(
      "find /usr/local/bin /usr/local/sbin /opt/cni/bin -maxdepth 1 -name '.containerd-worker-stage.*' -print",
    );
    expect(stages).toBe("");
  });
});

describe("a containerd that won't start", () => {
  it("fails the unit step with the unit's status and journal, naming the worker and the step", async () => {
    expectOk(await lab.destroy());
    // A host fault the component did not make: a file sits where containerd keeps its state and socket.
    await lab.onWorker("rm -rf /run/containerd && echo junk >/run/containerd");
    const result = await lab.up();
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(1);
    const error = result.errors[0] ?? "";
    expect(error).toContain(
      `containerd-worker: worker ${lab.worker}, step unit: containerd is not running after start:`,
    );
    // systemd's own words and containerd's, from the journal: the cause is in the error.
    expect(error).toMatch(/containerd\.service/);
    expect(error).toContain("/run/containerd: not a directory");
    const ran = stepsRun(result, lab.worker);
    expect(ran).toContain("unit:create");
    expect(ran.filter((step) => /^(restart|verify):/.test(step))).toEqual([]);
  });

  it("converges on the next up once the host is fixed", async () => {
    await lab.onWorker("rm /run/containerd");
    const result = expectOk(await lab.up());
    expect(stepsRun(result, lab.worker)).toEqual(["unit:create", "verify:create"]);
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[lab.worker];
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
    expect(await lab.onWorker("systemctl is-enabled containerd; systemctl is-active containerd")).toBe(
      "enabled\nactive\n",
    );
  });
});

describe("a config change that containerd will not start with", () => {
  const BAD = { containerdSettings: JSON.stringify({ extraConfig: { state: "/dev/null/state" } }) };
  const configSha = () => lab.onWorker("sha256sum /etc/containerd/config.toml | cut -d' ' -f1");

  it("puts back the config.toml containerd last ran with, keeps it running, and says why the new one failed", async () => {
    expectOk(await lab.up());
    const verifiedSha = await configSha();
    const result = await lab.up(BAD);
    expect(result.ok).toBe(false);
    const error = result.errors.join("\n");
    expect(error).toContain(
      `containerd-worker: worker ${lab.worker}, step restart: containerd did not start with the new /etc/containerd/config.toml, ` +
        "so the one it last ran with is back in place and containerd runs with it",
    );
    // containerd's own words about the rejected config, from the journal.
    expect(error).toContain("/dev/null");
    expect(stepsRun(result, lab.worker)).toEqual(["config:create", "restart:update"]);
    expect(await configSha()).toBe(verifiedSha);
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
    expect(await lab.onWorker("crictl version")).toMatch(/^RuntimeApiVersion:\s+v1$/m);
  });

  it("shows the put-back file as drift in the next preview of the same inputs", async () => {
    const preview = await lab.preview(BAD);
    // The inputs are those of the failed up: only the host's file differs from what the config step wrote.
    const changed = preview.operations.filter((op) => op.op !== "same").map((op) => [op.name, op.op]);
    expect(changed).toEqual([
      [`${lab.worker}-config`, "update"],
      [`${lab.worker}-restart`, "update"],
      [`${lab.worker}-verify`, "update"],
    ]);
  });

  it("converges once the change is dropped", async () => {
    const result = expectOk(await lab.up());
    expect(stepsRun(result, lab.worker)).toEqual(["config:create", "restart:update", "verify:create"]);
    expect(await lab.onWorker("grep -c /dev/null /etc/containerd/config.toml || true")).toBe("0\n");
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
  });
});
