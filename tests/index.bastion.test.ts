import { beforeAll, describe, expect, it } from "vitest";
import { sshKeyPair } from "./sshKeyPair";
import { driftReadConcurrency } from "../components/wiring/driftReads";
import { readyDialing } from "../components/inputs/readiness";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { ec2Mocks, loadProgram, TEST_PRIVATE_KEY } from "./programStack";

// EC2 workers in a private subnet, reached through a bastion with a key of its own.
const BASTION_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbastion-test-key\n-----END OPENSSH PRIVATE KEY-----\n";
// Pinned host keys (public halves of keys made for this run): worker-1's and the bastion's.
const WORKER_1_HOST_KEY = sshKeyPair("ed25519").public;
const BASTION_HOST_KEY = sshKeyPair("ed25519").public;

let run: MockedRun;
beforeAll(async () => {
  let program: typeof import("../index");
  ({ run, program } = await loadProgram(
    {
      workerCount: 2,
      subnetId: "subnet-0private",
      sshCidr: "10.0.0.4/32",
      sshPublicKey: "ssh-ed25519 AAAAC3 test",
      bastion: "jump@203.0.113.5:2222",
      bastionPrivateKey: BASTION_KEY,
      readyTimeoutSeconds: 120,
      hostKeys: { "worker-1": WORKER_1_HOST_KEY },
      bastionHostKey: BASTION_HOST_KEY,
      driftReadConcurrency: 4,
    },
    ec2Mocks({
      architectures: ["i386", "x86_64"],
      addressesOf: (index) => ({ publicIp: "", privateIp: `10.0.1.${10 + index}` }),
      otherCalls: { vpcId: "vpc-0123456789abcdef0" },
    }),
  ));
  await valueOf(program.runtimeVersion);
  await settle();
});

const connectionOf = (name: string) => (run.byName(name).inputs.connection as { value: Record<string, unknown> }).value;

describe("the program with a bastion", () => {
  it("gives the EC2 workers no public address", () => {
    for (const name of ["worker-0-ec2", "worker-1-ec2"]) {
      expect(run.byName(name).inputs).toMatchObject({ associatePublicIpAddress: false, subnetId: "subnet-0private" });
    }
  });

  it("reaches every step of every worker at its private address through the bastion, with the bastion's key", () => {
    for (const step of ["ready", "runc", "verify"]) {
      expect(connectionOf(`worker-1-${step}`)).toMatchObject({
        host: "10.0.1.11",
        user: "ubuntu",
        privateKey: TEST_PRIVATE_KEY,
        proxy: { host: "203.0.113.5", user: "jump", port: 2222, privateKey: BASTION_KEY },
      });
    }
  });

  it("pins each worker's host key from hostKeys and the bastion's from bastionHostKey, on every step", () => {
    for (const step of ["ready", "runc", "verify"]) {
      expect(connectionOf(`worker-1-${step}`)).toMatchObject({
        hostKey: WORKER_1_HOST_KEY,
        proxy: { hostKey: BASTION_HOST_KEY },
      });
      // A worker hostKeys does not name accepts any key, as pulumi-command does without one.
      expect(connectionOf(`worker-0-${step}`).hostKey).toBeUndefined();
      expect(connectionOf(`worker-0-${step}`)).toMatchObject({ proxy: { hostKey: BASTION_HOST_KEY } });
    }
  });

  it("bounds the drift reads as driftReadConcurrency says (a bastion takes them all)", () => {
    expect(driftReadConcurrency()).toBe(4);
  });

  it("passes readyTimeoutSeconds to the readiness gate, on both hops", () => {
    const { dialErrorLimit, perDialTimeout } = readyDialing(120);
    expect(connectionOf("worker-0-ready")).toMatchObject({ dialErrorLimit, perDialTimeout, proxy: { dialErrorLimit } });
  });
});
