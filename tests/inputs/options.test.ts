import { describe, expect, it } from "vitest";
import { checkConnection, resolveOptions, resolveRegistries } from "../../components/inputs/options";
import { expectInvalidInput } from "../invalidInput";
import { Arch } from "../../components/args/enums";

describe("resolveOptions", () => {
  it("fills in the article's defaults", () => {
    expect(resolveOptions({})).toEqual({
      versions: { containerd: "2.3.1", runc: "1.4.2", cni: "1.9.1", crictl: "1.36.0" },
      arch: "amd64",
      sandboxImage: "registry.k8s.io/pause:3.10.2",
      systemdCgroup: true,
      downloadBaseUrl: "https://github.com",
      checksums: {},
      httpProxy: undefined,
      purgeStateOnDestroy: false,
      staticBuild: false,
      readyTimeoutSeconds: 300,
      registries: {},
      containerdSettings: {},
    });
  });

  it.each([0, 3601, 1.5, "300", -1])("rejects readyTimeoutSeconds %j, naming the range", (value) => {
    expect(() => resolveOptions({ readyTimeoutSeconds: value as number })).toThrow(
      /^invalid readyTimeoutSeconds: .*expected whole seconds from 1 to 3600 \(default 300\)$/,
    );
  });

  it("keeps a proxy only when it names one", () => {
    expect(resolveOptions({ httpProxy: {} }).httpProxy).toBeUndefined();
    expect(resolveOptions({ httpProxy: { http: "http://proxy:3128" } }).httpProxy).toEqual({
      http: "http://proxy:3128",
      https: undefined,
      noProxy: [],
    });
    expect(() => resolveOptions({ httpProxy: { noProxy: ["localhost"] } })).toThrow(/noProxy needs http or https/);
  });

  it("accepts a leading v and surrounding spaces, lower-cases pinned checksums, trims the base URL's slash", () => {
    const options = resolveOptions({
      versions: { containerd: " v2.1.9 " },
      checksums: { runc: "A".repeat(64) },
      downloadBaseUrl: "https://mirror.example/gh/",
    });
    expect(options.versions.containerd).toBe("2.1.9");
    expect(options.checksums).toEqual({ runc: "a".repeat(64) });
    expect(options.downloadBaseUrl).toBe("https://mirror.example/gh");
  });

  it.each([
    "registry.k8s.io/pause:3.10.2",
    "pause:3.10",
    "localhost:5000/k8s/pause:3.10",
    `registry.k8s.io/pause@sha256:${"0".repeat(64)}`,
    `registry.k8s.io/pause:3.10.2@sha256:${"0".repeat(64)}`,
  ])("accepts the pinned image %s", (sandboxImage) => {
    expect(resolveOptions({ sandboxImage }).sandboxImage).toBe(sandboxImage);
  });

  it.each(["amd64", "arm64", "auto"] as const)("accepts arch %s", (arch) => {
    expect(resolveOptions({ arch }).arch).toBe(arch);
  });

  it("staticBuild is a boolean, false by default", () => {
    expect(resolveOptions({}).staticBuild).toBe(false);
    expect(resolveOptions({ staticBuild: true }).staticBuild).toBe(true);
    expect(() => resolveOptions({ staticBuild: "yes" as unknown as boolean })).toThrow(
      'invalid staticBuild: "yes" is not a boolean',
    );
  });

  it("names every allowed arch when one is wrong", () => {
    expect(() => resolveOptions({ arch: "x86_64" as Arch })).toThrow(
      'invalid arch: "x86_64" is not supported; use one of amd64, arm64, auto',
    );
  });

  it.each([
    ["versions.crictl", { versions: { crictl: "1.36" } }],
    ["versions.cni", { versions: { cni: "v1.9.1-x y" } }],
    ["arch", { arch: "x86_64" as Arch }],
    ["sandboxImage", { sandboxImage: "Registry.k8s.io/Pause:3.10" }],
    ["sandboxImage", { sandboxImage: "pause:" }],
    ["systemdCgroup", { systemdCgroup: "yes" as unknown as boolean }],
    ["purgeStateOnDestroy", { purgeStateOnDestroy: "true" as unknown as boolean }],
    ["downloadBaseUrl", { downloadBaseUrl: "github.com" }],
    ["downloadBaseUrl", { downloadBaseUrl: "https://mirror.example/?token=1" }],
    ["checksums.runc", { checksums: { runc: "z".repeat(64) } }],
  ])("rejects %s", (input, args) => {
    expectInvalidInput(() => resolveOptions(args), input);
  });
});

