import { beforeAll, describe, expect, it } from "vitest";
import { CONTAINERD_WORKER_TYPE } from "../components/containerdWorker";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { EC2_AMI, ec2Mocks, loadProgram } from "./programStack";

let run: MockedRun;
let program: typeof import("../index");
beforeAll(async () => {
  ({ run, program } = await loadProgram(
    { workerCount: 3, arch: "arm64", sshCidr: "198.51.100.7/32", sshPublicKey: "ssh-ed25519 AAAAC3 test" },
    ec2Mocks({
      architectures: ["arm64"],
      addressesOf: (index) => ({ publicIp: `203.0.113.${10 + index}`, privateIp: "10.0.0.9" }),
    }),
  ));
  await valueOf(program.runtimeVersion);
  await settle();
});

describe("the program creating EC2 workers", () => {
  it("looks up Canonical's Ubuntu 24.04 AMI for the arch", () => {
    const lookup = run.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
    expect(lookup?.inputs).toMatchObject({
      mostRecent: true,
      owners: ["099720109477"],
      filters: expect.arrayContaining([
        { name: "name", values: ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*"] },
      ]) as unknown,
    });
  });

  it("creates the instances, key pair and an SSH-only security group from the given CIDR", () => {
    const instances = run.registrations.filter((r) => r.type === "aws:ec2/instance:Instance");
    expect(instances.map((i) => i.name)).toEqual(["worker-0-ec2", "worker-1-ec2", "worker-2-ec2"]);
    for (const instance of instances) {
      expect(instance.inputs).toMatchObject({ ami: EC2_AMI, instanceType: "t4g.medium" });
    }
    expect(run.byName("workers").inputs).toMatchObject({ publicKey: "ssh-ed25519 AAAAC3 test" });
    expect(run.byName("workers-ssh").inputs.ingress).toEqual([
      expect.objectContaining({ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["198.51.100.7/32"] }),
    ]);
  });

  it("requires IMDSv2 and encrypts the root volume of every instance by default", () => {
    const instances = run.registrations.filter((r) => r.type === "aws:ec2/instance:Instance");
    expect(instances).toHaveLength(3);
    for (const instance of instances) {
      expect(instance.inputs.metadataOptions).toEqual({ httpTokens: "required", httpEndpoint: "enabled" });
      expect(instance.inputs.rootBlockDevice).toEqual({ encrypted: true });
    }
  });

  it("installs the arm64 artifacts on each instance, reached at its public address", () => {
    expect(run.registrations.filter((r) => r.type === CONTAINERD_WORKER_TYPE).map((r) => r.name)).toEqual([
      "worker-0",
      "worker-1",
      "worker-2",
    ]);
    expect(run.byName("worker-1-runc").inputs.create).toContain("/runc.arm64");
    const connection = (run.byName("worker-1-ready").inputs.connection as { value: Record<string, unknown> }).value;
    expect(connection).toMatchObject({ host: "203.0.113.11", user: "ubuntu" });
  });
});
