import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type Catalog, CRICTL_VERSION, ensureReleases, findArtifact, releasePaths, type Releases } from "./releases";
import { bootWorker, ensureBridge, HOST_ADDRESS, type Worker } from "../sandbox/worker";
import { type Mirror, startMirror } from "./server";
import { buildImage, MANIFEST_MEDIA_TYPE, startRegistry } from "./registry";

const run = promisify(execFile);

// Debian's python3 (with python3-h2), not whatever python3 comes first on PATH.
const PYTHON = "/usr/bin/python3";

let releases: Releases;
let scratch: string;

beforeAll(async () => {
  releases = await ensureReleases({ log: (m) => console.log(`[mirror] ${m}`), withStaticBuilds: true });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mirror-test-"));
});

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const sha256File = (file: string): string => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;

/** The program header types of a little-endian ELF64 executable (read here: the host may have no readelf). */
function elfSegmentTypes(elf: Buffer): number[] {
  expect(elf.subarray(0, 6).toString("latin1")).toBe("\x7fELF\x02\x01");
  expect(elf.readUInt16LE(0x10)).toBe(2); // ET_EXEC, not a position-independent (ET_DYN) one
  const offset = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  return Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) => elf.readUInt32LE(offset + i * size));
}

/** Runs a command; resolves with its exit code and output instead of throwing. */
async function exec(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: string | Buffer; env?: Record<string, string> } = {},
) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const env = opts.env === undefined ? undefined : { ...process.env, ...opts.env };
    const child = execFile(cmd, args, { cwd: opts.cwd, env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

describe("release tree", () => {
  it("has every artifact and checksum file of the catalog", () => {
    expect(releases.catalog.crictl).toEqual([CRICTL_VERSION]);
    for (const key of ["containerd", "containerdStatic", "runc", "cni"] as const) {
      expect(releases.catalog[key].length).toBeGreaterThan(0);
    }
    expect(releases.catalog.containerd.length).toBeGreaterThanOrEqual(2);
    for (const [key, versions] of Object.entries(releases.catalog) as [keyof Catalog, string[]][]) {
      const staticBuild = key === "containerdStatic";
      const component = staticBuild ? "containerd" : key;
      for (const version of versions) {
        const a = findArtifact(releases, component, version, "amd64", { staticBuild });
        const p = releasePaths(component, version, "amd64", { staticBuild });
        expect(a.file).toBe(path.join(releases.root, p.artifact));
        expect(fs.statSync(a.file).size).toBe(a.size);
        expect(a.size).toBeGreaterThan(0);
        expect(fs.statSync(path.join(releases.root, p.checksum)).size).toBeGreaterThan(0);
      }
    }
    // Debian versions are reported, and the upstream versions derive from them.
    for (const pkg of releases.packages) expect(pkg.debianVersion.startsWith(pkg.version)).toBe(true);
  });

  it("packs the upstream tarball layouts", async () => {
    for (const version of releases.catalog.containerd) {
      const { stdout } = await run("tar", ["-tzf", findArtifact(releases, "containerd", version).file]);
      const entries = stdout.trim().split("\n");
      expect(entries).toEqual(expect.arrayContaining(["bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr"]));
      expect(entries.every((e) => e.startsWith("bin/"))).toBe(true);
    }
    for (const version of releases.catalog.cni) {
      const { stdout } = await run("tar", ["-tzf", findArtifact(releases, "cni", version).file]);
      expect(stdout.trim().split("\n")).toEqual(
        expect.arrayContaining(["./bridge", "./loopback", "./host-local", "./portmap"]),
      );
    }
    const crictl = findArtifact(releases, "crictl", CRICTL_VERSION);
    const { stdout } = await run("tar", ["-tvzf", crictl.file]);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^-rwxr-xr-x .* crictl$/);
    for (const version of releases.catalog.runc) {
      const head = fs.readFileSync(findArtifact(releases, "runc", version).file).subarray(0, 4);
      expect(head.toString("latin1")).toBe("\x7fELF");
    }
  });

  it("has containerd's static release, built from Debian's sources: statically linked, its version inside", async () => {
    // The same version as the newest dynamic build: both are Debian sid's containerd.
    const version = releases.catalog.containerdStatic[0] ?? "";
    expect(version).toBe(releases.catalog.containerd[0]);
    const a = findArtifact(releases, "containerd", version, "amd64", { staticBuild: true });
    expect(path.basename(a.file)).toBe(`containerd-static-${version}-linux-amd64.tar.gz`);
    expect(a.source).toMatch(
      /^static build of debian golang-github-containerd-containerd-dev \S+ \(sid\) with go version go/,
    );
    const { stdout } = await run("tar", ["-tvzf", a.file]);
    const lines = stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/).at(-1))).toEqual([
      "bin/containerd",
      "bin/containerd-shim-runc-v2",
      "bin/ctr",
    ]);
    for (const line of lines) expect(line).toMatch(/^-rwxr-xr-x 0\/0 /);

    const dir = path.join(scratch, "static");
    fs.mkdirSync(dir);
    await run("tar", ["-xzf", a.file, "-C", dir]);
    for (const binary of ["containerd", "containerd-shim-runc-v2", "ctr"]) {
      // An executable with no program interpreter and no dynamic section: nothing for a loader to resolve.
      const segments = elfSegmentTypes(fs.readFileSync(path.join(dir, "bin", binary)));
      expect(segments).toContain(PT_LOAD);
      expect(segments).not.toContain(PT_INTERP);
      expect(segments).not.toContain(PT_DYNAMIC);
    }
    // What the component's self-check reads: upstream's form, "containerd <package> v<version> <revision>".
    const { stdout: versionLine } = await run(path.join(dir, "bin", "containerd"), ["--version"]);
    expect(versionLine).toMatch(
      new RegExp(
        `^containerd github\\.com/containerd/containerd/v2 v${version.replace(/\./g, "\\.")} debian-${version}`,
      ),
    );
  });

  it("serves a static runc for this machine, as upstream's runc releases are, built from Debian's sources", async () => {
    const version = releases.catalog.runc[0] ?? "";
    const a = findArtifact(releases, "runc", version, "amd64");
    expect(a.source).toMatch(
      /^static build of debian golang-github-opencontainers-runc-dev \S+ \(sid\) with go version go/,
    );
    const segments = elfSegmentTypes(fs.readFileSync(a.file));
    expect(segments).not.toContain(PT_INTERP);
    expect(segments).not.toContain(PT_DYNAMIC);
    // What the component's self-check reads, and the seccomp support a kubelet expects of runc.
    const { stdout } = await run(a.file, ["--version"]);
    expect(stdout).toMatch(new RegExp(`^runc version ${version.replace(/\./g, "\\.")}\n`));
    expect(stdout).toMatch(/^libseccomp: \d+\.\d+\.\d+$/m);
    // The other arch stays Debian's build: it only gives runc.sha256sum its second line.
    expect(findArtifact(releases, "runc", version, "arm64").source).toMatch(/^debian runc /);
  });

  it("serves static CNI plugins, as upstream's are, built from Debian's source package", async () => {
    const version = releases.catalog.cni[0] ?? "";
    const a = findArtifact(releases, "cni", version, "amd64");
    expect(a.source).toMatch(/^static build of debian golang-github-containernetworking-plugins \S+ \(sid\) with go/);
    const dir = path.join(scratch, "static-cni");
    fs.mkdirSync(dir);
    await run("tar", ["-xzf", a.file, "-C", dir]);
    // Upstream's Linux release set, every one of them static.
    const plugins = fs.readdirSync(dir).sort();
    expect(plugins).toEqual(
      expect.arrayContaining(["bandwidth", "bridge", "dhcp", "firewall", "host-device", "host-local", "ipvlan"]),
    );
    expect(plugins).toEqual(
      expect.arrayContaining(["loopback", "macvlan", "portmap", "ptp", "static", "tuning", "vlan"]),
    );
    for (const plugin of plugins) {
      const segments = elfSegmentTypes(fs.readFileSync(path.join(dir, plugin)));
      expect(segments, plugin).not.toContain(PT_INTERP);
    }
    // The version stamped where upstream's build stamps it, and the VERSION answer the component's self-check reads.
    const about = await exec(path.join(dir, "loopback"), []);
    expect(about.stdout + about.stderr).toContain(`CNI loopback plugin v${version}`);
    const answer = await exec(path.join(dir, "loopback"), [], { env: { CNI_COMMAND: "VERSION" } });
    expect(JSON.parse(answer.stdout)).toHaveProperty("supportedVersions");
  });

  it("has checksum files in the upstream formats that verify their artifacts", async () => {
    for (const a of releases.artifacts) {
      const dir = path.dirname(a.file);
      const name = path.basename(a.file);
      const text = fs.readFileSync(a.checksumFile, "utf8");
      if (a.component === "crictl") {
        // Bare hex: sha256sum -c cannot read it; compare the value.
        expect(text).toMatch(/^[0-9a-f]{64}\n$/);
        expect(text.trim()).toBe(sha256File(a.file));
        expect((await exec("sha256sum", ["-c", a.checksumFile], { cwd: dir })).code).not.toBe(0);
      } else if (a.component === "runc") {
        // One file for every arch: pick the line for this file.
        expect(text).toMatch(/^([0-9a-f]{64} {2}runc\.[a-z0-9]+\n)+$/);
        expect(text.trim().split("\n").length).toBeGreaterThan(1);
        const line = text.split("\n").find((l) => l.endsWith(`  ${name}`));
        expect(line).toBeDefined();
        const checked = await exec("sha256sum", ["-c", "-"], { cwd: dir, input: `${line}\n` });
        expect(checked.stdout).toBe(`${name}: OK\n`);
        expect(checked.code).toBe(0);
      } else {
        expect(text).toBe(`${a.sha256}  ${name}\n`);
        const checked = await exec("sha256sum", ["-c", path.basename(a.checksumFile)], { cwd: dir });
        expect(checked.stdout).toBe(`${name}: OK\n`);
        expect(checked.code).toBe(0);
      }
      expect(sha256File(a.file)).toBe(a.sha256);
    }
  });

  it("leaves the static builds out unless asked, so the demo and most tests never wait for them", async () => {
    const plain = await ensureReleases();
    expect(plain.catalog.containerdStatic).toEqual([]);
    expect(plain.catalog.containerd).toEqual(releases.catalog.containerd);
    expect(findArtifact(plain, "runc", plain.catalog.runc[0] ?? "").source).toMatch(/^debian runc /);
    expect(findArtifact(plain, "cni", plain.catalog.cni[0] ?? "").source).toMatch(
      /^debian containernetworking-plugins /,
    );
    expect(plain.root).not.toBe(releases.root);
  });

  it("is warm on the second call", async () => {
    const started = Date.now();
    const again = await ensureReleases({ withStaticBuilds: true });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(again.root).toBe(releases.root);
    expect(again.catalog).toEqual(releases.catalog);
  });
});

