/**
 * Secrets set in the stack config stay secret: every secret-capable value set with `--secret` is
 * a canary, and no canary may appear in a resource input that is not secret, a stack output or a
 * log line. The scripts stay plain text: only the standard inputs that carry a canary are secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { InvalidInputError } from "../components/inputs/errors";
import { ConfigSource, readStackConfig } from "../program/stackConfig";
import { isSecretValue, MockedRun, settle, valueOf } from "./pulumiMocks";
import { loadProgram } from "./programStack";

const CANARY = {
  url: "canary-url-7c1e",
  proxy: "canary-proxy-52ab",
  header: "canary-header-9f0d",
};

/** Every string in a value that is not inside a secret, object keys included. */
function plainStrings(value: unknown): string[] {
  if (isSecretValue(value)) return [];
  if (typeof value === "string") return [value];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => [key, ...plainStrings(item)]);
}

const logged: string[] = [];
let run: MockedRun;
let program: typeof import("../index");
beforeAll(async () => {
  // What a user sees. (The SDK's own debug lines, shown only with --debug, print every registration's
  // response whole, the SSH key included; they are the SDK's, not this program's.)
  for (const level of ["info", "warn", "error"] as const) {
    vi.spyOn(pulumi.log, level).mockImplementation((message: string) => {
      logged.push(message);
      return Promise.resolve();
    });
  }
  ({ run, program } = await loadProgram(
    {
      hosts: ["worker-a=ubuntu@192.0.2.10"],
      downloadBaseUrl: `https://mirror.internal/${CANARY.url}/gh`,
      httpsProxy: `http://user:${CANARY.proxy}@proxy.internal:3128`,
      httpProxy: "http://proxy.internal:3128",
      registries: {
        "docker.io": {
          mirrors: [{ host: "https://hub.internal", headers: { Authorization: `Bearer ${CANARY.header}` } }],
        },
      },
    },
    {},
    ["downloadBaseUrl", "httpsProxy", "registries"],
  ));
  await valueOf(program.runtimeVersion);
  await settle();
});
afterAll(() => {
  vi.restoreAllMocks();
});

const commands = () => run.registrations.filter((r) => r.type === "command:remote:Command");

describe("secret stack config", () => {
  it("reaches no resource input except as a secret", () => {
    expect(run.registrations.length).toBeGreaterThan(10);
    for (const registration of run.registrations) {
      for (const text of plainStrings(registration.inputs)) {
        for (const canary of Object.values(CANARY)) expect(text, registration.name).not.toContain(canary);
      }
    }
  });

  it("makes secret exactly the standard inputs that carry one; every script stays plain text", () => {
    const secretStdin = commands()
      .filter((r) => isSecretValue(r.inputs.stdin))
      .map((r) => r.name)
      .sort();
    // The install steps read the download base URL, proxy and restart the proxy environment,
    // registries the hosts.toml files, verify a digest of all of them.
    expect(secretStdin).toEqual(
      ["cni-plugins", "containerd", "crictl", "proxy", "registries", "restart", "runc", "verify"].map(
        (id) => `worker-a-${id}`,
      ),
    );
    for (const command of commands()) {
      for (const kind of ["create", "update", "delete"]) {
        const script = command.inputs[kind];
        if (script !== undefined) expect(typeof script, `${command.name} ${kind}`).toBe("string");
      }
    }
    for (const id of ["config", "crictl-yaml", "unit"]) {
      expect(typeof run.byName(`worker-a-${id}`).inputs.stdin).toBe("string");
    }
  });

  it("still carries the real values to the worker, on standard input", () => {
    const stdin = (id: string) => (run.byName(`worker-a-${id}`).inputs.stdin as { value: string }).value;
    expect(stdin("containerd")).toContain(`https://mirror.internal/${CANARY.url}/gh\n`);
    expect(stdin("proxy")).toContain(`HTTPS_PROXY=http://user:${CANARY.proxy}@proxy.internal:3128\n`);
    expect(stdin("registries")).toContain(CANARY.header);
  });

  it("reaches no stack output and no log line", async () => {
    const outputs = await valueOf(
      pulumi.output({
        workers: program.workers,
        runtimeVersion: program.runtimeVersion,
        sandboxImage: program.sandboxImage,
        runtimeEndpoint: program.runtimeEndpoint,
        cgroupDriver: program.cgroupDriver,
        cniBinDir: program.cniBinDir,
        cniConfDir: program.cniConfDir,
      }),
    );
    const text = JSON.stringify(outputs) + logged.join("\n");
    for (const canary of Object.values(CANARY)) expect(text).not.toContain(canary);
  });
});

describe("a secret stack config value that is invalid", () => {
  const source = (values: Record<string, unknown>, secret: string[]): ConfigSource => ({
    get: (key) => values[key] as string | undefined,
    getNumber: () => undefined,
    getBoolean: () => undefined,
    getObject: <T>(key: string) => values[key] as T | undefined,
    isSecret: (key) => secret.includes(key),
  });
  const hosts = ["worker-a=ubuntu@192.0.2.10"];

  it.each([
    ["downloadBaseUrl", `ftp://user:${CANARY.url}@mirror.internal`],
    ["httpProxy", `socks5://user:${CANARY.proxy}@proxy.internal:1080`],
    ["httpsProxy", `http://user:${CANARY.proxy}@proxy internal:3128`],
    ["registries", { "docker.io": { mirrors: [{ host: `https://${CANARY.url}@m`, headers: { A: CANARY.header } }] } }],
  ])("%s: fails as configuration, naming the key, repeating none of it", (key, value) => {
    const read = () => readStackConfig(source({ hosts, [key]: value }, [key]));
    expect(read).toThrow(InvalidInputError);
    try {
      read();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^invalid (downloadBaseUrl|httpProxy|registries)/);
      for (const canary of Object.values(CANARY)) expect(message).not.toContain(canary);
    }
  });
});
