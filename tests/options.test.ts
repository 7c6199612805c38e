import { describe, expect, it } from "vitest";
import { checkConnection, InvalidInputError, resolveOptions } from "../components/options";

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
      containerdSettings: {},
    });
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

  it.each([
    ["versions.crictl", { versions: { crictl: "1.36" } }],
    ["versions.cni", { versions: { cni: "v1.9.1-x y" } }],
    ["arch", { arch: "x86_64" }],
    ["sandboxImage", { sandboxImage: "Registry.k8s.io/Pause:3.10" }],
    ["sandboxImage", { sandboxImage: "pause:" }],
    ["systemdCgroup", { systemdCgroup: "yes" as unknown as boolean }],
    ["downloadBaseUrl", { downloadBaseUrl: "github.com" }],
    ["downloadBaseUrl", { downloadBaseUrl: "https://mirror.example/?token=1" }],
    ["checksums.runc", { checksums: { runc: "z".repeat(64) } }],
  ])("rejects %s", (input, args) => {
    try {
      resolveOptions(args);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).input).toBe(input);
    }
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
  ])("%j", (connection, error) => {
    if (error) expect(() => checkConnection(connection)).toThrow(error);
    else expect(() => checkConnection(connection)).not.toThrow();
  });
});