describe("OCI registry (registry.ts) on loopback", () => {
  it("serves a built image whose layer system tar reads and whose digests are the content's", async () => {
    const image = buildImage("team/demo", "1", [{ path: "hello.txt", content: "hi\n" }]);
    const registry = await startRegistry({ host: "127.0.0.1", images: [image] });
    try {
      const get = (p: string, method = "GET") => fetch(`${registry.url}${p}`, { method });
      expect((await get("/v2/")).status).toBe(200);
      for (const reference of ["1", image.digest]) {
        const response = await get(`/v2/team/demo/manifests/${reference}`);
        expect(response.headers.get("content-type")).toBe(MANIFEST_MEDIA_TYPE);
        expect(response.headers.get("docker-content-digest")).toBe(image.digest);
        expect(Buffer.from(await response.arrayBuffer())).toEqual(image.manifest);
      }
      const head = await get("/v2/team/demo/manifests/1", "HEAD");
      expect(head.headers.get("content-length")).toBe(String(image.manifest.length));
      expect((await head.arrayBuffer()).byteLength).toBe(0);
      const manifest = JSON.parse(image.manifest.toString()) as { layers: { digest: string }[] };
      const layerDigest = manifest.layers[0]?.digest ?? "";
      const layer = Buffer.from(await (await get(`/v2/team/demo/blobs/${layerDigest}`)).arrayBuffer());
      expect(`sha256:${crypto.createHash("sha256").update(layer).digest("hex")}`).toBe(layerDigest);
      const listing = await exec("tar", ["-tzvf", "-"], { input: layer });
      expect(listing.code).toBe(0);
      expect(listing.stdout).toMatch(/^-rw-r--r-- 0\/0\s+3 .* hello\.txt$/m);
      expect((await get("/v2/team/demo/manifests/2")).status).toBe(404);
      expect((await get("/v2/other/blobs/" + layerDigest)).status).toBe(404);
      expect(registry.requests.map((r) => `${r.method} ${r.status}`)).toContain("HEAD 200");
    } finally {
      await registry.stop();
    }
  });
});

