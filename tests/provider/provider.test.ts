/**
 * The component provider, started as its own process and driven over its gRPC interface (no Pulumi CLI): its
 * GetSchema is the checked-in components/schema.json (`npm run schema:provider` rewrites it), and Construct builds
 * the worker, registering the component and its step commands through the monitor this test serves. No script runs:
 * the monitor only records, and answers each command with its inputs.
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STEP_IDS } from "../../components/catalog/stepIds";
import { CONTAINERD_WORKER_TYPE } from "../../components/containerdWorker";
import { verifyStdout } from "../programStack";
import { formatSchema, PROVIDER_SCHEMA_JSON } from "../../tools/providerSchema";
import { type RunningProvider, secretWire, STACK_URN, startProvider } from "./providerHarness";

const COMMAND = "command:remote:Command";

let provider: RunningProvider;
beforeAll(async () => {
  provider = await startProvider({
    outputsFor: (type, name) => {
      if (type !== COMMAND) return {};
      if (name.endsWith("-verify")) return { stdout: verifyStdout("v2.3.1") };
      if (name.endsWith("-ready")) return { stdout: "arch=amd64\n" };
      return {};
    },
  });
}, 60_000);
afterAll(async () => provider?.stop());

describe("the component provider over gRPC", () => {
  it("answers GetSchema with the checked-in schema.json", async () => {
    const schema = await provider.getSchema();
    expect(schema.name).toBe("containerd-worker");
    expect(Object.keys(schema.resources as object)).toEqual([CONTAINERD_WORKER_TYPE]);
    // Byte for byte, as `npm run schema:provider` writes it.
    expect(await formatSchema(schema), "components/schema.json is stale: npm run schema:provider").toBe(
      fs.readFileSync(PROVIDER_SCHEMA_JSON, "utf8"),
    );
  }, 60_000);

  it("constructs a worker: the component, and its step commands under it, one of them waiting for `after`", async () => {
    const before = "urn:pulumi:dev::proj::containerd-worker:index:ContainerdWorker::w0";
    const result = await provider.construct(CONTAINERD_WORKER_TYPE, "w1", {
      connection: { host: "192.0.2.10", user: "ubuntu", privateKey: secretWire("KEY") },
      detectHostDrift: false,
      arch: "arm64",
      versions: { containerd: "2.1.9" },
      registries: { "docker.io": { mirrors: [{ host: "https://hub.internal", capabilities: ["pull"] }] } },
      containerdSettings: { extraConfig: { plugins: { "io.containerd.cri.v1.runtime": { enable_cdi: true } } } },
      after: [{ urn: before }],
    });
    const component = `urn:pulumi:dev::proj::${CONTAINERD_WORKER_TYPE}::w1`;
    expect(result.urn).toBe(component);
    expect(result.state).toMatchObject({
      arch: "arm64",
      runtimeVersion: "2.3.1",
      cgroupDriver: "systemd",
      runtimeEndpoint: "unix:///run/containerd/containerd.sock",
    });
    expect(Object.keys(result.state)).not.toContain("steps");

    const { registered } = provider;
    expect(registered[0]).toMatchObject({ type: CONTAINERD_WORKER_TYPE, name: "w1", parent: STACK_URN });
    const children = registered.slice(1);
    expect(children.map((r) => r.name).sort()).toEqual(STEP_IDS.map((id) => `w1-${id}`).sort());
    for (const child of children) {
      expect(child).toMatchObject({ type: COMMAND, custom: true, parent: component });
      expect(child.urn).toBe(`urn:pulumi:dev::proj::${CONTAINERD_WORKER_TYPE}$${COMMAND}::${child.name}`);
    }
    expect(children.find((r) => r.name === "w1-ready")?.dependencies).toEqual([before]);
    // The connection, key and all, reaches the commands as a secret.
    const runc = children.find((r) => r.name === "w1-runc");
    expect(runc?.inputs.connection).toMatchObject(secretWire({ host: "192.0.2.10", privateKey: "KEY" }));
  }, 60_000);
});
