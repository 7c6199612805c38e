/** EC2 workers with the security defaults turned off by stack config: the config is what the instances get. */
import { beforeAll, describe, expect, it } from "vitest";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { ec2Mocks, loadProgram } from "./programStack";

let run: MockedRun;
beforeAll(async () => {
  let program: typeof import("../index");
  ({ run, program } = await loadProgram(
    {
      workerCount: 2,
      sshCidr: "198.51.100.7/32",
      sshPublicKey: "ssh-ed25519 AAAAC3 test",
      requireImdsv2: false,
      encryptRootVolume: false,
    },
    ec2Mocks({
      architectures: ["x86_64"],
      addressesOf: (index) => ({ publicIp: `203.0.113.${20 + index}`, privateIp: "10.0.0.9" }),
    }),
  ));
  await valueOf(program.runtimeVersion);
  await settle();
});

describe("EC2 workers with requireImdsv2 and encryptRootVolume false", () => {
  it("allow IMDSv1 and leave the root volume unencrypted, as asked", () => {
    const instances = run.registrations.filter((r) => r.type === "aws:ec2/instance:Instance");
    expect(instances.map((i) => i.name)).toEqual(["worker-0-ec2", "worker-1-ec2"]);
    for (const instance of instances) {
      expect(instance.inputs.metadataOptions).toEqual({ httpTokens: "optional", httpEndpoint: "enabled" });
      expect(instance.inputs.rootBlockDevice).toEqual({ encrypted: false });
    }
  });
});