describe("mirror server", () => {
  let mirror: Mirror;

  beforeAll(async () => {
    mirror = await startMirror({ host: "127.0.0.1", releases });
  });
  afterAll(async () => {
    await mirror?.stop();
  });

  const curl = (urlPath: string, out: string, extra: string[] = []) =>
    exec("curl", ["-fsSL", "--max-time", "60", ...extra, "-o", out, `${mirror.baseUrl}${urlPath}`]);

  it("serves every artifact and checksum byte for byte", async () => {
    expect(mirror.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const a of releases.artifacts) {
      for (const [urlPath, file] of [
        [a.urlPath, a.file],
        [a.checksumUrlPath, a.checksumFile],
      ] as const) {
        const out = path.join(scratch, "download");
        const r = await curl(urlPath, out);
        expect(r.code, r.stderr).toBe(0);
        expect(sha256File(out)).toBe(sha256File(file));
      }
    }
    const last = mirror.requests.at(-1);
    expect(last).toMatchObject({ method: "GET", status: 200, complete: true });
  });

  it("answers 404 for paths outside the tree and serves the catalog", async () => {
    const missing = await curl("/containerd/containerd/releases/download/v9.9.9/nope.tar.gz", "/dev/null");
    expect(missing.code).toBe(22);
    expect((await curl("/../../etc/passwd", "/dev/null")).code).toBe(22);
    const catalog = path.join(scratch, "catalog.json");
    expect((await curl("/catalog.json", catalog)).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(catalog, "utf8"))).toEqual(releases.catalog);
  });

  it("sends Content-Length and answers HEAD", async () => {
    const a = findArtifact(releases, "runc", releases.catalog.runc[0] ?? "");
    const r = await exec("curl", ["-fsSI", `${mirror.baseUrl}${a.urlPath}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`content-length: ${a.size}\\r?\\n`, "i"));
  });

  it("injects 404, truncate and corrupt faults, and clears them", async () => {
    const a = findArtifact(releases, "cni", releases.catalog.cni[0] ?? "");
    const name = path.basename(a.file);
    const out = path.join(scratch, name);
    const verify = () =>
      exec("sha256sum", ["-c", "-"], { cwd: scratch, input: fs.readFileSync(a.checksumFile, "utf8") });

    mirror.setFault(name, "404");
    const notFound = await curl(a.urlPath, out);
    expect(notFound.code).toBe(22);
    expect(notFound.stderr).toMatch(/404/);
    expect(mirror.requests.at(-1)).toMatchObject({ status: 404, fault: "404" });

    mirror.setFault(name, "truncate");
    const truncated = await curl(a.urlPath, out);
    expect(truncated.code).toBe(18); // CURLE_PARTIAL_FILE
    expect(truncated.stderr).toMatch(/transfer closed with \d+ bytes remaining/);
    expect(mirror.requests.at(-1)).toMatchObject({ status: 200, fault: "truncate", complete: false });

    mirror.setFault(name, "corrupt");
    const corrupt = await curl(a.urlPath, out);
    expect(corrupt.code).toBe(0);
    expect(fs.statSync(out).size).toBe(a.size);
    const mismatch = await verify();
    expect(mismatch.code).toBe(1);
    expect(mismatch.stdout).toBe(`${name}: FAILED\n`);

    // Faults on one path leave the others alone.
    const other = findArtifact(releases, "crictl", CRICTL_VERSION);
    expect((await curl(other.urlPath, path.join(scratch, "crictl.tgz"))).code).toBe(0);

    mirror.setFault(name, "clear");
    expect((await curl(a.urlPath, out)).code).toBe(0);
    expect((await verify()).code).toBe(0);
  });

  it("limits a fault to the next N requests, which curl --retry rides over", async () => {
    const a = findArtifact(releases, "crictl", CRICTL_VERSION);
    const before = mirror.requests.length;
    mirror.setFault(/crictl-v[^/]*\.tar\.gz$/, "500", { times: 2 });
    const out = path.join(scratch, "crictl-retry.tgz");
    const r = await curl(a.urlPath, out, ["--retry", "3", "--retry-delay", "1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256File(out)).toBe(a.sha256);
    expect(mirror.requests.slice(before).map((q) => q.status)).toEqual([500, 500, 200]);
  });

  it("stalls a transfer until the client gives up", async () => {
    const a = findArtifact(releases, "runc", releases.catalog.runc[0] ?? "");
    mirror.setFault("runc.amd64", "stall", { times: 1 });
    const started = Date.now();
    const r = await exec("curl", ["-fsSL", "--max-time", "2", "-o", "/dev/null", `${mirror.baseUrl}${a.urlPath}`]);
    expect(r.code).toBe(28); // CURLE_OPERATION_TIMEDOUT
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(mirror.requests.at(-1)).toMatchObject({ status: 200, fault: "stall", bytes: 1024, complete: false });
  });

  it("throttles each response to bytesPerSecond", async () => {
    const a = findArtifact(releases, "runc", releases.catalog.runc[0] ?? "");
    const rate = 8 * 1024 * 1024;
    const slow = await startMirror({ host: "127.0.0.1", releases, bytesPerSecond: rate });
    try {
      const started = Date.now();
      const r = await exec("curl", [
        "-fsSL",
        "-o",
        "/dev/null",
        "-w",
        "%{speed_download}",
        `${slow.baseUrl}${a.urlPath}`,
      ]);
      const seconds = (Date.now() - started) / 1000;
      expect(r.code).toBe(0);
      const expected = a.size / rate;
      expect(seconds).toBeGreaterThan(expected * 0.85);
      expect(seconds).toBeLessThan(expected * 1.5 + 0.5);
      expect(Number(r.stdout)).toBeLessThan(rate * 1.15);

      // Unthrottled, the same file comes much faster.
      const t0 = Date.now();
      expect((await curl(a.urlPath, "/dev/null")).code).toBe(0);
      expect((Date.now() - t0) / 1000).toBeLessThan(expected / 3);
    } finally {
      await slow.stop();
    }
  });
});

describe("e2e CRI client (crictl.py) against a scripted runtime on the host", () => {
  let server: ChildProcess | undefined;
  let sock: string;
  let requestLog: string;
  let crictl: string;

  const spec = {
    Version: {
      version: "0.1.0",
      runtime_name: "containerd",
      runtime_version: "v9.8.7-test",
      runtime_api_version: "v1",
    },
    Status: {
      conditions: [
        { type: "RuntimeReady", status: true },
        { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady", message: "cni plugin not initialized" },
      ],
      info: {
        config: JSON.stringify({
          containerd: { runtimes: { runc: { options: { SystemdCgroup: true } } } },
          html: "<&>",
          n: 100,
        }),
        lastCNILoadStatus: JSON.stringify("cni config load failed: no network config found in /etc/cni/net.d"),
      },
      handlers: [{ features: { recursive_read_only_mounts: true, user_namespaces: true } }, { name: "runc" }],
      features: { supplemental_groups_policy: true },
    },
  };

  beforeAll(async () => {
    // The client as the mirror ships it: unpacked from the crictl tarball.
    const dir = path.join(scratch, "crictl-bin");
    fs.mkdirSync(dir, { recursive: true });
    await run("tar", ["-xzf", findArtifact(releases, "crictl", CRICTL_VERSION).file, "-C", dir]);
    crictl = path.join(dir, "crictl");
    sock = path.join(scratch, "cri.sock");
    requestLog = path.join(scratch, "cri-requests.jsonl");
    const specFile = path.join(scratch, "spec.json");
    fs.writeFileSync(specFile, JSON.stringify(spec));
    server = spawn(PYTHON, [path.join(__dirname, "fake_cri_server.py"), sock, specFile, requestLog], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(sock)).toBe(true);
  });

  afterAll(() => {
    if (server?.pid) process.kill(server.pid, "SIGTERM");
  });

  const crictlRun = (...args: string[]) => exec(PYTHON, [crictl, ...args]);

  it("reports what it is in --version", async () => {
    const r = await crictlRun("--version");
    expect(r).toMatchObject({ code: 0, stdout: `crictl version v${CRICTL_VERSION} (e2e CRI client)\n` });
  });

  it("prints `crictl version` from the Version call", async () => {
    const r = await crictlRun("--runtime-endpoint", `unix://${sock}`, "version");
    expect(r.code).toBe(0);
    // No /etc/crictl.yaml here: crictl warns, then uses the flag.
    expect(r.stderr).toMatch(
      /^time="[^"]+" level=warning msg="Config \\"\/etc\/crictl.yaml\\" does not exist, trying next: .*\n$/,
    );
    expect(r.stdout).toBe(
      "Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  v9.8.7-test\nRuntimeApiVersion:  v1\n",
    );
    const calls = fs
      .readFileSync(requestLog, "utf8")
      .trim()
      .split("\n")
      .slice(-2)
      .map((l) => JSON.parse(l) as unknown);
    // cri-client validates with an empty Version request, then crictl asks with version "v1".
    expect(calls).toEqual([
      { path: "/runtime.v1.RuntimeService/Version", request: "" },
      { path: "/runtime.v1.RuntimeService/Version", request: Buffer.from("\x0a\x02v1").toString("hex") },
    ]);
  });

  it("prints `crictl info` as crictl does: sorted keys, info values parsed, Go's HTML escaping", async () => {
    const r = await crictlRun("-r", `unix://${sock}`, "info");
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(info).toEqual({
      config: { containerd: { runtimes: { runc: { options: { SystemdCgroup: true } } } }, html: "<&>", n: 100 },
      features: { supplemental_groups_policy: true },
      lastCNILoadStatus: "cni config load failed: no network config found in /etc/cni/net.d",
      runtimeHandlers: [
        { features: { recursive_read_only_mounts: true, user_namespaces: true } },
        { features: {}, name: "runc" },
      ],
      status: {
        conditions: [
          { message: "", reason: "", status: true, type: "RuntimeReady" },
          {
            message: "cni plugin not initialized",
            reason: "NetworkPluginNotReady",
            status: false,
            type: "NetworkReady",
          },
        ],
      },
    });
    expect(r.stdout).toContain('"html": "\\u003c\\u0026\\u003e"');
    expect(r.stdout.startsWith('{\n  "config": {\n    "containerd": {')).toBe(true);
    const last = JSON.parse(fs.readFileSync(requestLog, "utf8").trim().split("\n").at(-1) ?? "{}") as unknown;
    expect(last).toEqual({ path: "/runtime.v1.RuntimeService/Status", request: "0801" }); // verbose: true
  });

  it("reads runtime-endpoint from the config file", async () => {
    const config = path.join(scratch, "crictl.yaml");
    fs.writeFileSync(config, `runtime-endpoint: unix://${sock}\ntimeout: 5\n`);
    const r = await crictlRun("--config", config, "version");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("RuntimeVersion:  v9.8.7-test\n");
  });

  it("fails like crictl when the socket is absent", async () => {
    const absent = path.join(scratch, "absent.sock");
    const r = await crictlRun("-r", `unix://${absent}`, "version");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint \\"unix://${absent}\\": ` +
        `rpc error: code = Unavailable desc = connection error: desc = \\"transport: Error while dialing: dial unix ${absent}: connect: no such file or directory\\""`,
    );
  });
});

