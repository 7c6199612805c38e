/**
 * An HTTP(S) proxy for containerd as a root-only environment file named by a
 * systemd drop-in: in effect in the running containerd's environment; a change
 * restarts containerd and runs nothing else; removing it removes both.
 */
import { describe, expect, it } from "vitest";
import { expectOk, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 1, firstUp: true });

const DROP_IN = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
const ENV_FILE = "/etc/containerd/http-proxy.env";

/** The running containerd's own environment. */
async function environment(): Promise<string> {
  return lab.onWorker("tr '\\0' '\\n' </proc/$(systemctl show -p MainPID --value containerd)/environ");
}

async function mainPid(): Promise<string> {
  return lab.onWorker("systemctl show -p MainPID --value containerd");
}

describe("5.2 an HTTP(S) proxy for containerd", () => {
  it("is put in a drop-in and is in the running containerd's environment", async () => {
    const before = await mainPid();
    const result = expectOk(
      await lab.up({ httpsProxy: "http://10.200.0.1:3128", noProxy: JSON.stringify(["localhost", "10.0.0.0/8"]) }),
    );
    expect(stepsRun(result, lab.worker)).toEqual(["proxy:create", "restart:update", "verify:create"]);
    expect(await mainPid()).not.toBe(before);
    expect(await environment()).toContain("HTTPS_PROXY=http://10.200.0.1:3128");
    expect(await environment()).toContain("NO_PROXY=localhost,10.0.0.0/8");
    expect(await lab.onWorker(`stat -c '%a %U' ${ENV_FILE} ${DROP_IN}`)).toBe("600 root\n600 root\n");
  });

  it("a changed NO_PROXY restarts containerd and runs nothing else", async () => {
    const result = expectOk(
      await lab.up({ httpsProxy: "http://10.200.0.1:3128", noProxy: JSON.stringify(["localhost", ".svc"]) }),
    );
    expect(stepsRun(result, lab.worker)).toEqual(["proxy:create", "restart:update", "verify:create"]);
    expect(await environment()).toContain("NO_PROXY=localhost,.svc");
  });

  it("without a proxy the drop-in is gone and so is the environment", async () => {
    const result = expectOk(await lab.up());
    expect(stepsRun(result, lab.worker)).toEqual(["proxy:create", "restart:update", "verify:create"]);
    expect(await lab.onWorker(`test -e ${DROP_IN} && echo present || echo gone`)).toBe("gone\n");
    expect(await lab.onWorker(`test -e ${ENV_FILE} && echo present || echo gone`)).toBe("gone\n");
    expect(await environment()).not.toContain("HTTPS_PROXY");
    expect(await lab.onWorker("systemctl is-active containerd")).toBe("active\n");
  });
});
