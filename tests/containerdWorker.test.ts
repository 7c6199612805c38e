import * as crypto from "node:crypto";
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { ContainerdWorker, CONTAINERD_WORKER_TYPE } from "../components/containerdWorker";
import { ContainerdWorkerArgs } from "../components/args/containerdWorkerArgs";
import { verifyStdout } from "./programStack";
import { Arch } from "../components/args/enums";
import { STEP_IDS } from "../components/catalog/stepIds";
import { BASTION_DIAL_ERROR_LIMIT, readyDialing } from "../components/inputs/readiness";
import { shellQuote } from "../components/worker/shell";
import { installMocks, isSecretValue, MockedRun, Registration, settle, valueOf } from "./pulumiMocks";

// What a verify step prints on a worker running the article's containerd (its Step 5 output).
const VERIFY_STDOUT = verifyStdout("v2.3.1");

const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

// The hosts are documentation addresses: host drift detection, which would connect, stays off.
function connection(host = "203.0.113.10") {
  return { host, user: "ubuntu", privateKey: pulumi.secret(PRIVATE_KEY) };
}

// What a ready step prints (see readyScript); workers named `graviton-*` report arm64.
function stdoutOf(step: string): string {
  if (step.endsWith("-verify")) return VERIFY_STDOUT;
  if (step.endsWith("-ready"))
    return `arch=${step.startsWith("graviton") ? "arm64" : "amd64"}\nkernel=6.8.0-1015-aws\n`;
  return "";
}

let run: MockedRun;
beforeAll(() => {
  run = installMocks({
    outputsFor: (type, name) => (type === "command:remote:Command" ? { stdout: stdoutOf(name), stderr: "" } : {}),
  });
});