describe("e2e CRI client against a failing runtime", () => {
  it("exits non-zero with the gRPC status when a call fails", async () => {
    const dir = fs.mkdtempSync(path.join(scratch, "failing-"));
    const sock = path.join(dir, "cri.sock");
    const specFile = path.join(dir, "spec.json");
    fs.writeFileSync(
      specFile,
      JSON.stringify({
        Version: { version: "0.1.0", runtime_name: "containerd", runtime_version: "v1", runtime_api_version: "v1" },
        Status: { grpc_status: 13, grpc_message: "status failed: 100% broken" },
      }),
    );
    const server = spawn(PYTHON, [path.join(__dirname, "fake_cri_server.py"), sock, specFile, path.join(dir, "log")], {
      stdio: "ignore",
    });
    try {
      for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const r = await exec(PYTHON, [path.join(__dirname, "crictl.py"), "-r", `unix://${sock}`, "info"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(
        'level=fatal msg="getting status of runtime: rpc error: code = Internal desc = status failed: 100% broken"',
      );
    } finally {
      if (server.pid) process.kill(server.pid, "SIGTERM");
    }
  });
});

// The client against the real thing: containerd from the mirror, inside a sandbox
// worker (Debian trixie; sid's binaries need a newer glibc than this bookworm host).
describe("e2e CRI client against real containerd in a sandbox worker", () => {
  let mirror: Mirror;

  beforeAll(async () => {
    // Workers reach the host on the harness's bridge: bring it up to bind its address.
    await ensureBridge();
    mirror = await startMirror({ host: HOST_ADDRESS, releases });
  });
  afterAll(async () => {
    await mirror?.stop();
  });

  /** Installs containerd, runc and crictl from the mirror with the worker's own curl, verifying checksums. */
  function installScript(containerdVersion: string): string {
    const c = findArtifact(releases, "containerd", containerdVersion);
    const r = findArtifact(releases, "runc", releases.catalog.runc[0] ?? "");
    const k = findArtifact(releases, "crictl", CRICTL_VERSION);
    const base = mirror.baseUrl;
    const name = (p: string): string => path.basename(p);
    // containerd 1.x reads config version 2, 2.0-2.2 version 3 (see facts.md).
    const config = containerdVersion.startsWith("1.")
      ? `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n` +
        `  SystemdCgroup = true\n  BinaryName = "/usr/local/sbin/runc"\n`
      : `version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n` +
        `  SystemdCgroup = true\n  BinaryName = '/usr/local/sbin/runc'\n`;
    return [
      "set -euo pipefail",
      'work=$(mktemp -d) && cd "$work"',
      `curl -fsSLO ${base}${c.urlPath} -O ${base}${c.checksumUrlPath}`,
      `sha256sum -c ${name(c.checksumUrlPath)}`,
      `tar -C /usr/local -xzf ${name(c.urlPath)}`,
      `curl -fsSLO ${base}${r.urlPath} -O ${base}${r.checksumUrlPath}`,
      `grep '  ${name(r.urlPath)}$' runc.sha256sum | sha256sum -c`,
      `install -m 0755 ${name(r.urlPath)} /usr/local/sbin/runc`,
      `curl -fsSLO ${base}${k.urlPath} -O ${base}${k.checksumUrlPath}`,
      `echo "$(cat ${name(k.checksumUrlPath)})  ${name(k.urlPath)}" | sha256sum -c`,
      `tar -C /usr/local/bin -xzf ${name(k.urlPath)}`,
      "mkdir -p /etc/containerd",
      `cat > /etc/containerd/config.toml <<'EOF'\n${config}EOF`,
      "echo 'runtime-endpoint: unix:///run/containerd/containerd.sock' > /etc/crictl.yaml",
      "systemd-run --quiet --unit=containerd-e2e --property=Delegate=yes --property=KillMode=process /usr/local/bin/containerd",
      "for _ in $(seq 150); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done",
      "[ -S /run/containerd/containerd.sock ] || { journalctl -u containerd-e2e --no-pager | tail -n 30; exit 1; }",
    ].join("\n");
  }

  for (const which of ["newest", "oldest"] as const) {
    it(`prints containerd's own version and info (${which} containerd in the mirror)`, async () => {
      const versions = releases.catalog.containerd;
      const version = (which === "newest" ? versions[0] : versions.at(-1)) ?? "";
      let worker: Worker | undefined;
      try {
        worker = await bootWorker();
        const install = await worker.ssh("sudo -n bash -s", { input: installScript(version) });
        expect(install.code, install.stderr + install.stdout).toBe(0);

        // What the binary itself says: "containerd <package> <version> <revision>".
        const binary = await worker.ssh("/usr/local/bin/containerd --version");
        const binaryVersion = binary.stdout.trim().split(/\s+/)[2] ?? "";
        expect(binaryVersion.startsWith(version)).toBe(true);

        const v = await worker.ssh("sudo -n crictl version");
        expect(v.code, v.stderr).toBe(0);
        expect(v.stdout).toBe(
          `Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  ${binaryVersion}\nRuntimeApiVersion:  v1\n`,
        );

        const i = await worker.ssh("sudo -n crictl info");
        expect(i.code, i.stderr).toBe(0);
        const info = JSON.parse(i.stdout) as {
          lastCNILoadStatus?: string;
          config?: { containerd?: { runtimes?: { runc?: { options?: Record<string, unknown> } } } };
          status?: { conditions?: { type: string; status: boolean }[] };
        };
        expect(info.lastCNILoadStatus).toMatch(/no network config found in \/etc\/cni\/net\.d/);
        expect(info.config?.containerd?.runtimes?.runc?.options).toMatchObject({
          SystemdCgroup: true,
          BinaryName: "/usr/local/sbin/runc",
        });
        expect(info.status?.conditions).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ type: "RuntimeReady", status: true }),
            expect.objectContaining({ type: "NetworkReady", status: false }),
          ]),
        );
        expect((await worker.ssh("crictl --version")).stdout).toBe(
          `crictl version v${CRICTL_VERSION} (e2e CRI client)\n`,
        );

        // Errors come from the socket too: no access without sudo, and no socket once containerd stops.
        const denied = await worker.ssh("crictl version");
        expect(denied.code).toBe(1);
        expect(denied.stderr).toMatch(/level=fatal .*connect: permission denied/);
        await worker.ssh("sudo -n systemctl stop containerd-e2e.service");
        const absent = await worker.ssh("sudo -n crictl info");
        expect(absent.code).toBe(1);
        expect(absent.stdout).toBe("");
        expect(absent.stderr).toMatch(
          /level=fatal .*dial unix \/run\/containerd\/containerd\.sock: connect: no such file or directory/,
        );
      } finally {
        await worker?.stop();
      }
    });
  }
});
