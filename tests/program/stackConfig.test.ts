import { describe, expect, it } from "vitest";
import { sshKeyPair } from "../sshKeyPair";
import { InvalidInputError } from "../../components/inputs/errors";
import { ConfigSource, instanceArch, parseBastion, parseHostSpec, readStackConfig } from "../../program/stackConfig";

function source(values: Record<string, unknown>): ConfigSource {
  return {
    get: (key) => values[key] as string | undefined,
    getNumber: (key) => values[key] as number | undefined,
    getBoolean: (key) => values[key] as boolean | undefined,
    getObject: <T>(key: string) => values[key] as T | undefined,
  };
}

const EC2 = { sshCidr: "198.51.100.7/32", sshPublicKey: "ssh-ed25519 AAAA test" };

describe("parseHostSpec", () => {
  it.each([
    ["worker-0=10.0.0.5", { name: "worker-0", address: "10.0.0.5", user: undefined, port: undefined }],
    ["worker-1=admin@10.0.0.6:2222", { name: "worker-1", address: "10.0.0.6", user: "admin", port: 2222 }],
    ["w=ubuntu@worker.internal", { name: "w", address: "worker.internal", user: "ubuntu", port: undefined }],
    ["w6=ubuntu@[2001:db8::1]:22", { name: "w6", address: "2001:db8::1", user: "ubuntu", port: 22 }],
  ])("%s", (spec, host) => {
    expect(parseHostSpec(spec, 0)).toEqual(host);
  });

  it.each(["10.0.0.5", "=10.0.0.5", "w=", "w=u@h:99999", "w=u@h:x"])("rejects %s, naming the entry", (spec) => {
    expect(() => parseHostSpec(spec, 3)).toThrow(/hosts\[3\]/);
  });
});

describe("parseBastion", () => {
  it.each([
    ["203.0.113.5", { address: "203.0.113.5", user: undefined, port: undefined }],
    ["ec2-user@bastion.example.com:2222", { address: "bastion.example.com", user: "ec2-user", port: 2222 }],
    ["[2001:db8::5]", { address: "2001:db8::5", user: undefined, port: undefined }],
  ])("%s", (spec, bastion) => {
    expect(parseBastion(spec)).toEqual(bastion);
  });

  it.each(["", "u@", "a@b@c", "h:0", "h:x"])("rejects %j, naming the key", (spec) => {
    expect(() => parseBastion(spec)).toThrow(/^invalid bastion: /);
  });
});

