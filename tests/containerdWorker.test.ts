import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { ContainerdWorker, ContainerdWorkerArgs, CONTAINERD_WORKER_TYPE, STEP_IDS } from "../components";
import { shellQuote } from "../components/shell";
import { installMocks, isSecretValue, MockedRun, Registration, settle, valueOf } from "./pulumiMocks";

// What a verify step prints on a worker running the article's containerd (its Step 5 output).
const VERIFY_STDOUT = [
  "Version:  0.1.0",
  "RuntimeName:  containerd",
  "RuntimeVersion:  v2.3.1",
  "RuntimeApiVersion:  v1",
  "CgroupDriver:  systemd",
  "LastCNILoadStatus:  cni config load failed: no network config found in /etc/cni/net.d",
].join("\n");

const PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

// The hosts are documentation addresses: host drift detection, which would connect, stays off.
function connection(host = "203.0.113.10") {
  return { host, user: "ubuntu", privateKey: pulumi.secret(PRIVATE_KEY) };
}

let run: MockedRun;
beforeAll(() => {
  run = installMocks({
    outputsFor: (type, name) =>
      type === "command:remote:Command" ? { stdout: name.endsWith("-verify") ? VERIFY_STDOUT : "", stderr: "" } : {},
  });
});

function childrenOf(component: string): Registration[] {
  return run.registrations.filter((r) => r.parent === component);
}

async function build(name: string, args: Omit<ContainerdWorkerArgs, "connection"> = {}): Promise<ContainerdWorker> {
  const worker = new ContainerdWorker(name, { connection: connection(), detectHostDrift: false, ...args });
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
      "crictl-yaml": ["ready"],
      unit: ["cni-plugins", "config", "containerd", "proxy", "runc"],
      restart: ["config", "containerd", "proxy", "unit"],
      verify: ["crictl", "crictl-yaml", "restart"],
    });
  });

  it("sends file contents on stdin, never sets environment, and keeps the connection secret", async () => {
    await build("wiring");
    const child = (step: string) => run.byName(`wiring-${step}`).inputs;
    expect(child("config").stdin).toContain("SystemdCgroup = true");
    expect(child("unit").stdin).toContain("KillMode=process");
    expect(child("crictl-yaml").stdin).toContain("runtime-endpoint: unix:///run/containerd/containerd.sock");
    for (const registration of childrenOf("wiring")) {
      expect(registration.inputs.environment).toBeUndefined();
      expect(registration.inputs.addPreviousOutputInEnv).toBe(false);
      expect(isSecretValue(registration.inputs.connection)).toBe(true);
      expect(JSON.stringify({ ...registration.inputs, connection: undefined })).not.toContain("not-a-real-key");
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
    expect(verify).toContain('does not show plugins."io.containerd.cri.v1.images".snapshotter as rendered');
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
    ["CNI plugins version", { versions: { cni: "1.9.2" } }, ["cni-plugins", "verify"]],
    ["crictl version", { versions: { crictl: "1.36.1" } }, ["crictl", "verify"]],
    ["a pinned runc checksum", { checksums: { runc: "a".repeat(64) } }, ["runc", "verify"]],
    [
      "download mirror",
      { downloadBaseUrl: "http://mirror.internal" },
      ["cni-plugins", "containerd", "crictl", "runc", "verify"],
    ],
    ["arch", { arch: "arm64" }, ["cni-plugins", "containerd", "crictl", "ready", "runc", "verify"]],
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
    ["httpProxy.https", { httpProxy: { https: "proxy:3128" } }, /invalid httpProxy\.https: .*proxy URL/],
    ["httpProxy.noProxy", { httpProxy: { http: "http://p:3128", noProxy: ["a b"] } }, /invalid httpProxy\.noProxy/],
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

  it("names the worker", () => {
    expect(() => new ContainerdWorker("worker-7", { connection: connection(), arch: "x86" })).toThrow(
      /^ContainerdWorker worker-7: invalid arch/,
    );
  });
});
