/**
 * A stack applied with an earlier release re-applies with 0 commands: every resource the program and a
 * spread of ContainerdWorker inputs register (type, name, parent, dependencies and each input) must match
 * `fixtures/state.golden.json`, recorded before the last refactor. A changed script text, stdin, trigger or
 * connection would re-run that step (or replace it, running its delete script) on every existing worker, so a
 * change here is a change for users: make it on purpose, regenerate with `UPDATE_STATE_GOLDEN=1`, and say in
 * the CHANGELOG which steps re-run.
 *
 * One change is deliberate and kept out of the golden: the component's type token moved from
 * `containerd-worker:containerd:ContainerdWorker` (the recorded release's) to `containerd-worker:index:ContainerdWorker`
 * (what a component provider serves). The golden keeps the old token; the test expects the new one for
 * ContainerdWorker components only, and that each registers the old one as an alias, so the engine finds the recorded
 * URNs, the children's through the parent's, and replaces nothing. Everything else, children included, stays identical.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { loadProgram, verifyStdout } from "./programStack";
import { CONTAINERD_WORKER_OLD_TYPE, CONTAINERD_WORKER_TYPE } from "../components/containerdWorker";

const GOLDEN = path.join(__dirname, "fixtures", "state.golden.json");

interface RecordedResource {
  type: string;
  parent?: string;
  dependsOn: string[];
  /** sha256 of each input's canonical JSON (secrets as the SDK wraps them). */
  inputs: Record<string, string>;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
  );
}

const digest = (value: unknown) =>
  crypto
    .createHash("sha256")
    .update(JSON.stringify(canonical(value)))
    .digest("hex")
    .slice(0, 16);

let run: MockedRun;
beforeAll(async () => {
  let program: typeof import("../index");
  ({ run, program } = await loadProgram(
    {
      hosts: ["worker-a=ubuntu@192.0.2.10", "worker-b=admin@192.0.2.11:2222"],
      downloadBaseUrl: "https://mirror.internal/gh",
      httpsProxy: "http://proxy.internal:3128",
      noProxy: ["10.0.0.0/8", ".internal"],
      registries: {
        "docker.io": { mirrors: [{ host: "https://hub.internal", headers: { Authorization: "Bearer t0ken" } }] },
        "registry.k8s.io": { mirrors: [{ host: "https://k8s-mirror.internal", capabilities: ["pull"] }] },
      },
    },
    {
      outputsFor: (type, name) => {
        if (type !== "command:remote:Command") return {};
        if (name.endsWith("-verify")) return { stdout: verifyStdout(name.startsWith("legacy") ? "v1.7.29" : "v2.3.1") };
        if (name.endsWith("-ready")) return { stdout: `arch=${name.startsWith("graviton") ? "arm64" : "amd64"}\n` };
        return {};
      },
    },
    ["registries"],
  ));
  await valueOf(program.runtimeVersion);
  // A spread of the component's own inputs, in the same run: the program above covers the defaults.
  const { ContainerdWorker } = await import("../components");
  const key = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\ngolden\n-----END OPENSSH PRIVATE KEY-----\n");
  const first = new ContainerdWorker("legacy", {
    connection: { host: "192.0.2.20", user: "ubuntu", privateKey: key },
    detectHostDrift: false,
    versions: { containerd: "1.7.29", runc: "1.3.3" },
    sandboxImage: "registry.internal/pause:3.9",
    systemdCgroup: false,
    staticBuild: true,
    purgeStateOnDestroy: true,
    readyTimeoutSeconds: 120,
    containerdSettings: { snapshotter: "native", maxContainerLogLineSize: -1 },
  });
  new ContainerdWorker("graviton", {
    connection: {
      host: "10.0.1.5",
      user: "admin",
      privateKey: key,
      proxy: { host: "192.0.2.30", user: "jump", privateKey: key },
    },
    detectHostDrift: false,
    arch: "auto",
    httpProxy: pulumi.secret({ https: "http://user:pw@proxy.internal:3128", noProxy: ["localhost"] }),
    containerdSettings: {
      runtimes: { "runc-debug": { runtimeType: "io.containerd.runc.v2", options: { BinaryName: "/usr/bin/runc" } } },
      extraConfig: { plugins: { "io.containerd.cri.v1.runtime": { enable_cdi: true } } },
    },
    after: [first],
  });
  await settle();
});

function recorded(): Record<string, RecordedResource> {
  return Object.fromEntries(
    run.registrations
      .map((r) => [
        r.name,
        {
          type: r.type,
          ...(r.parent === undefined ? {} : { parent: r.parent }),
          dependsOn: [...r.dependsOn].sort(),
          inputs: Object.fromEntries(
            Object.keys(r.inputs)
              .sort()
              .map((key) => [key, digest(r.inputs[key])]),
          ),
        },
      ])
      .sort(([a], [b]) => (a as string).localeCompare(b as string)),
  ) as Record<string, RecordedResource>;
}

describe("state compatibility with the recorded release", () => {
  it("registers every resource with the same type, parent, dependencies and inputs", () => {
    const now = recorded();
    if (process.env.UPDATE_STATE_GOLDEN === "1") {
      fs.mkdirSync(path.dirname(GOLDEN), { recursive: true });
      fs.writeFileSync(GOLDEN, `${JSON.stringify(now, null, 2)}\n`);
    }
    const golden = JSON.parse(fs.readFileSync(GOLDEN, "utf8")) as Record<string, RecordedResource>;
    expect(Object.keys(now).length).toBeGreaterThan(40);
    expect(now).toEqual(withNewComponentToken(golden));
  });

  it("moves only the components to the new token, each with the old one as its alias", () => {
    const golden = JSON.parse(fs.readFileSync(GOLDEN, "utf8")) as Record<string, RecordedResource>;
    const moved = Object.keys(golden).filter((name) => golden[name]?.type === CONTAINERD_WORKER_OLD_TYPE);
    expect(moved.sort()).toEqual(
      run.registrations
        .filter((r) => r.type === CONTAINERD_WORKER_TYPE)
        .map((r) => r.name)
        .sort(),
    );
    expect(moved.length).toBeGreaterThan(1);
    for (const name of moved) {
      // A spec with only the type: same name, same parent, this project and stack.
      expect(run.byName(name).aliases, name).toEqual([
        { name: "", type: CONTAINERD_WORKER_OLD_TYPE, stack: "", project: "", parentUrn: "", noParent: false },
      ]);
    }
    // The children need no alias of their own: the engine derives theirs from the parent's.
    for (const r of run.registrations.filter((x) => x.type !== CONTAINERD_WORKER_TYPE)) expect(r.aliases).toEqual([]);
  });
});

/** The recorded release's state as this release registers it: the component's token moved, nothing else. */
function withNewComponentToken(golden: Record<string, RecordedResource>): Record<string, RecordedResource> {
  return Object.fromEntries(
    Object.entries(golden).map(([name, r]) => [
      name,
      r.type === CONTAINERD_WORKER_OLD_TYPE ? { ...r, type: CONTAINERD_WORKER_TYPE } : r,
    ]),
  );
}