describe("resolveRegistries", () => {
  const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

  it("fills in the mirror capabilities and keeps only the settings given", () => {
    expect(
      resolveRegistries({
        "docker.io": { mirrors: [{ host: "https://mirror.internal" }] },
        "my.registry:5000": {
          server: "https://my.registry:5000",
          mirrors: [{ host: "http://10.0.0.5:5000", headers: { "X-A": "1", "X-B": ["2", "3"] }, skipVerify: true }],
        },
        _default: { mirrors: [{ host: "https://all.internal", caPem: `${PEM}\n${PEM}\n` }] },
      }),
    ).toEqual({
      "docker.io": { mirrors: [{ host: "https://mirror.internal", capabilities: ["pull", "resolve"] }] },
      "my.registry:5000": {
        server: "https://my.registry:5000",
        mirrors: [
          {
            host: "http://10.0.0.5:5000",
            capabilities: ["pull", "resolve"],
            headers: { "X-A": ["1"], "X-B": ["2", "3"] },
            skipVerify: true,
          },
        ],
      },
      _default: {
        mirrors: [{ host: "https://all.internal", capabilities: ["pull", "resolve"], caPem: `${PEM}\n${PEM}\n` }],
      },
    });
  });

  const mirror = (settings: Record<string, unknown>) => ({
    "docker.io": { mirrors: [{ host: "https://m", ...settings }] },
  });

  it.each([
    ["registries", ["docker.io"], /not an object keyed by registry host/],
    ['registries["docker.io/library"]', { "docker.io/library": { server: "https://x" } }, /registry host\[:port\]/],
    ['registries["../etc"]', { "../etc": { server: "https://x" } }, /or _default/],
    ['registries["docker.io"]', { "docker.io": {} }, /sets neither server nor mirrors/],
    ['registries["docker.io"]', { "docker.io": "https://mirror" }, /not an object like \{ mirrors/],
    [
      'registries["docker.io"].endpoint',
      { "docker.io": { endpoint: ["x"] } },
      /unknown setting; the settings are server, mirrors/,
    ],
    ['registries["docker.io"].server', { "docker.io": { server: "registry-1.docker.io" } }, /http\(s\) URL/],
    ['registries["docker.io"].mirrors', { "docker.io": { mirrors: { host: "https://m" } } }, /not a list/],
    ['registries["docker.io"].mirrors[0]', { "docker.io": { mirrors: ["https://m"] } }, /not an object like/],
    ['registries["docker.io"].mirrors[0].host', mirror({ host: "ftp://m" }), /http\(s\) URL/],
    ['registries["docker.io"].mirrors[0].host', mirror({ host: "https://user:pw@m" }), /credentials/],
    ['registries["docker.io"].mirrors[0].host', mirror({ host: "https://m/a b" }), /characters a URL may not/],
    ['registries["docker.io"].mirrors[0].skip_verify', mirror({ skip_verify: true }), /unknown setting.*skipVerify/],
    [
      'registries["docker.io"].mirrors[0].capabilities',
      mirror({ capabilities: [] }),
      /non-empty list of one of pull, resolve, push/,
    ],
    [
      'registries["docker.io"].mirrors[0].capabilities[1]',
      mirror({ capabilities: ["pull", "fetch"] }),
      /"fetch" is not allowed/,
    ],
    ['registries["docker.io"].mirrors[0].capabilities[1]', mirror({ capabilities: ["pull", "pull"] }), /each once/],
    ['registries["docker.io"].mirrors[0].skipVerify', mirror({ skipVerify: "yes" }), /not a boolean/],
    ['registries["docker.io"].mirrors[0].overridePath', mirror({ overridePath: 1 }), /not a boolean/],
    ['registries["docker.io"].mirrors[0].caPem', mirror({ caPem: "/etc/ssl/ca.pem" }), /not PEM certificate text/],
    ['registries["docker.io"].mirrors[0].caPem', mirror({ caPem: `${PEM}\nextra` }), /not PEM certificate text/],
    ['registries["docker.io"].mirrors[0].headers', mirror({ headers: ["X-A: 1"] }), /header names to values/],
    ['registries["docker.io"].mirrors[0].headers["X A"]', mirror({ headers: { "X A": "1" } }), /header name/],
    [
      'registries["docker.io"].mirrors[0].headers["X-A"]',
      mirror({ headers: { "X-A": "1\r\nX-B: 2" } }),
      /control characters/,
    ],
    ['registries["docker.io"].mirrors[0].headers["X-A"]', mirror({ headers: { "X-A": [] } }), /non-empty list/],
    [
      'registries["docker.io"].mirrors[1].host',
      { "docker.io": { mirrors: [{ host: "https://m" }, { host: "https://m" }] } },
      /https:\/\/m is listed twice/,
    ],
  ])("rejects %s", (input, registries, message) => {
    expectInvalidInput(() => resolveRegistries(registries), input, message);
  });
});

describe("checkConnection", () => {
  it.each([
    [{ host: "10.0.0.1" }, undefined],
    [{ host: "worker.internal", port: 2222, user: "admin" }, undefined],
    [{ host: "" }, /connection\.host/],
    [{ host: undefined }, /connection\.host/],
    [{ host: "h", port: 0 }, /connection\.port/],
    [{ host: "h", port: 22.5 }, /connection\.port/],
    [{ host: "h", user: "" }, /connection\.user/],
    [{ host: "10.0.1.5", proxy: { host: "bastion.example", port: 2222, user: "ec2-user" } }, undefined],
    [{ host: "h", proxy: { host: " " } }, /invalid connection\.proxy\.host/],
    [{ host: "h", proxy: { host: "b", port: 70000 } }, /invalid connection\.proxy\.port: 70000/],
    [{ host: "h", proxy: { host: "b", user: "" } }, /invalid connection\.proxy\.user/],
    [{ host: "h", proxy: "b" }, /invalid connection\.proxy: "b": expected \{ host/],
  ])("%j", (connection, error) => {
    if (error) expect(() => checkConnection(connection)).toThrow(error);
    else expect(() => checkConnection(connection)).not.toThrow();
  });
});
