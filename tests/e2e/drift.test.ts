/**
 * Config drift in preview. Desired drift: a changed stack input shows as an
 * update of exactly the steps it concerns, with the new content in the diff.
 * Host drift: a hand edit on a worker is reported by worker, step and what
 * differs; the next up restores it (restarting containerd only for the
 * config); a preview right after shows nothing.
 */
import { describe, expect, it } from "vitest";
import { DeploymentResult, readState } from "./driver";
import { expectOk, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 2, firstUp: true });
/** The worker whose files the tests change by hand, and the one they leave alone. */
const target = () => lab.nameOf(0);
const other = () => lab.nameOf(1);

/** The planned changes of a preview, as `step:op` per worker. */
function planned(result: DeploymentResult): string[] {
  return result.operations
    .filter((op) => op.planned && op.op !== "same")
    .map((op) => `${op.name}:${op.op}`)
    .sort();
}

function driftWarnings(result: DeploymentResult): string[] {
  return result.warnings.filter((warning) => warning.includes("host drift"));
}

async function mainPid(): Promise<string> {
  return (await lab.onWorker("systemctl show -p MainPID --value containerd")).trim();
}

async function previewShowsNothing(): Promise<void> {
  const result = expectOk(await lab.preview());
  expect(planned(result)).toEqual([]);
  expect(driftWarnings(result)).toEqual([]);
}

describe("an untouched worker", () => {
  it("shows no change, preview after preview", async () => {
    await previewShowsNothing();
    await previewShowsNothing();
  });

  it("keeps the scripts readable: read through the secret connection, they are not secret", () => {
    const config = readState(lab.stateFile)?.resources.find((r) => r.name === `${target()}-config`);
    expect(typeof config?.inputs.create).toBe("string");
    expect(config?.inputs.create).toContain("step config");
  });
});

describe("desired drift: a stack change shows as exactly the steps it concerns", () => {
  it("a new sandbox image: config (with the new TOML in its stdin), restart and verify on every worker", async () => {
    const result = expectOk(await lab.preview({ sandboxImage: "registry.k8s.io/pause:3.9" }));
    // A stack change is not host drift: the worker still holds what was put there.
    expect(driftWarnings(result)).toEqual([]);
    expect(planned(result)).toEqual(
      [target(), other()].flatMap((w) => [`${w}-config:update`, `${w}-restart:update`, `${w}-verify:update`]).sort(),
    );
    const config = result.operations.find((op) => op.name === `${target()}-config`);
    expect(config?.diffs).toContain("stdin");
    expect(await lab.onWorker("grep -c pause:3.9 /etc/containerd/config.toml || true")).toBe("0\n");
  });
});

describe("host drift: preview names it, up restores it, the next preview is clean", () => {
  it.each([
    {
      what: "an edited config.toml",
      edit: "echo '# edited by hand' >> /etc/containerd/config.toml",
      step: "config",
      message:
        /step config: \/etc\/containerd\/config\.toml changed \(sha256 [0-9a-f]{12}… on the worker, [0-9a-f]{12}… as put in place\)/,
      planned: ["config:update", "restart:update", "verify:update"],
      ran: ["config:create", "restart:update", "verify:create"],
      restarts: true,
    },
    {
      what: "a stopped containerd",
      edit: "systemctl stop containerd",
      step: "unit",
      message: /step unit: containerd is inactive/,
      planned: ["unit:update", "verify:update"],
      ran: ["unit:create", "verify:create"],
      restarts: true,
    },
    {
      what: "a disabled containerd",
      edit: "systemctl disable containerd",
      step: "unit",
      message: /step unit: containerd is disabled at boot/,
      planned: ["unit:update", "verify:update"],
      ran: ["unit:create", "verify:create"],
      restarts: false,
    },
    {
      what: "a replaced binary",
      edit: "cp /bin/true /usr/local/bin/ctr",
      step: "containerd",
      message: /step containerd: \/usr\/local\/bin\/ctr changed \(sha256 [0-9a-f]{12}… on the worker/,
      planned: ["containerd:update", "verify:update"],
      ran: ["containerd:create", "verify:create"],
      restarts: false,
    },
    {
      what: "a removed /etc/crictl.yaml",
      edit: "rm /etc/crictl.yaml",
      step: "crictl-yaml",
      message: /step crictl-yaml: \/etc\/crictl\.yaml is missing/,
      planned: ["crictl-yaml:update", "verify:update"],
      ran: ["crictl-yaml:create", "verify:create"],
      restarts: false,
    },
  ])("$what", async ({ edit, message, planned: expectedPlan, ran, restarts }) => {
    const pidBefore = await mainPid();
    await lab.onWorker(edit);

    const preview = expectOk(await lab.preview());
    const warnings = driftWarnings(preview);
    expect(warnings.length).toBeGreaterThan(0);
    for (const warning of warnings) expect(warning).toContain(`host drift on worker ${target()}, step `);
    expect(warnings.join("\n")).toMatch(message);
    expect(planned(preview)).toEqual(expectedPlan.map((step) => `${target()}-${step}`));

    const up = expectOk(await lab.up());
    expect(stepsRun(up, target())).toEqual(ran);
    expect(stepsRun(up, other())).toEqual([]);
    expect(await lab.onWorker("systemctl is-active containerd; systemctl is-enabled containerd")).toBe(
      "active\nenabled\n",
    );
    if (!restarts) expect(await mainPid()).toBe(pidBefore);

    await previewShowsNothing();
  });
});

describe("a worker that cannot be reached during preview", () => {
  it("is named in a warning and does not block the preview of the others", async () => {
    await lab.onWorker("systemctl stop ssh.socket ssh.service 2>/dev/null || systemctl stop ssh", 1);
    try {
      await lab.onWorker("echo '# edited' >> /etc/containerd/config.toml", 0);
      const result = expectOk(await lab.preview());
      expect(result.warnings.join("\n")).toMatch(
        new RegExp(`worker ${other()}: cannot read ${lab.workers[1]?.host} to check for host drift`),
      );
      expect(driftWarnings(result).join("\n")).toContain(`host drift on worker ${target()}, step config`);
      expect(planned(result).filter((op) => op.startsWith(`${other()}-`))).toEqual([]);
    } finally {
      await lab.onWorker("systemctl start ssh", 1);
    }
  });
});