describe("readStackConfig", () => {
  it("reads a bastion and the readiness timeout, for hosts and for EC2 alike", () => {
    for (const workers of [{ hosts: ["a=10.0.1.5"] }, EC2]) {
      const config = readStackConfig(source({ ...workers, bastion: "jump@203.0.113.5", readyTimeoutSeconds: 600 }));
      expect(config.bastion).toEqual({ address: "203.0.113.5", user: "jump", port: undefined });
      expect(config.options.readyTimeoutSeconds).toBe(600);
    }
    expect(readStackConfig(source(EC2)).bastion).toBeUndefined();
  });

  it("takes one address on two ports as two machines", () => {
    expect(readStackConfig(source({ hosts: ["a=10.0.0.1", "b=10.0.0.1:2222"] })).workers).toMatchObject({
      hosts: [{ name: "a" }, { name: "b" }],
    });
  });

  it("uses existing hosts when given, with sshUser as the default user", () => {
    const config = readStackConfig(source({ hosts: ["a=10.0.0.1", "b=root@10.0.0.2:2200"], sshUser: "debian" }));
    expect(config.workers).toEqual({
      kind: "hosts",
      hosts: [
        { name: "a", address: "10.0.0.1", user: undefined, port: undefined },
        { name: "b", address: "10.0.0.2", user: "root", port: 2200 },
      ],
    });
    expect(config.sshUser).toBe("debian");
  });

  it("creates two amd64 EC2 workers by default, t4g for arm64", () => {
    const amd = readStackConfig(source(EC2));
    expect(amd.workers).toEqual({
      kind: "ec2",
      ec2: {
        count: 2,
        instanceType: "t3.medium",
        arch: "amd64",
        subnetId: undefined,
        requireImdsv2: true,
        encryptRootVolume: true,
        ...EC2,
      },
    });
    expect(readStackConfig(source({ ...EC2, arch: "arm64" })).workers).toMatchObject({
      ec2: { instanceType: "t4g.medium", arch: "arm64" },
    });
  });

  it("passes the runtime options through", () => {
    const config = readStackConfig(
      source({
        ...EC2,
        containerdVersion: "2.1.9",
        crictlVersion: "1.35.0",
        systemdCgroup: false,
        sandboxImage: "pause:3.9",
        purgeStateOnDestroy: true,
      }),
    );
    // Only what the stack set (and the checked arch): every other argument keeps the component's default.
    expect(config.options).toEqual({
      versions: { containerd: "2.1.9", crictl: "1.35.0" },
      arch: "amd64",
      sandboxImage: "pause:3.9",
      systemdCgroup: false,
      purgeStateOnDestroy: true,
    });
  });

  it("lets EC2 workers allow IMDSv1 and an unencrypted root volume only when asked", () => {
    expect(readStackConfig(source({ ...EC2, requireImdsv2: false, encryptRootVolume: false })).workers).toMatchObject({
      ec2: { requireImdsv2: false, encryptRootVolume: false },
    });
  });

  it("passes registries through to every worker", () => {
    const registries = { "docker.io": { mirrors: [{ host: "https://mirror.internal" }] } };
    expect(readStackConfig(source({ ...EC2, registries })).options.registries).toEqual(registries);
  });

  it("passes containerdSettings through as the object it holds", () => {
    const settings = { snapshotter: "native", extraConfig: { oom_score: -999 } };
    expect(readStackConfig(source({ ...EC2, containerdSettings: settings })).options.containerdSettings).toEqual(
      settings,
    );
    expect(readStackConfig(source(EC2)).options.containerdSettings).toBeUndefined();
  });

  it("rolls changes out to all workers at once unless asked for one at a time", () => {
    expect(readStackConfig(source(EC2)).rollout).toBe("all-at-once");
    expect(readStackConfig(source({ ...EC2, rollout: "one-at-a-time" })).rollout).toBe("one-at-a-time");
    expect(readStackConfig(source({ ...EC2, rollout: "first-then-rest" })).rollout).toBe("first-then-rest");
  });

  it("bounds the drift reads at 16 at once unless driftReadConcurrency says otherwise", () => {
    expect(readStackConfig(source(EC2)).driftReadConcurrency).toBe(16);
    expect(readStackConfig(source({ ...EC2, driftReadConcurrency: 1 })).driftReadConcurrency).toBe(1);
  });

  it("passes pinned checksums through", () => {
    const sha = "f".repeat(64);
    expect(readStackConfig(source({ ...EC2, runcSha256: sha, crictlSha256: sha })).options.checksums).toEqual({
      runc: sha,
      crictl: sha,
    });
  });

  it.each([
    [{ hosts: ["a=10.0.0.1", "a=10.0.0.2"] }, /hosts: the name a is used twice/],
    [
      { hosts: ["a=10.0.0.1", "b=admin@10.0.0.1:22"] },
      /^invalid hosts: a and b are the same machine, 10\.0\.0\.1:22; list it once$/,
    ],
    [
      { hosts: ["a=Worker.Internal:2222", "b=worker.internal:2222"] },
      /^invalid hosts: a and b are the same machine, worker\.internal:2222/,
    ],
    [
      { hosts: ["a=[2001:db8::1]", "b=[2001:DB8::1]:22"] },
      /^invalid hosts: a and b are the same machine, \[2001:db8::1\]:22/,
    ],
    [{ hosts: "a=10.0.0.1" }, /invalid hosts: expected a list/],
    [{}, /invalid sshCidr: required to create EC2 workers/],
    [{ sshCidr: "0.0.0.0/0" }, /invalid sshPublicKey/],
    [{ ...EC2, sshCidr: "300.1.1.1/32" }, /invalid sshCidr/],
    [{ ...EC2, workerCount: 0 }, /invalid workerCount/],
    [{ ...EC2, arch: "ppc64le" }, /invalid arch/],
    [
      { ...EC2, rollout: "serial" },
      /invalid rollout: "serial" is not one of all-at-once, one-at-a-time, first-then-rest/,
    ],
    [{ ...EC2, driftReadConcurrency: 0 }, /^invalid driftReadConcurrency: 0 is not a whole number from 1 to 1024$/],
    [{ ...EC2, driftReadConcurrency: 2.5 }, /^invalid driftReadConcurrency: 2\.5 is not/],
    [{ ...EC2, driftReadConcurrency: 5000 }, /^invalid driftReadConcurrency: 5000 is not/],
    [{ ...EC2, registries: ["docker.io"] }, /invalid registries: .*not an object keyed by registry host/],
    [
      { ...EC2, registries: { "docker.io": { mirrors: [{ host: "mirror:5000" }] } } },
      /invalid registries\["docker\.io"\]\.mirrors\[0\]\.host: .*http\(s\) URL/,
    ],
  ])("rejects %j", (values, message) => {
    expect(() => readStackConfig(source(values))).toThrow(message);
  });
});

