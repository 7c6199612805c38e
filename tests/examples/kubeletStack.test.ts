import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { installMocks, MockedRun, valueOf } from "../pulumiMocks";

// The stack outputs of containerd-workers, in the shape index.ts exports them.
const RUNTIME_STACK_OUTPUTS = {
  runtimeEndpoint: "unix:///run/containerd/containerd.sock",
  runtimeVersion: "2.3.1",
  cgroupDriver: "systemd",
  sandboxImage: "registry.k8s.io/pause:3.10.2",
  cniBinDir: "/opt/cni/bin",
  cniConfDir: "/etc/cni/net.d",
  workers: {
    "worker-0": {
      runtimeEndpoint: "unix:///run/containerd/containerd.sock",
      cgroupDriver: "systemd",
      runtimeVersion: "2.3.1",
    },
    "worker-1": {
      runtimeEndpoint: "unix:///run/containerd/containerd.sock",
      cgroupDriver: "systemd",
      runtimeVersion: "2.3.1",
    },
  },
};

let run: MockedRun;
let program: typeof import("../../examples/kubelet-stack/index");
beforeAll(async () => {
  pulumi.runtime.setAllConfig({ "kubelet-stack:runtimeStack": "organization/containerd-workers/dev" });
  run = installMocks({
    project: "kubelet-stack",
    outputsFor: (type) =>
      type === "pulumi:pulumi:StackReference" ? { outputs: RUNTIME_STACK_OUTPUTS, secretOutputNames: [] } : {},
  });
  program = await import("../../examples/kubelet-stack/index");
});

describe("examples/kubelet-stack reads the runtime stack's outputs", () => {
  it("references the configured stack", async () => {
    await valueOf(program.runtimeEndpoint);
    const reference = run.registrations.find((r) => r.type === "pulumi:pulumi:StackReference");
    expect(reference?.name).toBe("organization/containerd-workers/dev");
  });

  it("requires the shared values", async () => {
    expect(await valueOf(program.runtimeEndpoint)).toBe("unix:///run/containerd/containerd.sock");
    expect(await valueOf(program.cgroupDriver)).toBe("systemd");
    expect(await valueOf(program.containerdVersion)).toBe("2.3.1");
  });

  it("renders one kubelet runtime config per worker", async () => {
    const configs = await valueOf(program.kubeletConfigs);
    expect(Object.keys(configs)).toEqual(["worker-0", "worker-1"]);
    expect(parse(configs["worker-0"] ?? "")).toEqual({
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
      cgroupDriver: "systemd",
    });
  });
});
