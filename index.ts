/**
 * The container runtime layer of every worker: EC2 instances created here, or
 * hosts you already have, each given containerd, runc, the CNI plugins and
 * crictl by one ContainerdWorker. The stack outputs are what the kubelet stack reads.
 */
import type * as awsSdk from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ContainerdWorker, setDriftReadConcurrency } from "containerd-worker";
import { InvalidInputError } from "containerd-worker/config";
import { Ec2Workers, ec2WorkerName, instanceArch, readStackConfig } from "./program/stackConfig";

/** Canonical's AWS account, the owner of the official Ubuntu AMIs. */
const CANONICAL_OWNER_ID = "099720109477";

interface WorkerTarget {
  name: string;
  host: pulumi.Input<string>;
  user: string;
  port: number;
}

const config = new pulumi.Config();
/**
 * Whether a key was set with `--secret`: the SDK's own test, which `config.get` uses to warn (the
 * CLI names the secret keys to the program). Not in the SDK's typings; where it is missing, every
 * secret-capable key counts as a secret, the safe side.
 */
const isConfigSecret =
  (pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean }).isConfigSecret ?? (() => true);
const stack = (() => {
  try {
    return readStackConfig({
      get: (key) => config.get(key),
      getNumber: (key) => config.getNumber(key),
      getBoolean: (key) => config.getBoolean(key),
      getObject: (key) => config.getObject(key),
      isSecret: (key) => isConfigSecret(`${config.name}:${key}`),
    });
  } catch (error) {
    if (error instanceof InvalidInputError) throw new pulumi.RunError(`configuration: ${error.message}`);
    throw error;
  }
})();
const sshPrivateKey = config.requireSecret("sshPrivateKey");
/** Every worker's steps and drift probe go through the bastion when there is one. */
const proxy = stack.bastion && {
  host: stack.bastion.address,
  user: stack.bastion.user ?? stack.sshUser,
  port: stack.bastion.port ?? 22,
  privateKey: config.getSecret("bastionPrivateKey") ?? sshPrivateKey,
  hostKey: stack.bastionHostKey,
};

function ec2Targets(ec2: Ec2Workers, user: string): WorkerTarget[] {
  // Loaded only for EC2 workers: a stack of existing hosts skips the AWS SDK's load time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const aws = require("@pulumi/aws") as typeof awsSdk;
  // The instance type decides the CPU: it picks the AMI for `auto`, and must match a fixed arch.
  const amiArch = aws.ec2
    .getInstanceTypeOutput({ instanceType: ec2.instanceType })
    .supportedArchitectures.apply((supported) => {
      try {
        return instanceArch(ec2, supported ?? []);
      } catch (error) {
        if (error instanceof InvalidInputError) throw new pulumi.RunError(`configuration: ${error.message}`);
        throw error;
      }
    });
  const ami = aws.ec2.getAmiOutput({
    mostRecent: true,
    owners: [CANONICAL_OWNER_ID],
    filters: [
      { name: "name", values: [pulumi.interpolate`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${amiArch}-server-*`] },
      { name: "virtualization-type", values: ["hvm"] },
    ],
  });
  const vpcId = ec2.subnetId ? aws.ec2.getSubnetOutput({ id: ec2.subnetId }).vpcId : undefined;
  const securityGroup = new aws.ec2.SecurityGroup("workers-ssh", {
    description: "SSH to the Kubernetes workers for pulumi",
    vpcId,
    ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: [ec2.sshCidr] }],
    egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
  });
  const keyPair = new aws.ec2.KeyPair("workers", { publicKey: ec2.sshPublicKey });
  return Array.from({ length: ec2.count }, (_, index) => {
    const name = ec2WorkerName(index);
    const instance = new aws.ec2.Instance(`${name}-ec2`, {
      ami: ami.id,
      instanceType: ec2.instanceType,
      subnetId: ec2.subnetId,
      vpcSecurityGroupIds: [securityGroup.id],
      keyName: keyPair.keyName,
      // Behind a bastion the workers stay private: reached at their private address through it.
      associatePublicIpAddress: proxy === undefined,
      // IMDSv2 only: a request needs a session token, which a forwarded (SSRF) GET cannot get.
      metadataOptions: { httpTokens: ec2.requireImdsv2 ? "required" : "optional", httpEndpoint: "enabled" },
      rootBlockDevice: { encrypted: ec2.encryptRootVolume },
      tags: { Name: name },
    });
    const host =
      proxy === undefined
        ? pulumi.all([instance.publicIp, instance.privateIp]).apply(([publicIp, privateIp]) => publicIp || privateIp)
        : instance.privateIp;
    return { name, host, user, port: 22 };
  });
}