describe("instanceArch: what the EC2 instance type runs", () => {
  it.each([
    ["t4g.medium", "auto", ["arm64"], "arm64"],
    ["t3.medium", "auto", ["i386", "x86_64"], "amd64"],
    ["m7g.large", "arm64", ["arm64"], "arm64"],
    ["c7i.large", "amd64", ["x86_64"], "amd64"],
  ] as const)("%s with arch %s -> %s", (instanceType, arch, supported, expected) => {
    expect(instanceArch({ instanceType, arch }, [...supported])).toBe(expected);
  });

  it.each([
    [
      "a Graviton type for amd64",
      "m7g.large",
      "amd64",
      ["arm64"],
      /m7g\.large runs arm64, not arch amd64; set arch to arm64 or auto/,
    ],
    ["an x86 type for arm64", "t3.medium", "arm64", ["x86_64"], /t3\.medium runs x86_64, not arch arm64/],
    [
      "a type AWS names no arch for",
      "x9.odd",
      "auto",
      [],
      /x9\.odd runs no architecture AWS named; the workers need x86_64 or arm64/,
    ],
  ] as const)("rejects %s, naming instanceType", (_what, instanceType, arch, supported, message) => {
    expect(() => instanceArch({ instanceType, arch }, [...supported])).toThrow(message);
    expect(() => instanceArch({ instanceType, arch }, [...supported])).toThrow(/^invalid instanceType: /);
  });
});

describe("host key pins", () => {
  // Public keys made for this run.
  const workerKey = sshKeyPair("ed25519", { comment: "root@a" }).public;
  const bastionKey = sshKeyPair("ecdsa", { bits: 256 }).public;
  const HOSTS = { hosts: ["a=10.0.1.5", "b=10.0.1.6"] };

  it("reads hostKeys by worker name and bastionHostKey, as given", () => {
    const config = readStackConfig(
      source({ ...HOSTS, bastion: "203.0.113.5", hostKeys: { a: workerKey }, bastionHostKey: bastionKey }),
    );
    expect(config.hostKeys).toEqual({ a: workerKey });
    expect(config.bastionHostKey).toBe(bastionKey);
  });

  it("pins nothing by default", () => {
    const config = readStackConfig(source(HOSTS));
    expect(config.hostKeys).toEqual({});
    expect(config.bastionHostKey).toBeUndefined();
  });

  it("names EC2 workers as the program does", () => {
    expect(readStackConfig(source({ ...EC2, workerCount: 3, hostKeys: { "worker-2": workerKey } })).hostKeys).toEqual({
      "worker-2": workerKey,
    });
  });

  it.each([
    ["a list", { ...HOSTS, hostKeys: [workerKey] }, /^invalid hostKeys: expected an object of worker name to host key/],
    [
      "an unknown worker",
      { ...HOSTS, hostKeys: { c: workerKey } },
      /^invalid hostKeys\.c: no worker is named c; the workers are a, b$/,
    ],
    [
      "a worker EC2 does not create",
      { ...EC2, hostKeys: { "worker-2": workerKey } },
      /^invalid hostKeys\.worker-2: no worker is named worker-2/,
    ],
    ["a number", { ...HOSTS, hostKeys: { a: 7 } }, /^invalid hostKeys\.a: expected a public host key line/],
    [
      "two lines",
      { ...HOSTS, hostKeys: { a: `${workerKey}\n${workerKey}` } },
      /^invalid hostKeys\.a: holds a control character/,
    ],
    [
      "a carriage return",
      { ...HOSTS, hostKeys: { a: `${workerKey}\r` } },
      /^invalid hostKeys\.a: holds a control character/,
    ],
    [
      "an escape",
      { ...HOSTS, hostKeys: { a: `\u001b[31m${workerKey}` } },
      /^invalid hostKeys\.a: holds a control character/,
    ],
    [
      "a fingerprint",
      { ...HOSTS, hostKeys: { a: "SHA256:abc" } },
      /^invalid hostKeys\.a: expected a public host key line/,
    ],
    [
      "an unreadable bastion key",
      { ...HOSTS, bastion: "203.0.113.5", bastionHostKey: "ssh-ed25519 AAAA" },
      /^invalid bastionHostKey: expected a public host key line/,
    ],
    [
      "a bastion key without a bastion",
      { ...HOSTS, bastionHostKey: bastionKey },
      /^invalid bastionHostKey: is set but bastion is not$/,
    ],
  ])("refuses %s, naming the key", (_what, values, message) => {
    expect(() => readStackConfig(source(values))).toThrow(InvalidInputError);
    expect(() => readStackConfig(source(values))).toThrow(message);
  });
});
