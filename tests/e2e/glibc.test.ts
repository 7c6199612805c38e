/**
 * A worker whose glibc is older than containerd's dynamic build needs (issue 5, item 4): Debian bullseye
 * (glibc 2.31) and the mirror's containerd 2.1.9, a Debian sid build that needs GLIBC_2.34. The install step
 * runs the new binary before installing it, so the up fails there with the loader's own words, the worker and
 * the fix, and no containerd is installed.
 *
 * Then `staticBuild: true`: the mirror's static containerd 2.1.9 (built from Debian's own sources, no libc
 * at all) installs, and with the mirror's runc and CNI plugins, static as upstream's are, the worker converges:
 * containerd enabled and running under the component's unit, verified over CRI, runc starting a container.
 */
import { describe, expect, it } from "vitest";
import { PATHS } from "../../components/catalog/catalog";
import { manifestFile } from "../../components/catalog/records";
import { expectOk, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";
import { DeploymentResult } from "./driver";

const lab = useLab({ workers: 1, boot: () => ({ suite: "bullseye" }), staticBuilds: true });

/** The error of one step, as the user sees it. */
function stepError(result: DeploymentResult, step: string): string {
  const error = result.errors.find((e) => e.includes(`containerd-worker: worker ${lab.worker}, step ${step}:`));
  if (error === undefined) throw new Error(`no error for step ${step}: ${result.errors.join("\n")}`);
  return error;
}

/** What the failed containerd step may have left where the binaries live: nothing, on a clean failure. */
const LEFTOVERS = [
  `find ${PATHS.containerdBinDir} -maxdepth 1 \\( -name 'containerd*' -o -name ctr -o -name '.containerd-worker-stage.*' \\) -print`,
  `ls ${manifestFile("containerd")} ${PATHS.containerdUnit} 2>/dev/null || true`,
].join("; ");

describe("issue 5.4: a containerd that cannot run on the worker's glibc", () => {
  it("boots a worker with glibc 2.31", async () => {
    expect(await lab.onWorker("getconf GNU_LIBC_VERSION")).toBe("glibc 2.31\n");
  });

  it("fails the containerd step with the loader's message, the worker and the fix; nothing is installed", async () => {
    const result = await lab.up();
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(1);
    const error = stepError(result, "containerd");
    expect(error).toContain(`${lab.worker}-containerd`);
    expect(error).toContain(
      `containerd-worker: worker ${lab.worker}, step containerd: containerd from containerd-2.1.9-linux-amd64.tar.gz does not run on this worker:`,
    );
    expect(error).toMatch(/version `GLIBC_2\.3\d' not found/);
    expect(error).toContain("set staticBuild to install its static release");

    expect(await lab.onWorker(LEFTOVERS)).toBe("");
    // Steps that need containerd never ran; the ones beside it, issued with it after ready, did.
    const ran = stepsRun(result, lab.worker);
    expect(ran).toEqual(expect.arrayContaining(["ready:create", "containerd:create", "runc:create", "config:create"]));
    expect(ran.filter((step) => /^(unit|restart|verify):/.test(step))).toEqual([]);
    expect(await lab.onWorker(`test -s ${PATHS.containerdConfig} && echo written`)).toBe("written\n");
    expect(await lab.onWorker("systemctl is-active containerd || true")).toBe("inactive\n");
  });

  it("fails the same way on the next up, retrying only the failed install, and still leaves nothing", async () => {
    const result = await lab.up();
    expect(result.ok).toBe(false);
    expect(stepError(result, "containerd")).toContain("set staticBuild to install its static release");
    expect(stepsRun(result, lab.worker)).toEqual(["containerd:create"]);
    expect(await lab.onWorker(LEFTOVERS)).toBe("");
  });

  it("converges with staticBuild: the static containerd runs under the unit and answers CRI", async () => {
    const result = expectOk(await lab.up({ staticBuild: true }));
    expect(stepsRun(result, lab.worker)).toEqual(["containerd:create", "unit:create", "verify:create"]);
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[lab.worker];
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);

    // The static release, in place: no loader involved, and it runs on glibc 2.31.
    expect(await lab.onWorker(`ldd ${PATHS.containerdBinDir}/containerd 2>&1 || true`)).toMatch(
      /not a dynamic executable/,
    );
    expect(await lab.onWorker(`cat ${manifestFile("containerd")}`)).toContain(`${PATHS.containerdBinDir}/ctr`);
    expect(await lab.onWorker("systemctl is-enabled containerd; systemctl is-active containerd")).toBe(
      "enabled\nactive\n",
    );
    expect(await lab.onWorker("crictl version")).toMatch(/^RuntimeVersion:\s+v?2\.1\.9$/m);
    // The CNI plugins, static as upstream's, passed their self-check here and answer as a runtime asks them.
    expect(await lab.onWorker(`CNI_COMMAND=VERSION ${PATHS.cniBinDir}/bridge`)).toContain('"supportedVersions"');
  });

  it("runs a container there: runc, static as upstream's, works on glibc 2.31", async () => {
    await lab.onWorker(
      [
        "mkdir -p /var/lib/e2e-rootfs/bin",
        "cp /bin/busybox /var/lib/e2e-rootfs/bin/busybox",
        `ctr run --rm --runc-systemd-cgroup --cgroup system.slice:ctr:glibc --rootfs /var/lib/e2e-rootfs glibc /bin/busybox echo ran-by-runc >/tmp/glibc-run.out 2>&1`,
      ].join(" && "),
    );
    expect(await lab.onWorker("cat /tmp/glibc-run.out")).toBe("ran-by-runc\n");
  });
});