const targets: WorkerTarget[] =
  stack.workers.kind === "hosts"
    ? stack.workers.hosts.map((host) => ({
        name: host.name,
        host: host.address,
        user: host.user ?? stack.sshUser,
        port: host.port ?? 22,
      }))
    : ec2Targets(stack.workers.ec2, stack.sshUser);

/** Which worker a worker waits for under the stack's rollout: the one before it, or the first, in listed order. */
function waitsFor(runtimes: ContainerdWorker[]): ContainerdWorker | undefined {
  if (stack.rollout === "one-at-a-time") return runtimes.at(-1);
  if (stack.rollout === "first-then-rest") return runtimes[0];
  return undefined;
}

/** The options the stack set as secrets, passed on as secrets: they stay secret in every step that carries them. */
const secretOptions = Object.fromEntries(
  [...stack.secretInputs].map((input) => [input, pulumi.secret(stack.options[input])]),
);

setDriftReadConcurrency(stack.driftReadConcurrency);
const runtimes: ContainerdWorker[] = [];
for (const target of targets) {
  const previous = waitsFor(runtimes);
  runtimes.push(
    new ContainerdWorker(target.name, {
      ...stack.options,
      ...secretOptions,
      detectHostDrift: stack.detectHostDrift,
      // With a pinned host key, the steps (pulumi-command) and the drift probe refuse any other key.
      connection: {
        host: target.host,
        user: target.user,
        port: target.port,
        privateKey: sshPrivateKey,
        hostKey: stack.hostKeys[target.name],
        proxy,
      },
      after: previous === undefined ? undefined : [previous],
    }),
  );
}

/** A value every worker must agree on; a worker that disagrees fails the update by name. */
function agreed(what: string, values: pulumi.Output<string>[]): pulumi.Output<string> {
  return pulumi.all(values).apply((all) => {
    const first = all[0];
    const odd = all.findIndex((value) => value !== first);
    if (first === undefined || odd >= 0) {
      throw new pulumi.RunError(
        `workers disagree on ${what}: ${JSON.stringify(all)} (${targets[odd]?.name ?? "none"})`,
      );
    }
    return first;
  });
}

/** Per worker, what its kubelet needs. */
export const workers = pulumi.output(
  Object.fromEntries(
    runtimes.map((runtime, index) => [
      targets[index]?.name ?? String(index),
      {
        host: targets[index]?.host,
        arch: runtime.arch,
        runtimeName: runtime.runtimeName,
        runtimeVersion: runtime.runtimeVersion,
        runtimeVersionReported: runtime.runtimeVersionReported,
        runtimeApiVersion: runtime.runtimeApiVersion,
        runtimeEndpoint: runtime.runtimeEndpoint,
        cgroupDriver: runtime.cgroupDriver,
        sandboxImage: runtime.sandboxImage,
        cniBinDir: runtime.cniBinDir,
        cniConfDir: runtime.cniConfDir,
      },
    ]),
  ),
);
/** The values every worker shares, once. */
export const runtimeEndpoint = agreed(
  "runtimeEndpoint",
  runtimes.map((r) => r.runtimeEndpoint),
);
export const runtimeVersion = agreed(
  "runtimeVersion",
  runtimes.map((r) => r.runtimeVersion),
);
export const cgroupDriver = agreed(
  "cgroupDriver",
  runtimes.map((r) => r.cgroupDriver),
);
export const sandboxImage = agreed(
  "sandboxImage",
  runtimes.map((r) => r.sandboxImage),
);
export const cniBinDir = agreed(
  "cniBinDir",
  runtimes.map((r) => r.cniBinDir),
);
export const cniConfDir = agreed(
  "cniConfDir",
  runtimes.map((r) => r.cniConfDir),
);
