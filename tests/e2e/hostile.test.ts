/**
 * Hostile input on a sandbox worker (issue 10): the reproductions of a here-document breakout and of
 * a command substitution in a URL create nothing, and a secret proxy and registry header live on
 * the worker only in root-only files and in the stack only as secrets.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { isSecretWire } from "./driver/engine";
import { expectOk } from "./lab";
import { useLab } from "./fixture";
import { HOST_ADDRESS } from "./sandbox/worker";

const MARKER = "/tmp/containerd-worker-pwned";
const CANARY = { proxy: "canary-proxy-31d8", header: "canary-header-a40c" };

const lab = useLab({ workers: 1, firstUp: true });

async function markerExists(): Promise<boolean> {
  return (await lab.onWorker(`test -e ${MARKER} && echo yes || echo no`)) === "yes\n";
}

/** Every string of the stack's state outside a secret, object keys included. */
function plainStateStrings(value: unknown): string[] {
  if (isSecretWire(value)) return [];
  if (typeof value === "string") return [value];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => [key, ...plainStateStrings(item)]);
}

describe("hostile values on a worker", () => {
  it("a here-document breakout in an extraConfig key is refused at preview, before any SSH", async () => {
    const key = `x\nCONTAINERD_WORKER_ROOT_SCRIPT)\ntouch ${MARKER} #`;
    const result = await lab.preview({
      containerdSettings: JSON.stringify({ extraConfig: { timeouts: { [key]: "1s" } } }),
    });
    expect(result.ok).toBe(false);
    // The program reads the key as configuration, before any worker's component exists.
    expect(result.error).toContain("configuration: invalid containerdSettings.extraConfig.timeouts key");
    expect(result.error).toContain("control character (U+000A)");
    expect(result.operations.filter((op) => op.command !== undefined && !op.planned)).toEqual([]);
    expect(await markerExists()).toBe(false);
  });

  it("a newline in downloadBaseUrl is refused, naming it", async () => {
    const result = await lab.preview({ downloadBaseUrl: `${lab.mirror.baseUrl}\ntouch ${MARKER}` });
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/invalid downloadBaseUrl: holds a control character \(U\+000A\)/);
  });

  it("a command substitution in downloadBaseUrl stays text: the download fails on a 404 and nothing runs", async () => {
    const result = await lab.up({ downloadBaseUrl: `${lab.mirror.baseUrl}/x$(touch$IFS${MARKER})` });
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(
      new RegExp(
        `worker ${lab.worker}, step (runc|containerd|cni-plugins|crictl): download of http://${HOST_ADDRESS}:\\d+/…/`,
      ),
    );
    expect(result.error).toMatch(/failed: .*404/);
    expect(await markerExists()).toBe(false);
    // Back to the mirror: the worker converges.
    expectOk(await lab.up());
  });
});

describe("secrets on a worker", () => {
  it("a secret proxy with credentials: root-only on the worker, in containerd's environment, secret in the stack", async () => {
    const proxy = `http://user:${CANARY.proxy}@${HOST_ADDRESS}:3128`;
    const result = expectOk(await lab.up({ httpsProxy: { secret: proxy } }));
    expect(await lab.onWorker("stat -c '%a %U' /etc/containerd/http-proxy.env")).toBe("600 root\n");
    expect(await lab.onWorker("stat -c '%a %U' /etc/systemd/system/containerd.service.d/http-proxy.conf")).toBe(
      "600 root\n",
    );
    // What every local user can ask systemd for holds no credentials.
    const shown = await lab.onWorker(
      "runuser -u nobody -- systemctl show containerd -p Environment -p EnvironmentFiles",
    );
    expect(shown).not.toContain(CANARY.proxy);
    expect(shown).toContain("/etc/containerd/http-proxy.env");
    expect(
      await lab.onWorker("tr '\\0' '\\n' </proc/$(systemctl show -p MainPID --value containerd)/environ"),
    ).toContain(`HTTPS_PROXY=${proxy}\n`);
    const state: unknown = JSON.parse(fs.readFileSync(lab.stateFile, "utf8"));
    expect(plainStateStrings(state).filter((text) => text.includes(CANARY.proxy))).toEqual([]);
    expect(JSON.stringify(result.operations) + result.log).not.toContain(CANARY.proxy);
  });

  it("a secret registry header: hosts.toml is root-only and the header reaches it", async () => {
    const registries = {
      "registry.internal:5000": {
        mirrors: [{ host: `http://${HOST_ADDRESS}:5000`, headers: { Authorization: `Bearer ${CANARY.header}` } }],
      },
    };
    const result = expectOk(await lab.up({ registries: { secret: JSON.stringify(registries) } }));
    const file = "/etc/containerd/certs.d/registry.internal:5000/hosts.toml";
    expect(await lab.onWorker(`stat -c '%a %U' '${file}'`)).toBe("600 root\n");
    expect(await lab.onWorker(`cat '${file}'`)).toContain(CANARY.header);
    const state: unknown = JSON.parse(fs.readFileSync(lab.stateFile, "utf8"));
    expect(plainStateStrings(state).filter((text) => text.includes(CANARY.header))).toEqual([]);
    expect(JSON.stringify(result.operations) + result.log).not.toContain(CANARY.header);
  });
});
