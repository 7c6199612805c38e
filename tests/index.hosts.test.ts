import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { CONTAINERD_WORKER_TYPE } from "../components/containerdWorker";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { loadProgram, TEST_PRIVATE_KEY } from "./programStack";

let run: MockedRun;
let program: typeof import("../index");
beforeAll(async () => {
  ({ run, program } = await loadProgram({
    hosts: ["worker-a=ubuntu@192.0.2.10", "worker-b=admin@192.0.2.11:2222"],
    containerdVersion: "2.1.9",
    registries: { "registry.k8s.io": { mirrors: [{ host: "https://k8s-mirror.internal" }] } },
  }));
  await valueOf(program.runtimeVersion);
  await settle();
});

describe("the program with existing hosts", () => {
  it("makes one ContainerdWorker per host and no EC2 resources", () => {
    const components = run.registrations.filter((r) => r.type === CONTAINERD_WORKER_TYPE).map((r) => r.name);
    expect(components).toEqual(["worker-a", "worker-b"]);
    expect(run.registrations.filter((r) => r.type.startsWith("aws:"))).toEqual([]);
  });

  it("rolls a change out to every worker at once by default: no worker waits for another", () => {
    expect(run.byName("worker-a-ready").dependsOn).toEqual([]);
    expect(run.byName("worker-b-ready").dependsOn).toEqual([]);
  });

  it("connects with each host's address, user and port and the secret key", () => {
    const unwrap = (v: unknown) => (v as { value: Record<string, unknown> }).value;
    expect(unwrap(run.byName("worker-a-ready").inputs.connection)).toMatchObject({
      host: "192.0.2.10",
      user: "ubuntu",
      port: 22,
      privateKey: TEST_PRIVATE_KEY,
    });
    expect(unwrap(run.byName("worker-b-ready").inputs.connection)).toMatchObject({
      host: "192.0.2.11",
      user: "admin",
      port: 2222,
    });
  });

  it("passes the runtime options from config", () => {
    expect(run.byName("worker-a-containerd").inputs.create).toContain("containerd-2.1.9-linux-amd64.tar.gz");
  });

  it("gives every worker the registries from config", () => {
    for (const worker of ["worker-a", "worker-b"]) {
      expect(run.byName(`${worker}-registries`).inputs.stdin).toContain(
        '=== registry.k8s.io/hosts.toml\n|[host."https://k8s-mirror.internal"]',
      );
    }
  });

  it("exports per-worker values and the shared values the kubelet stack reads", async () => {
    const workers = await valueOf(program.workers);
    expect(Object.keys(workers)).toEqual(["worker-a", "worker-b"]);
    expect(workers["worker-a"]).toMatchObject({
      host: "192.0.2.10",
      runtimeName: "containerd",
      runtimeVersion: "2.3.1",
      runtimeVersionReported: "v2.3.1",
      runtimeApiVersion: "v1",
      runtimeEndpoint: "unix:///run/containerd/containerd.sock",
      cgroupDriver: "systemd",
      sandboxImage: "registry.k8s.io/pause:3.10.2",
      cniBinDir: "/opt/cni/bin",
      cniConfDir: "/etc/cni/net.d",
    });
    expect(await valueOf(program.runtimeEndpoint)).toBe("unix:///run/containerd/containerd.sock");
    expect(await valueOf(program.cgroupDriver)).toBe("systemd");
    expect(await valueOf(program.sandboxImage)).toBe("registry.k8s.io/pause:3.10.2");
    expect(await valueOf(program.cniBinDir)).toBe("/opt/cni/bin");
    expect(await valueOf(program.cniConfDir)).toBe("/etc/cni/net.d");
  });

  it("keeps the SSH key out of every stack output", async () => {
    for (const output of [program.workers, program.runtimeEndpoint, program.runtimeVersion]) {
      expect(await pulumi.isSecret(output as pulumi.Output<unknown>)).toBe(false);
      expect(JSON.stringify(await valueOf(output as pulumi.Output<unknown>))).not.toContain("program-test-key");
    }
  });
});