function childrenOf(component: string): Registration[] {
  return run.registrations.filter((r) => r.parent === component);
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

async function build(name: string, args: Omit<ContainerdWorkerArgs, "connection"> = {}): Promise<ContainerdWorker> {
  // One machine per component: each worker its own (documentation) host name.
  const worker = new ContainerdWorker(name, {
    connection: connection(`${name}.example`),
    detectHostDrift: false,
    ...args,
  });
  await valueOf(worker.runtimeVersion);
  await settle();
  return worker;
}

describe("ContainerdWorker resource graph", () => {
  it("registers the component with its type token and one remote.Command per step, named from the component", async () => {
    await build("graph");
    expect(run.byName("graph").type).toBe(CONTAINERD_WORKER_TYPE);
    const children = childrenOf("graph");
    expect(children.map((c) => c.name).sort()).toEqual(STEP_IDS.map((id) => `graph-${id}`).sort());
    for (const child of children) expect(child.type).toBe("command:remote:Command");
  });

  it("depends only on what is real, so independent steps run in parallel", async () => {
    await build("deps");
    const deps = Object.fromEntries(
      childrenOf("deps").map((c) => [
        c.name.replace(/^deps-/, ""),
        c.dependsOn.map((d) => d.replace(/^deps-/, "")).sort(),
      ]),
    );
    expect(deps).toEqual({
      ready: [],
      runc: ["ready"],
      containerd: ["ready"],
      "cni-plugins": ["ready"],
      crictl: ["ready"],
      config: ["ready"],
      proxy: ["ready"],
      registries: ["ready"],
      "crictl-yaml": ["ready"],
      unit: ["cni-plugins", "config", "containerd", "proxy", "runc"],
      restart: ["config", "containerd", "proxy", "unit"],
      verify: ["crictl", "crictl-yaml", "registries", "restart"],
      reset: ["crictl", "unit"],
    });
  });

  it("sends file contents on stdin, never sets environment, and keeps the connection secret", async () => {
    await build("wiring");
    const child = (step: string) => run.byName(`wiring-${step}`).inputs;
    expect(child("config").stdin).toContain("SystemdCgroup = true");
    expect(child("unit").stdin).toContain("KillMode=process");
    expect(child("crictl-yaml").stdin).toContain("runtime-endpoint: unix:///run/containerd/containerd.sock");
    expect(child("config").stdin).toContain('config_path = "/etc/containerd/certs.d"');
    expect(child("registries").stdin).toBe("");
    for (const registration of childrenOf("wiring")) {
      expect(registration.inputs.environment).toBeUndefined();
      expect(registration.inputs.addPreviousOutputInEnv).toBe(false);
      expect(isSecretValue(registration.inputs.connection)).toBe(true);
      expect(JSON.stringify({ ...registration.inputs, connection: undefined })).not.toContain("not-a-real-key");
    }
  });

  it("dials the ready step through the readiness gate, on every hop, and the other steps as given", async () => {
    const bastion = { host: "198.51.100.7", user: "jump", privateKey: pulumi.secret(PRIVATE_KEY), dialErrorLimit: 2 };
    const worker = new ContainerdWorker("gate", {
      connection: { ...connection("10.0.1.5"), proxy: bastion, perDialTimeout: 30 },
      detectHostDrift: false,
      readyTimeoutSeconds: 60,
    });
    await valueOf(worker.runtimeVersion);
    await settle();
    const connectionOf = (step: string) =>
      (run.byName(`gate-${step}`).inputs.connection as { value: Record<string, unknown> }).value;
    const { dialErrorLimit, perDialTimeout } = readyDialing(60);
    expect(connectionOf("ready")).toMatchObject({
      host: "10.0.1.5",
      dialErrorLimit,
      perDialTimeout,
      proxy: { host: "198.51.100.7", user: "jump", dialErrorLimit, perDialTimeout },
    });
    expect(connectionOf("runc")).toMatchObject({ perDialTimeout: 30, proxy: { dialErrorLimit: 2 } });
    expect(connectionOf("runc").dialErrorLimit).toBe(10); // the SDK's default, not the gate's
  });

  it("redials a bastion for about a minute on the steps after ready, unless the proxy sets its own limit", async () => {
    const bastion = { host: "198.51.100.7", user: "jump", privateKey: pulumi.secret(PRIVATE_KEY) };
    const worker = new ContainerdWorker("fleet", {
      connection: { ...connection("10.0.1.6"), proxy: bastion },
      detectHostDrift: false,
    });
    await valueOf(worker.runtimeVersion);
    await settle();
    const connectionOf = (step: string) =>
      (run.byName(`fleet-${step}`).inputs.connection as { value: Record<string, unknown> }).value;
    for (const step of STEP_IDS.filter((id) => id !== "ready")) {
      expect(connectionOf(step)).toMatchObject({
        dialErrorLimit: 10,
        proxy: { dialErrorLimit: BASTION_DIAL_ERROR_LIMIT },
      });
    }
    expect(BASTION_DIAL_ERROR_LIMIT).toBe(20);
    // Without a bastion nothing changes: the SDK's defaults.
    const direct = await build("fleet-direct");
    await settle();
    const runc = (run.byName("fleet-direct-runc").inputs.connection as { value: Record<string, unknown> }).value;
    expect(runc.proxy).toBeUndefined();
    expect(runc.dialErrorLimit).toBe(10);
    expect(direct).toBeDefined();
  });

  it("gives every step the same connection whether its fields are plain or Outputs", async () => {
    // Fields given as Outputs (a port, a whole bastion, the whole connection) are awaited and checked first;
    // the steps must not tell them apart from plain ones.
    const bastion = { host: "198.51.100.8", user: "jump", privateKey: pulumi.secret(PRIVATE_KEY) };
    new ContainerdWorker("wired-plain", {
      connection: { ...connection("10.0.2.1"), port: 2222, proxy: bastion },
      detectHostDrift: false,
    });
    new ContainerdWorker("wired-later", {
      connection: { ...connection("10.0.2.2"), port: pulumi.output(2222), proxy: pulumi.output(bastion) },
      detectHostDrift: false,
    });
    new ContainerdWorker("wired-whole", {
      connection: pulumi.output({ ...connection("10.0.2.3"), port: 2222, proxy: bastion }),
      detectHostDrift: false,
    });
    await settle();
    const connectionOf = (name: string) => {
      const input = run.byName(name).inputs.connection;
      expect(isSecretValue(input)).toBe(true);
      const { host, ...rest } = (input as { value: Record<string, unknown> }).value;
      expect(host).toMatch(/^10\.0\.2\.[123]$/);
      return rest;
    };
    for (const step of STEP_IDS) {
      const plain = connectionOf(`wired-plain-${step}`);
      expect(plain).toMatchObject({ port: 2222, privateKey: PRIVATE_KEY, proxy: { host: "198.51.100.8" } });
      expect(connectionOf(`wired-later-${step}`)).toEqual(plain);
      expect(connectionOf(`wired-whole-${step}`)).toEqual(plain);
    }
  });

  it("exposes what the worker's CRI answer says, plus the rendered settings", async () => {
    const worker = await build("outputs", { sandboxImage: "registry.k8s.io/pause:3.10" });
    expect(await valueOf(worker.runtimeVersion)).toBe("2.3.1");
    expect(await valueOf(worker.runtimeVersionReported)).toBe("v2.3.1");
    expect(await valueOf(worker.runtimeName)).toBe("containerd");
    expect(await valueOf(worker.runtimeApiVersion)).toBe("v1");
    expect(await valueOf(worker.cgroupDriver)).toBe("systemd");
    expect(await valueOf(worker.runtimeEndpoint)).toBe("unix:///run/containerd/containerd.sock");
    expect(await valueOf(worker.sandboxImage)).toBe("registry.k8s.io/pause:3.10");
    expect(await valueOf(worker.cniBinDir)).toBe("/opt/cni/bin");
    expect(await valueOf(worker.cniConfDir)).toBe("/etc/cni/net.d");
    expect(await valueOf(worker.config)).toContain('sandbox = "registry.k8s.io/pause:3.10"');
    expect(await pulumi.isSecret(worker.runtimeVersion)).toBe(false);
  });

  it("renders containerdSettings into the config and has verify check them in the dump", async () => {
    const worker = await build("settings", {
      containerdSettings: {
        snapshotter: "native",
        runtimes: {
          "runc-debug": { runtimeType: "io.containerd.runc.v2", options: { BinaryName: "/usr/local/sbin/runc" } },
        },
      },
    });
    const config = await valueOf(worker.config);
    expect(config).toContain('[plugins."io.containerd.cri.v1.images"]\nsnapshotter = "native"');
    expect(config).toContain('[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc-debug]');
    expect(run.byName("settings-config").inputs.stdin).toBe(config);
    const verify = run.byName("settings-verify").inputs.create as string;
    expect(verify).toContain(shellQuote("snapshotter = 'native'"));
    expect(verify).toContain(
      shellQuote("[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc-debug.options]"),
    );
    expect(verify).toContain(shellQuote('plugins."io.containerd.cri.v1.images".snapshotter'));
  });
});

describe('arch "auto"', () => {
  it.each([
    ["graviton-0", "arm64"],
    ["intel-0", "amd64"],
  ])("%s installs the artifacts for the arch its ready step reported (%s)", async (name, arch) => {
    const worker = await build(name, { arch: "auto" });
    expect(await valueOf(worker.arch)).toBe(arch);
    const create = (step: string) => String(run.byName(`${name}-${step}`).inputs.create);
    expect(create("runc")).toContain(`/runc.${arch}'`);
    expect(create("containerd")).toContain(`containerd-2.3.1-linux-${arch}.tar.gz`);
    expect(create("cni-plugins")).toContain(`cni-plugins-linux-${arch}-v1.9.1.tgz`);
    expect(create("crictl")).toContain(`crictl-v1.36.0-linux-${arch}.tar.gz`);
    // The ready step asks; it expects nothing.
    expect(create("ready")).toContain("uname -m");
    expect(create("ready")).toContain("expected_arch='auto'");
  });

  it("a fixed arch is checked by the ready step and reported as given", async () => {
    const worker = await build("fixed-arm", { arch: "arm64" });
    expect(await valueOf(worker.arch)).toBe("arm64");
    expect(String(run.byName("fixed-arm-ready").inputs.create)).toContain("expected_arch='arm64'");
  });
});

describe("host drift detection", () => {
  it("starts the ready step while the probe is still reading the worker", async () => {
    // An SSH port that accepts and never answers: the probe stays pending until it is closed.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      // A key the probe can parse, made for this test only.
      const { privateKey } = crypto.generateKeyPairSync("rsa", {
        modulusLength: 2048,
        privateKeyEncoding: { type: "pkcs1", format: "pem" },
        publicKeyEncoding: { type: "pkcs1", format: "pem" },
      });
      const worker = new ContainerdWorker("probing", {
        connection: { host: "127.0.0.1", port, user: "ubuntu", privateKey: pulumi.secret(privateKey) },
      });
      await waitFor(() => run.registrations.some((r) => r.name === "probing-ready"));
      await waitFor(() => sockets.length > 0);
      // The probe has connected and is waiting; every step whose script carries a generation waits with it.
      const registered = childrenOf("probing").map((c) => c.name.replace(/^probing-/, ""));
      expect(registered).toContain("ready");
      expect(registered).not.toContain("config");
      for (const socket of sockets) socket.destroy();
      await valueOf(worker.runtimeVersion);
      expect(
        childrenOf("probing")
          .map((c) => c.name.replace(/^probing-/, ""))
          .sort(),
      ).toEqual([...STEP_IDS].sort());
    } finally {
      silent.close();
    }
  });
});

