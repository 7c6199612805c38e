/**
 * A worker whose glibc is older than containerd's dynamic build needs (issue 5, item 4): Debian bullseye
 * (glibc 2.31) and the mirror's containerd 2.1.9, a Debian sid build that needs GLIBC_2.34. The install step
 * runs the new binary before installing it, so the up fails there with the loader's own words, the worker and
 * the fix, and no containerd is installed.
 *
 * Then `staticBuild: true`: the mirror's static containerd 2.1.9 (built from Debian's own sources, no libc
 * at all) installs and runs there. The worker still does not converge: the mirror's runc (a sid build, needs
 * GLIBC_2.38) fails its step, and the unit step, which needs runc, never starts containerd; so containerd is
 * started here by hand, with the config the component wrote, and asked over CRI for the version verify reads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATHS } from "../../components/catalog";
import { manifestFile } from "../../components/hostDrift";
import { Lab, startLab, stepsRun } from "./lab";
import { DeploymentResult } from "./driver";

let lab: Lab;
let worker: string;
beforeAll(async () => {
  lab = await startLab({ workers: 1, boot: () => ({ suite: "bullseye" }), staticContainerd: true });
  worker = lab.workers[0]?.name ?? "";
});
afterAll(async () => {
  await lab?.stop();
});

/** The error of one step, as the user sees it. */
function stepError(result: DeploymentResult, step: string): string {
  const error = result.errors.find((e) => e.includes(`containerd-worker: worker ${worker}, step ${step}:`));
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
    const error = stepError(result, "containerd");
    expect(error).toContain(`${worker}-containerd`);
    expect(error).toContain(
      `containerd-worker: worker ${worker}, step containerd: containerd from containerd-2.1.9-linux-amd64.tar.gz does not run on this worker:`,
    );
    expect(error).toMatch(/version `GLIBC_2\.3\d' not found/);
    expect(error).toContain("set staticBuild to install its static release");
    // The mirror's runc is a sid build too (GLIBC_2.38): it fails the same way, without containerd's fix.
    const runc = stepError(result, "runc");
    expect(runc).toMatch(/version `GLIBC_2\.\d+' not found/);
    expect(runc).not.toContain("staticBuild");

    expect(await lab.onWorker(LEFTOVERS)).toBe("");
    expect(await lab.onWorker("test ! -e /usr/local/sbin/runc && echo absent")).toBe("absent\n");
    // Steps that need containerd never ran; the ones beside it, issued with it after ready, did.
    const ran = stepsRun(result, worker);
    expect(ran).toEqual(expect.arrayContaining(["ready:create", "containerd:create", "config:create"]));
    expect(ran.filter((step) => /^(unit|restart|verify):/.test(step))).toEqual([]);
    expect(await lab.onWorker(`test -s ${PATHS.containerdConfig} && echo written`)).toBe("written\n");
    expect(await lab.onWorker("systemctl is-active containerd || true")).toBe("inactive\n");
  });

  it("fails the same way on the next up, retrying only the failed installs, and still leaves nothing", async () => {
    const result = await lab.up();
    expect(result.ok).toBe(false);
    expect(stepError(result, "containerd")).toContain("set staticBuild to install its static release");
    expect(stepsRun(result, worker)).toEqual(["containerd:create", "runc:create"]);
    expect(await lab.onWorker(LEFTOVERS)).toBe("");
  });

  it("installs the static containerd with staticBuild; only runc still fails; the static containerd serves CRI", async () => {
    const result = await lab.up({ staticBuild: true });
    expect(result.ok).toBe(false);
    expect(result.errors.filter((e) => e.includes(`worker ${worker}, step containerd:`))).toEqual([]);
    const runc = stepError(result, "runc");
    expect(runc).toMatch(/version `GLIBC_2\.\d+' not found/);
    expect(stepsRun(result, worker)).toEqual(["containerd:create", "runc:create"]);

    // The static release, in place: no loader involved, and it runs on glibc 2.31.
    expect(await lab.onWorker(`ldd ${PATHS.containerdBinDir}/containerd 2>&1 || true`)).toMatch(
      /not a dynamic executable/,
    );
    expect(await lab.onWorker(`${PATHS.containerdBinDir}/containerd --version`)).toMatch(
      /^containerd github\.com\/containerd\/containerd\/v2 v2\.1\.9 /,
    );
    expect(await lab.onWorker(`cat ${manifestFile("containerd")}`)).toContain(`${PATHS.containerdBinDir}/ctr`);
    // What needs runc never ran: no unit, containerd not started by the component.
    expect(await lab.onWorker("systemctl is-active containerd || true")).toBe("inactive\n");

    // Started by hand with the component's config: it comes up and answers the CRI Version call verify makes.
    await lab.onWorker(
      [
        "systemd-run --quiet --unit=containerd-static --property=Delegate=yes --property=KillMode=process " +
          `${PATHS.containerdBinDir}/containerd --config ${PATHS.containerdConfig}`,
        "for _ in $(seq 150); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done",
      ].join("\n"),
    );
    try {
      expect(await lab.onWorker("systemctl is-active containerd-static")).toBe("active\n");
      const cri = await lab.onWorker("crictl version");
      expect(cri).toMatch(/^RuntimeName:\s+containerd$/m);
      expect(cri).toMatch(/^RuntimeVersion:\s+v2\.1\.9$/m);
    } finally {
      await lab.onWorker("systemctl stop containerd-static");
    }
  });
});
