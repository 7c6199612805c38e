/**
 * Issue 10: the program's stack config refuses a control character in every string key it reads,
 * naming the key, before any resource exists; and a hostile host spec or bastion is refused by name
 * or parsed into parts that hold none.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../components/inputs/errors";
import { ConfigSource, readStackConfig } from "../../program/stackConfig";
import { CONTROLS, hostile, withControl } from "../hostile/arbitraries";

const H = hostile("/nonexistent/marker");
const hasControl = (text: string) => new RegExp(CONTROLS.source).test(text);

function source(values: Record<string, unknown>, secretKeys: string[] = []): ConfigSource {
  return {
    get: (key) => values[key] as string | undefined,
    getNumber: (key) => values[key] as number | undefined,
    getBoolean: (key) => values[key] as boolean | undefined,
    getObject: <T>(key: string) => values[key] as T | undefined,
    isSecret: (key) => secretKeys.includes(key),
  };
}

const EC2 = { sshCidr: "198.51.100.7/32", sshPublicKey: "ssh-ed25519 AAAA test" };
const HOSTS = { hosts: ["worker-0=ubuntu@203.0.113.10:22"] };
const PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

/**
 * Every string key readStackConfig reads, with a valid value: a text key's value is the string, an
 * object key's holds it at one place (`at`). `workers` is the rest of the config the key needs.
 */
const KEYS: { key: string; valid: unknown; place?: (text: string) => unknown; workers?: object }[] = [
  { key: "arch", valid: "amd64" },
  { key: "sandboxImage", valid: "registry.k8s.io/pause:3.10.2" },
  { key: "downloadBaseUrl", valid: "https://mirror.invalid/gh" },
  ...["containerd", "runc", "cni", "crictl"].flatMap((part) => [
    { key: `${part}Version`, valid: "1.2.3" },
    { key: `${part}Sha256`, valid: "a".repeat(64) },
  ]),
  { key: "httpProxy", valid: "http://proxy.invalid:3128" },
  { key: "httpsProxy", valid: "http://proxy.invalid:3128" },
  {
    key: "noProxy",
    valid: ["localhost"],
    place: (text) => ["localhost", text],
    workers: { ...HOSTS, httpProxy: "http://proxy.invalid:3128" },
  },
  {
    key: "registries",
    valid: {},
    place: (text) => ({ "docker.io": { mirrors: [{ host: "https://m.invalid", headers: { A: text }, caPem: PEM }] } }),
  },
  {
    key: "containerdSettings",
    valid: {},
    place: (text) => ({ extraConfig: { timeouts: { "io.containerd.timeout.shim.load": text } } }),
  },
  { key: "sshUser", valid: "ubuntu" },
  { key: "bastion", valid: "jump@203.0.113.5:22" },
  { key: "rollout", valid: "one-at-a-time" },
  { key: "hosts", valid: HOSTS.hosts, place: (text) => [text], workers: {} },
  { key: "instanceType", valid: "t3.medium", workers: EC2 },
  { key: "sshCidr", valid: EC2.sshCidr, workers: { sshPublicKey: EC2.sshPublicKey } },
  { key: "sshPublicKey", valid: EC2.sshPublicKey, workers: { sshCidr: EC2.sshCidr } },
  { key: "subnetId", valid: "subnet-0123", workers: EC2 },
];

/** The value of a key with `text` where its string goes. */
const valueWith = (entry: (typeof KEYS)[number], text: string) => (entry.place ? entry.place(text) : text);
const isUnder = (input: string, key: string) =>
  input === key || input.startsWith(`${key}.`) || input.startsWith(`${key}[`) || input === `${key} key`;

describe("readStackConfig refuses control characters in every string key, naming the key", () => {
  it("every key is read (the valid values are accepted)", () => {
    for (const entry of KEYS) {
      const config = source({ ...(entry.workers ?? HOSTS), [entry.key]: entry.valid });
      expect(() => readStackConfig(config), entry.key).not.toThrow();
    }
  });

  it.each(KEYS.map((entry) => [entry.key, entry] as const))("%s", (key, entry) => {
    const base = typeof entry.valid === "string" ? fc.constant(entry.valid) : H.text();
    fc.assert(
      fc.property(withControl(base), fc.boolean(), (text, secret) => {
        const config = source({ ...(entry.workers ?? HOSTS), [key]: valueWith(entry, text) }, secret ? [key] : []);
        let error: unknown;
        try {
          readStackConfig(config);
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(InvalidInputError);
        const { input, detail } = error as InvalidInputError;
        expect(isUnder(input, key), `${input} names ${key}`).toBe(true);
        expect(detail).toMatch(/control character/);
        // A secret key's error is its name alone: a path below it could repeat its text.
        if (secret) expect(input).toBe(key);
      }),
      { numRuns: 25 },
    );
  });
});

describe("hostile host specs and bastions", () => {
  it.each(["hosts", "bastion"] as const)(
    "%s: refused by name, or parsed into parts without a control character",
    (key) => {
      const spec = fc.oneof(
        H.anyText,
        fc
          .tuple(H.anyText, H.anyText, fc.constantFrom("", ":22", ":0", ":x"))
          .map(([user, address, port]) => `${user}@${address}${port}`),
      );
      fc.assert(
        fc.property(spec, (text) => {
          const values = key === "hosts" ? { hosts: [`w=${text}`] } : { ...HOSTS, bastion: text };
          let read;
          try {
            read = readStackConfig(source(values));
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidInputError);
            expect(isUnder((error as InvalidInputError).input, key)).toBe(true);
            return;
          }
          const parts =
            key === "hosts" && read.workers.kind === "hosts" ? read.workers.hosts[0] : (read.bastion ?? undefined);
          expect(parts).toBeDefined();
          for (const part of [parts?.address, parts?.user]) expect(hasControl(part ?? "")).toBe(false);
        }),
        { numRuns: 200 },
      );
    },
  );
});
