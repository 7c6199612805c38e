/**
 * Registry mirrors through hosts.toml: containerd pulls a name that resolves
 * nowhere through a mirror on the host's bridge address, over CRI as the
 * kubelet would; a change of the mirror's settings rewrites only hosts.toml and
 * takes effect on the next pull without a restart; hand edits show as drift;
 * removing the registries removes the files the component wrote, and only those.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeploymentResult } from "./driver";
import { expectOk, stepsRun } from "./lab";
import { useLab } from "./fixture";
import { buildImage, Registry, RegistryRequest, startRegistry } from "./mirror";
import { HOST_ADDRESS } from "./sandbox/worker";

// A reserved name (RFC 2606): the workers have no DNS server, so only a mirror can serve it.
const REGISTRY = "registry.example.test";
const IMAGE = buildImage("demo", "1", [{ path: "hello.txt", content: "served by the e2e registry\n" }]);
const CONFIG_DIGEST = (JSON.parse(IMAGE.manifest.toString()) as { config: { digest: string } }).config.digest;
const HOSTS_TOML = `/etc/containerd/certs.d/${REGISTRY}/hosts.toml`;

/** A real self-signed certificate, so that containerd has a CA it can load (the mirror itself is plain HTTP). */
function selfSignedPem(): string {
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  args.push("-keyout", "/dev/null", "-subj", "/CN=e2e mirror CA", "-days", "1");
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const lab = useLab({ workers: 1, firstUp: true });
let registry: Registry;
let changed: Record<string, unknown>;
beforeAll(async () => {
  changed = { headers: { "X-E2E-Mirror": ["second", "try"] }, caPem: selfSignedPem() };
  registry = await startRegistry({ host: HOST_ADDRESS, images: [IMAGE] });
});
afterAll(async () => {
  await registry?.stop();
});

/** The stack config value: one mirror (the e2e registry) for REGISTRY, with `settings` on it. */
function registries(settings: Record<string, unknown> = {}): { registries: string } {
  return { registries: JSON.stringify({ [REGISTRY]: { mirrors: [{ host: registry.url, ...settings }] } }) };
}

/** What a restart or a config change would alter. */
async function runtimeState(): Promise<string> {
  return lab.onWorker(
    "systemctl show -p MainPID -p NRestarts containerd && sha256sum /etc/containerd/config.toml && systemctl is-active containerd",
  );
}

/** Pulls through CRI on the worker, as the kubelet would. */
async function pull(reference: string): Promise<{ ok: boolean; output: string }> {
  const worker0 = lab.workers[0];
  if (!worker0) throw new Error("no worker");
  const result = await worker0.exec(`crictl pull ${reference}`);
  return { ok: result.code === 0, output: result.stdout + result.stderr };
}

/** The requests made for the demo repository since `since`. */
function demoRequests(since: number): RegistryRequest[] {
  return registry.requests.slice(since).filter((request) => request.path.startsWith("/v2/demo/"));
}

function driftWarnings(result: DeploymentResult): string[] {
  return result.warnings.filter((warning) => warning.includes("host drift"));
}

describe("5.1 registry mirrors through hosts.toml", () => {
  it("without a mirror the name resolves nowhere and the pull fails", async () => {
    const since = registry.requests.length;
    const result = await pull(`${REGISTRY}/demo:1`);
    expect(result.ok).toBe(false);
    expect(result.output).toContain("pulling image: rpc error");
    expect(registry.requests.length).toBe(since);
  });

  it("a mirror runs only the registries step (and verify) and containerd pulls through it, unrestarted", async () => {
    const before = await runtimeState();
    const result = expectOk(await lab.up(registries()));
    expect(stepsRun(result, lab.worker)).toEqual(["registries:create", "verify:create"]);
    expect(await runtimeState()).toBe(before);
    expect(await lab.onWorker(`cat ${HOSTS_TOML}`)).toBe(
      `[host."${registry.url}"]\ncapabilities = [ "pull", "resolve" ]\n`,
    );

    const since = registry.requests.length;
    const pulled = await pull(`${REGISTRY}/demo:1`);
    expect(pulled.output).toBe(`Image is up to date for ${CONFIG_DIGEST}\n`);
    const requests = demoRequests(since);
    // containerd names the registry the mirror stands in for; the manifest and both blobs came from here.
    expect(requests.every((request) => request.query.ns === REGISTRY)).toBe(true);
    const served = requests.filter((r) => r.method === "GET" && r.status === 200).map((r) => r.path);
    expect(served).toEqual(expect.arrayContaining([...IMAGE.blobs.keys()].map((digest) => `/v2/demo/blobs/${digest}`)));
    expect(requests.some((r) => r.path.startsWith("/v2/demo/manifests/") && r.status === 200)).toBe(true);
    expect(await lab.onWorker("ctr -n k8s.io images ls -q")).toContain(`${REGISTRY}/demo:1\n`);

    // By digest too: the manifest is fetched by the digest the registry computed.
    const byDigest = await pull(`${REGISTRY}/demo@${IMAGE.digest}`);
    expect(byDigest.output).toBe(`Image is up to date for ${CONFIG_DIGEST}\n`);
  });

  it("a header and a CA change only the registry files: no restart, config.toml untouched, the header arrives on the next pull", async () => {
    const before = await runtimeState();
    const result = expectOk(await lab.up(registries(changed)));
    expect(stepsRun(result, lab.worker)).toEqual(["registries:create", "verify:create"]);
    expect(await runtimeState()).toBe(before);
    const caFile = `/etc/containerd/certs.d/${REGISTRY}/ca-0.crt`;
    expect(await lab.onWorker(`cat ${caFile}`)).toBe(changed.caPem);
    expect(await lab.onWorker(`cat ${HOSTS_TOML}`)).toContain(`ca = "${caFile}"`);

    const since = registry.requests.length;
    expect((await pull(`${REGISTRY}/demo:1`)).ok).toBe(true);
    const requests = demoRequests(since);
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) expect(request.headers["x-e2e-mirror"]).toBe("second, try");
  });

  it("a hand-edited hosts.toml is drift of the registries step: named in preview, restored by up, no restart", async () => {
    const settings = changed;
    const rendered = await lab.onWorker(`cat ${HOSTS_TOML}`);
    await lab.onWorker(`echo '# edited by hand' >> ${HOSTS_TOML}`);
    const preview = expectOk(await lab.preview(registries(settings)));
    expect(driftWarnings(preview).join("\n")).toContain(`step registries: ${HOSTS_TOML} changed`);

    const before = await runtimeState();
    const result = expectOk(await lab.up(registries(settings)));
    expect(stepsRun(result, lab.worker)).toEqual(["registries:create", "verify:create"]);
    expect(await lab.onWorker(`cat ${HOSTS_TOML}`)).toBe(rendered);
    expect(await runtimeState()).toBe(before);
    expect(driftWarnings(expectOk(await lab.preview(registries(settings))))).toEqual([]);
  });

  it("removing the registries removes the files the component wrote, and leaves others alone", async () => {
    await lab.onWorker(
      "mkdir -p /etc/containerd/certs.d/other.test && : >/etc/containerd/certs.d/other.test/hosts.toml",
    );
    const before = await runtimeState();
    const result = expectOk(await lab.up());
    expect(stepsRun(result, lab.worker)).toEqual(["registries:create", "verify:create"]);
    expect(await runtimeState()).toBe(before);
    expect(await lab.onWorker(`test -e /etc/containerd/certs.d/${REGISTRY} && echo present || echo gone`)).toBe(
      "gone\n",
    );
    expect(await lab.onWorker("ls /etc/containerd/certs.d")).toBe("other.test\n");

    const since = registry.requests.length;
    expect((await pull(`${REGISTRY}/demo:1`)).ok).toBe(false);
    expect(registry.requests.length).toBe(since);
  });
});
