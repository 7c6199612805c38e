/** Loads index.ts under mocks with the given stack config; each test file gets a fresh Pulumi runtime. */
import * as pulumi from "@pulumi/pulumi";
import { installMocks, MockedRun, MockOptions } from "./pulumiMocks";

export const TEST_PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nprogram-test-key\n-----END OPENSSH PRIVATE KEY-----\n";

export function verifyStdout(version: string): string {
  return [
    "Version:  0.1.0",
    "RuntimeName:  containerd",
    `RuntimeVersion:  ${version}`,
    "RuntimeApiVersion:  v1",
    "CgroupDriver:  systemd",
    "LastCNILoadStatus:  cni config load failed: no network config found in /etc/cni/net.d",
  ].join("\n");
}

/** The AMI the mocked lookup answers. */
export const EC2_AMI = "ami-0123456789abcdef0";

/**
 * Mocks for a program that creates EC2 workers: the AMI lookup, the instance type's architectures, each
 * instance's addresses, and the verify step's CRI answer.
 */
export function ec2Mocks(options: {
  /** What aws:ec2/getInstanceType answers the instance type supports. */
  architectures: string[];
  /** The addresses of instance `worker-<index>-ec2`. */
  addressesOf: (index: number) => { publicIp: string; privateIp: string };
  /** What any other invoke answers (e.g. a subnet lookup's vpcId). */
  otherCalls?: Record<string, unknown>;
}): MockOptions {
  return {
    call: (token) => {
      if (token === "aws:ec2/getAmi:getAmi") return { id: EC2_AMI };
      if (token === "aws:ec2/getInstanceType:getInstanceType") return { supportedArchitectures: options.architectures };
      return options.otherCalls ?? {};
    },
    outputsFor: (type, name) => {
      if (type === "aws:ec2/instance:Instance") {
        return options.addressesOf(Number(/^worker-(\d+)-ec2$/.exec(name)?.[1]));
      }
      if (type === "command:remote:Command" && name.endsWith("-verify")) return { stdout: verifyStdout("v2.3.1") };
      return {};
    },
  };
}

export async function loadProgram(
  config: Record<string, unknown>,
  mocks: MockOptions = {},
  /** Config keys set as secrets (`pulumi config set --secret`), besides sshPrivateKey. */
  secretKeys: string[] = [],
): Promise<{ run: MockedRun; program: typeof import("../index") }> {
  // The test hosts are documentation addresses: nothing may try to reach them.
  const values: Record<string, string> = {
    "containerd-workers:sshPrivateKey": TEST_PRIVATE_KEY,
    "containerd-workers:detectHostDrift": "false",
  };
  for (const [key, value] of Object.entries(config)) {
    values[`containerd-workers:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  pulumi.runtime.setAllConfig(values, [
    "containerd-workers:sshPrivateKey",
    ...secretKeys.map((key) => `containerd-workers:${key}`),
  ]);
  const run = installMocks({
    outputsFor: (type, name) =>
      type === "command:remote:Command" && name.endsWith("-verify") ? { stdout: verifyStdout("v2.3.1") } : {},
    ...mocks,
  });
  const program = await import("../index");
  return { run, program };
}