describe("changing one input changes only the children it concerns", () => {
  // Two runs of the same worker name; each child's inputs are compared by step.
  async function inputsByStep(name: string, args: Omit<ContainerdWorkerArgs, "connection">) {
    const before = run.registrations.length;
    await build(name, args);
    const children = run.registrations.slice(before).filter((r) => r.parent === name);
    return Object.fromEntries(children.map((c) => [c.name.slice(name.length + 1), JSON.stringify(c.inputs)]));
  }

  async function changedSteps(
    base: Omit<ContainerdWorkerArgs, "connection">,
    changed: Omit<ContainerdWorkerArgs, "connection">,
  ) {
    const a = await inputsByStep("same", base);
    const b = await inputsByStep("same", changed);
    return Object.keys(a)
      .filter((step) => a[step] !== b[step])
      .sort();
  }

  it.each([
    ["sandbox image", { sandboxImage: "registry.k8s.io/pause:3.10" }, ["config", "restart", "verify"]],
    ["cgroup driver", { systemdCgroup: false }, ["config", "restart", "verify"]],
    ["an HTTPS proxy", { httpProxy: { https: "http://proxy.internal:3128" } }, ["proxy", "restart", "verify"]],
    [
      "containerd 2.3.1 -> 2.3.2 (same config schema)",
      { versions: { containerd: "2.3.2" } },
      ["containerd", "restart", "verify"],
    ],
    [
      "containerd 2.3.1 -> 2.1.9 (config schema 4 -> 3)",
      { versions: { containerd: "2.1.9" } },
      ["config", "containerd", "restart", "verify"],
    ],
    ["runc version", { versions: { runc: "1.4.3" } }, ["runc", "verify"]],
    // Same version, another binary: containerd restarts to load it.
    ["containerd's static build", { staticBuild: true }, ["containerd", "restart", "verify"]],
    ["CNI plugins version", { versions: { cni: "1.9.2" } }, ["cni-plugins", "verify"]],
    ["crictl version", { versions: { crictl: "1.36.1" } }, ["crictl", "verify"]],
    ["a pinned runc checksum", { checksums: { runc: "a".repeat(64) } }, ["runc", "verify"]],
    [
      "download mirror",
      { downloadBaseUrl: "http://mirror.internal" },
      ["cni-plugins", "containerd", "crictl", "runc", "verify"],
    ],
    ["arch", { arch: "arm64" }, ["cni-plugins", "containerd", "crictl", "ready", "runc", "verify"]],
    ["purging state on destroy", { purgeStateOnDestroy: true }, ["reset"]],
    // Readiness changes nothing on the worker: nothing else runs again.
    ["readiness timeout", { readyTimeoutSeconds: 600 }, ["ready"]],
    [
      "a registry mirror (hosts.toml only: no restart)",
      { registries: { "docker.io": { mirrors: [{ host: "https://mirror.internal" }] } } },
      ["registries", "verify"],
    ],
    ["a snapshotter", { containerdSettings: { snapshotter: "native" } }, ["config", "restart", "verify"]],
    ["a log line size", { containerdSettings: { maxContainerLogLineSize: -1 } }, ["config", "restart", "verify"]],
    ["unprivileged ports", { containerdSettings: { enableUnprivilegedPorts: false } }, ["config", "restart", "verify"]],
    ["unprivileged ICMP", { containerdSettings: { enableUnprivilegedIcmp: false } }, ["config", "restart", "verify"]],
    [
      "device ownership",
      { containerdSettings: { deviceOwnershipFromSecurityContext: true } },
      ["config", "restart", "verify"],
    ],
    ["discarding layers", { containerdSettings: { discardUnpackedLayers: true } }, ["config", "restart", "verify"]],
    [
      "an extra runtime",
      { containerdSettings: { runtimes: { runsc: { runtimeType: "io.containerd.runsc.v1" } } } },
      ["config", "restart", "verify"],
    ],
    [
      "extra config",
      {
        containerdSettings: {
          extraConfig: { plugins: { "io.containerd.cri.v1.images": { max_concurrent_downloads: 6 } } },
        },
      },
      ["config", "restart", "verify"],
    ],
  ] as const)("%s", async (_what, change, expected) => {
    expect(await changedSteps({}, change as Omit<ContainerdWorkerArgs, "connection">)).toEqual(expected);
  });

  it("containerd 1.7.24 -> 2.1.9 re-renders the config in schema 3", async () => {
    expect(await changedSteps({ versions: { containerd: "1.7.24" } }, { versions: { containerd: "2.1.9" } })).toEqual([
      "config",
      "containerd",
      "restart",
      "verify",
    ]);
  });

  it.each([
    ["a header", { headers: { "X-Mirror": "1" } }],
    ["a CA", { caPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" }],
    ["skipVerify", { skipVerify: true }],
    ["overridePath", { overridePath: true }],
    ["capabilities", { capabilities: ["pull"] }],
  ] as const)("a mirror's %s changes only the registry files and verify", async (_what, setting) => {
    const registries = (extra: object) => ({
      registries: { "docker.io": { mirrors: [{ host: "https://mirror.internal", ...extra }] } },
    });
    expect(await changedSteps(registries({}), registries(setting))).toEqual(["registries", "verify"]);
  });

  it("the same inputs twice change nothing", async () => {
    expect(await changedSteps({}, {})).toEqual([]);
  });
});

describe("bad input fails at construction, naming the input and what is allowed", () => {
  it.each([
    ["versions.containerd", { versions: { containerd: "latest" } }, /versions\.containerd.*expected X\.Y\.Z/],
    ["versions.runc", { versions: { runc: "" } }, /versions\.runc/],
    ["versions.containerd (unsupported)", { versions: { containerd: "1.6.30" } }, /use 1\.7\.x or 2\.x/],
    [
      "versions (unknown part)",
      { versions: { docker: "1.0.0" } },
      /versions\.docker: unknown part; the parts are runc, containerd, cni, crictl/,
    ],
    ["arch", { arch: "riscv64" }, /invalid arch: "riscv64" is not supported; use one of amd64, arm64/],
    ["sandboxImage", { sandboxImage: "pause 3.10" }, /invalid sandboxImage: .*pinned image reference/],
    ["sandboxImage without tag", { sandboxImage: "registry.k8s.io/pause" }, /invalid sandboxImage/],
    ["downloadBaseUrl", { downloadBaseUrl: "ftp://mirror" }, /invalid downloadBaseUrl: .*http\(s\) URL/],
    ["checksums.crictl", { checksums: { crictl: "abc" } }, /invalid checksums\.crictl: .*64 hex characters/],
    ["httpProxy.https", { httpProxy: { https: "proxy:3128" } }, /invalid httpProxy\.https: .*http\(s\) URL/],
    ["httpProxy.noProxy", { httpProxy: { http: "http://p:3128", noProxy: ["a b"] } }, /invalid httpProxy\.noProxy/],
    ["purgeStateOnDestroy", { purgeStateOnDestroy: "yes" }, /invalid purgeStateOnDestroy: "yes" is not a boolean/],
    [
      "readyTimeoutSeconds",
      { readyTimeoutSeconds: 0 },
      /invalid readyTimeoutSeconds: 0: expected whole seconds from 1 to 3600/,
    ],
    ["registries", { registries: "docker.io=https://m" }, /invalid registries: .*keyed by registry host/],
    [
      "registries[…] key",
      { registries: { "https://docker.io": { server: "https://x" } } },
      /invalid registries\["https:\/\/docker\.io"\]: is not a registry host/,
    ],
    [
      "registries[…].mirrors[0].capabilities[0]",
      { registries: { "docker.io": { mirrors: [{ host: "https://m", capabilities: ["pul"] }] } } },
      /invalid registries\["docker\.io"\]\.mirrors\[0\]\.capabilities\[0\]: "pul" is not allowed; use one of pull, resolve, push/,
    ],
    [
      "registries[…].mirrors[0].caPem",
      { registries: { "docker.io": { mirrors: [{ host: "https://m", caPem: "ca.pem" }] } } },
      /invalid registries\["docker\.io"\]\.mirrors\[0\]\.caPem: is not PEM certificate text/,
    ],
    ["containerdSettings", { containerdSettings: { snapshoter: "native" } }, /containerdSettings\.snapshoter: unknown/],
    [
      "containerdSettings.snapshotter",
      { containerdSettings: { snapshotter: "overlay" } },
      /invalid containerdSettings\.snapshotter: "overlay" is not a snapshotter of containerd 2\.3/,
    ],
    [
      "containerdSettings.maxContainerLogLineSize",
      { containerdSettings: { maxContainerLogLineSize: "64k" } },
      /invalid containerdSettings\.maxContainerLogLineSize/,
    ],
    [
      "containerdSettings.enableUnprivilegedPorts",
      { containerdSettings: { enableUnprivilegedPorts: "no" } },
      /invalid containerdSettings\.enableUnprivilegedPorts: "no" is not a boolean/,
    ],
    [
      "containerdSettings.enableUnprivilegedIcmp",
      { containerdSettings: { enableUnprivilegedIcmp: 0 } },
      /invalid containerdSettings\.enableUnprivilegedIcmp/,
    ],
    [
      "containerdSettings.deviceOwnershipFromSecurityContext",
      { containerdSettings: { deviceOwnershipFromSecurityContext: "yes" } },
      /invalid containerdSettings\.deviceOwnershipFromSecurityContext/,
    ],
    [
      "containerdSettings.discardUnpackedLayers",
      { containerdSettings: { discardUnpackedLayers: "yes" } },
      /invalid containerdSettings\.discardUnpackedLayers/,
    ],
    [
      "containerdSettings.runtimes",
      { containerdSettings: { runtimes: { runsc: { runtimeType: "runsc" } } } },
      /invalid containerdSettings\.runtimes\.runsc\.runtimeType: "runsc" is not a shim name/,
    ],
    [
      "containerdSettings.extraConfig in the wrong place for the version",
      {
        versions: { containerd: "2.1.9" },
        containerdSettings: {
          extraConfig: { plugins: { "io.containerd.grpc.v1.cri": { containerd: { snapshotter: "native" } } } },
        },
      },
      /invalid containerdSettings\.extraConfig\.plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.snapshotter: containerd 2\.1 \(config version 3\) has no such key; it lives at plugins\."io\.containerd\.cri\.v1\.images"\.snapshotter/,
    ],
    [
      "containerdSettings.extraConfig over a key the component sets",
      {
        versions: { containerd: "1.7.24" },
        containerdSettings: {
          extraConfig: { plugins: { "io.containerd.grpc.v1.cri": { sandbox_image: "pause:3.9" } } },
        },
      },
      /invalid containerdSettings\.extraConfig\.plugins\."io\.containerd\.grpc\.v1\.cri"\.sandbox_image: the component sets this key from the sandboxImage argument/,
    ],
  ])("%s", (_what, args, message) => {
    const construct = () =>
      new ContainerdWorker("bad", {
        connection: connection(),
        detectHostDrift: false,
        ...(args as Omit<ContainerdWorkerArgs, "connection">),
      });
    expect(construct).toThrow(pulumi.ResourceError);
    expect(construct).toThrow(message);
  });

  it("an empty host", () => {
    expect(() => new ContainerdWorker("bad", { connection: connection("  ") })).toThrow(/invalid connection\.host/);
  });

  it("a port out of range", () => {
    expect(() => new ContainerdWorker("bad", { connection: { ...connection(), port: 70000 } })).toThrow(
      /invalid connection\.port: 70000: expected an integer from 1 to 65535/,
    );
  });

  it("a bastion without a host", () => {
    expect(() => new ContainerdWorker("bad", { connection: { ...connection(), proxy: { host: "" } } })).toThrow(
      /invalid connection\.proxy\.host/,
    );
  });

  it("names the worker", () => {
    expect(() => new ContainerdWorker("worker-7", { connection: connection(), arch: "x86" as Arch })).toThrow(
      /^ContainerdWorker worker-7: invalid arch/,
    );
  });
});

describe("one machine, one component", () => {
  it("refuses a second component for the same host and port, naming both", () => {
    new ContainerdWorker("first-of-two", { connection: connection("192.0.2.50"), detectHostDrift: false });
    const second = () =>
      new ContainerdWorker("second-of-two", {
        connection: { ...connection("192.0.2.50"), port: 22 },
        detectHostDrift: false,
      });
    expect(second).toThrow(pulumi.ResourceError);
    expect(second).toThrow(
      /^ContainerdWorker second-of-two: invalid connection: 192\.0\.2\.50:22 is already the worker of ContainerdWorker first-of-two; one machine needs one component/,
    );
  });

  it("counts a host name in any case as the same, and tells ports and bastions apart", () => {
    new ContainerdWorker("named", { connection: connection("Worker-9.example"), detectHostDrift: false });
    expect(
      () => new ContainerdWorker("renamed", { connection: connection("worker-9.example"), detectHostDrift: false }),
    ).toThrow(/worker-9\.example:22 is already the worker of ContainerdWorker named/);
    // Another port, or the same private address behind another bastion, is another machine.
    new ContainerdWorker("other-port", {
      connection: { ...connection("worker-9.example"), port: 2222 },
      detectHostDrift: false,
    });
    new ContainerdWorker("behind-a", {
      connection: { ...connection("10.0.9.9"), proxy: { host: "198.51.100.1" } },
      detectHostDrift: false,
    });
    new ContainerdWorker("behind-b", {
      connection: { ...connection("10.0.9.9"), proxy: { host: "198.51.100.2" } },
      detectHostDrift: false,
    });
    expect(
      () =>
        new ContainerdWorker("behind-a-again", {
          connection: { ...connection("10.0.9.9"), proxy: { host: "198.51.100.1", port: 22 } },
          detectHostDrift: false,
        }),
    ).toThrow(/10\.0\.9\.9:22 through 198\.51\.100\.1:22 is already the worker of ContainerdWorker behind-a/);
  });

  it("leaves an address known only later (an instance's IP) to the program", () => {
    new ContainerdWorker("later-a", { connection: connection("192.0.2.60"), detectHostDrift: false });
    expect(
      () =>
        new ContainerdWorker("later-b", {
          connection: { ...connection(), host: pulumi.output("192.0.2.60") },
          detectHostDrift: false,
        }),
    ).not.toThrow();
  });
});
