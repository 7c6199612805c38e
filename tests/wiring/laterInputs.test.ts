import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { ContainerdWorker } from "../../components/containerdWorker";
import { InvalidInputError } from "../../components/inputs/errors";
import { resolveOptions, resolveSecretCapable, SecretCapableInput } from "../../components/inputs/options";
import { WorkerOptionsInput } from "../../components/args/containerdWorkerArgs";
import { isDeepPlain, resolveLaterInputs, secretStdinSteps } from "../../components/wiring/laterInputs";
import { planWorker } from "../../components/plan/workerPlan";
import { installMocks, isSecretValue, MockedRun, settle, valueOf } from "../pulumiMocks";
import { expectInvalidInput } from "../invalidInput";
import { legacyHeaders } from "../legacyInputs";

const CANARY = "canary-5e77b2";

let run: MockedRun;
beforeAll(() => {
  run = installMocks({
    outputsFor: (type, name) =>
      type === "command:remote:Command" && name.endsWith("-verify")
        ? {
            stdout:
              "RuntimeName:  containerd\nRuntimeVersion:  v2.3.1\nRuntimeApiVersion:  v1\nCgroupDriver:  systemd\nLastCNILoadStatus:  ok\n",
          }
        : {},
  });
});

describe("isDeepPlain", () => {
  it.each([
    ["a string", "x", true],
    ["nested plain objects", { a: [{ b: "c" }] }, true],
    ["an Output", pulumi.output("x"), false],
    ["an Output deep inside", { a: [{ b: pulumi.secret("c") }] }, false],
    ["a Promise", Promise.resolve("x"), false],
  ])("%s: %s", (_what, value, plain) => {
    expect(isDeepPlain(value)).toBe(plain);
  });
});

describe("URL inputs with credentials", () => {
  it.each([
    ["downloadBaseUrl", { downloadBaseUrl: `https://user:${CANARY}@mirror.internal` }],
    ["downloadBaseUrl", { downloadBaseUrl: `https://:${CANARY}@mirror.internal` }],
    ["httpProxy.http", { httpProxy: { http: `http://user:${CANARY}@proxy:3128` } }],
  ])("are refused as plain text, naming %s and the fix, never the credentials", (input, given) => {
    const error = expectInvalidInput(
      () => resolveSecretCapable(given),
      input,
      /carries credentials: give .* as a secret/,
    );
    expect(error.message).not.toContain(CANARY);
  });

  it("are accepted from a secret", () => {
    const secret = new Set<SecretCapableInput>(["downloadBaseUrl", "httpProxy"]);
    const resolved = resolveSecretCapable(
      { downloadBaseUrl: `https://:${CANARY}@mirror.internal`, httpProxy: { http: `http://u:${CANARY}@proxy:3128` } },
      secret,
    );
    expect(resolved.downloadBaseUrl).toBe(`https://:${CANARY}@mirror.internal`);
    expect(resolved.httpProxy?.http).toBe(`http://u:${CANARY}@proxy:3128`);
  });

  it("are never allowed in a registry URL", () => {
    expect(() =>
      resolveSecretCapable(
        { registries: { "docker.io": { server: `https://u:${CANARY}@hub` } } },
        new Set(["registries"]),
      ),
    ).toThrow(/carries credentials; none are allowed here/);
  });

  it("an error about a secret input repeats none of its text", () => {
    const headers = { Authorization: `Bearer ${CANARY}\u0001` };
    for (const given of [
      { downloadBaseUrl: `ftp://${CANARY}.internal/x` },
      { registries: { "docker.io": { mirrors: [{ host: "https://m", headers }] } } },
      { registries: { "docker.io": { server: `https://m/${CANARY}?query` } } },
    ]) {
      const secret = new Set(Object.keys(given) as SecretCapableInput[]);
      expect(() => resolveSecretCapable(given, secret)).toThrow(InvalidInputError);
      expect(() => resolveSecretCapable(given, secret)).not.toThrow(new RegExp(CANARY));
    }
  });
});

describe("an error about a secret input (found by tests/hostileInput.test.ts)", () => {
  it.each([
    [{ httpProxy: { http: "p" } }, "httpProxy.http"],
    [{ httpProxy: { https: "not a url" } }, "httpProxy.https"],
    [{ httpProxy: { http: "http://proxy.invalid:3128", noProxy: ["a b"] } }, "httpProxy.noProxy"],
    [{ downloadBaseUrl: "d" }, "downloadBaseUrl"],
    [{ registries: { "docker.io": { server: "s" } } }, 'registries["(secret)"].server'],
    [{ registries: { "docker.io": { mirrors: [{ host: "h" }] } } }, 'registries["(secret)"].mirrors[0].host'],
  ] as const)("still names the input, whatever short text the secret holds: %j", (given, input) => {
    const secret = new Set(Object.keys(given) as SecretCapableInput[]);
    try {
      resolveSecretCapable(given, secret);
      expect.unreachable();
    } catch (error) {
      expect((error as InvalidInputError).input).toBe(input);
    }
  });
});

describe("resolveLaterInputs", () => {
  const check = <T>(resolve: () => T): T => resolve();

  it("notes which inputs were secrets and hands on their checked values, unsecreted", async () => {
    const resolved = resolveLaterInputs(
      { downloadBaseUrl: pulumi.secret("https://mirror.internal/gh/"), httpProxy: { http: "http://proxy:3128" } },
      check,
    );
    expect(await pulumi.isSecret(resolved)).toBe(false);
    const value = await valueOf(resolved);
    expect(value.secret).toEqual(["downloadBaseUrl"]);
    expect(value.values.downloadBaseUrl).toBe("https://mirror.internal/gh");
    expect(value.values.httpProxy).toEqual({ http: "http://proxy:3128", https: undefined, noProxy: [] });
  });

  it("a secret nested in an input makes the whole input secret", async () => {
    const resolved = resolveLaterInputs({ httpProxy: { https: pulumi.secret(`http://u:${CANARY}@p:1`) } }, check);
    expect((await valueOf(resolved)).secret).toEqual(["httpProxy"]);
  });

  it("fails with the input's name once the value is known, repeating no secret", async () => {
    let caught: unknown;
    const record = <T>(resolve: () => T): T => {
      try {
        return resolve();
      } catch (error) {
        caught = error;
        return undefined as T;
      }
    };
    await valueOf(resolveLaterInputs({ downloadBaseUrl: pulumi.secret(`ftp://u:${CANARY}@mirror`) }, record));
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as Error).message).toMatch(/^invalid downloadBaseUrl: \(a secret\) is not an http\(s\) URL/);
    expect((caught as Error).message).not.toContain(CANARY);
  });
});

describe("secretStdinSteps", () => {
  const options = resolveOptions({});
  const installs = ["runc", "containerd", "cni-plugins", "crictl"];
  it.each([
    ["downloadBaseUrl", { downloadBaseUrl: "https://m.internal/gh" }, [...installs, "verify"]],
    ["httpProxy", { httpProxy: { http: "http://p:1" } }, ["proxy", "restart", "verify"]],
    ["registries", { registries: { "docker.io": { server: "https://hub.internal" } } }, ["registries", "verify"]],
  ] as const)("a secret %s is carried by exactly these steps' standard input", (name, given, steps) => {
    const values = resolveSecretCapable(given);
    const carrying = secretStdinSteps("w", options, { values, secret: [name] }, "amd64");
    expect([...carrying].sort()).toEqual([...steps].sort());
  });

  it("no script depends on a secret-capable input: each travels only on standard input", () => {
    const scripts = (given: WorkerOptionsInput) => {
      const plan = resolveOptions(given);
      return JSON.stringify(
        planWorker("w", plan).steps.map(({ create, update, delete: remove }) => [create, update, remove]),
      );
    };
    const plain = scripts({});
    expect(scripts({ downloadBaseUrl: "https://m.internal/gh" })).toBe(plain);
    expect(scripts({ httpProxy: { https: "http://p:1", noProxy: ["localhost"] } })).toBe(plain);
    expect(
      scripts({
        registries: { "docker.io": { mirrors: [{ host: "https://m", headers: legacyHeaders({ A: "b" }) }] } },
      }),
    ).toBe(plain);
  });
});

describe("a ContainerdWorker given secrets", () => {
  it("makes only the standard inputs that carry them secret, and plans the same scripts", async () => {
    const connection = { host: "203.0.113.20", user: "ubuntu" };
    const plain = new ContainerdWorker("plain-proxy", {
      connection,
      detectHostDrift: false,
      httpProxy: { http: "http://proxy.internal:3128" },
    });
    const secret = new ContainerdWorker("secret-proxy", {
      connection: { ...connection, host: "203.0.113.21" },
      detectHostDrift: false,
      httpProxy: { http: pulumi.secret("http://proxy.internal:3128") },
    });
    await Promise.all([valueOf(plain.runtimeVersion), valueOf(secret.runtimeVersion)]);
    await settle();
    const secretStdin = run.registrations
      .filter((r) => r.parent === "secret-proxy" && isSecretValue(r.inputs.stdin))
      .map((r) => r.name)
      .sort();
    expect(secretStdin).toEqual(["secret-proxy-proxy", "secret-proxy-restart", "secret-proxy-verify"]);
    for (const id of ["containerd", "proxy", "restart", "verify", "unit"]) {
      const a = run.byName(`plain-proxy-${id}`).inputs;
      const b = run.byName(`secret-proxy-${id}`).inputs;
      for (const kind of ["create", "update", "delete"]) {
        const same = (text: unknown) =>
          String(text)
            .replaceAll("secret-proxy", "plain-proxy")
            .replace(/SCRIPT_[0-9a-f]+/g, "SCRIPT_");
        expect(same(b[kind]), `${id} ${kind}`).toBe(same(a[kind]));
      }
    }
    expect((run.byName("secret-proxy-proxy").inputs.stdin as { value: string }).value).toBe(
      run.byName("plain-proxy-proxy").inputs.stdin,
    );
  });
});

describe("proxy URLs", () => {
  it.each(["http://u:p'w@proxy:3128", "http://u:pa$$@proxy:3128"])(
    "%s: refused, as systemd's environment file would change it",
    (http) => {
      expect(() => resolveSecretCapable({ httpProxy: { http } }, new Set(["httpProxy"]))).toThrow(
        /invalid httpProxy\.http: holds ' or \$/,
      );
    },
  );
});
