import { describe, expect, it } from "vitest";
import { artifactFor, configSchemaFor, DEFAULT_VERSIONS, PARTS } from "../../components/catalog/catalog";

const GITHUB = "https://github.com";

describe("artifactFor: the upstream release layout for each part and arch", () => {
  it.each([
    [
      "containerd",
      "amd64",
      "https://github.com/containerd/containerd/releases/download/v2.3.1/containerd-2.3.1-linux-amd64.tar.gz",
      "https://github.com/containerd/containerd/releases/download/v2.3.1/containerd-2.3.1-linux-amd64.tar.gz.sha256sum",
      "named-line",
    ],
    [
      "containerd",
      "arm64",
      "https://github.com/containerd/containerd/releases/download/v2.3.1/containerd-2.3.1-linux-arm64.tar.gz",
      "https://github.com/containerd/containerd/releases/download/v2.3.1/containerd-2.3.1-linux-arm64.tar.gz.sha256sum",
      "named-line",
    ],
    [
      "runc",
      "amd64",
      "https://github.com/opencontainers/runc/releases/download/v1.4.2/runc.amd64",
      "https://github.com/opencontainers/runc/releases/download/v1.4.2/runc.sha256sum",
      "named-line",
    ],
    [
      "runc",
      "arm64",
      "https://github.com/opencontainers/runc/releases/download/v1.4.2/runc.arm64",
      "https://github.com/opencontainers/runc/releases/download/v1.4.2/runc.sha256sum",
      "named-line",
    ],
    [
      "cni",
      "amd64",
      "https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz",
      "https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz.sha256",
      "named-line",
    ],
    [
      "cni",
      "arm64",
      "https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-arm64-v1.9.1.tgz",
      "https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-arm64-v1.9.1.tgz.sha256",
      "named-line",
    ],
    [
      "crictl",
      "amd64",
      "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz",
      "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz.sha256",
      "bare-hex",
    ],
    [
      "crictl",
      "arm64",
      "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-arm64.tar.gz",
      "https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-arm64.tar.gz.sha256",
      "bare-hex",
    ],
  ] as const)("%s %s", (part, arch, url, checksumUrl, format) => {
    const artifact = artifactFor(part, DEFAULT_VERSIONS[part], arch, GITHUB);
    expect(artifact.url).toBe(url);
    expect(artifact.checksumUrl).toBe(checksumUrl);
    expect(artifact.checksumFormat).toBe(format);
    expect(url.endsWith(`/${artifact.fileName}`)).toBe(true);
  });

  it.each(["amd64", "arm64"] as const)("staticBuild picks containerd's static release for %s", (arch) => {
    const artifact = artifactFor("containerd", "2.3.1", arch, GITHUB, { staticBuild: true });
    expect(artifact.url).toBe(
      `https://github.com/containerd/containerd/releases/download/v2.3.1/containerd-static-2.3.1-linux-${arch}.tar.gz`,
    );
    expect(artifact.checksumUrl).toBe(`${artifact.url}.sha256sum`);
    // The static build needs no glibc, so there is nothing to hint at.
    expect(artifact.needsGlibc).toBeUndefined();
    expect(artifactFor("containerd", "2.3.1", arch, GITHUB).needsGlibc).toBe(true);
  });

  it("a mirror base replaces exactly https://github.com and keeps the path", () => {
    for (const part of PARTS) {
      const upstream = artifactFor(part, DEFAULT_VERSIONS[part], "amd64", GITHUB);
      const mirrored = artifactFor(part, DEFAULT_VERSIONS[part], "amd64", "http://10.0.0.5:8080/gh/");
      expect(mirrored.url).toBe(upstream.url.replace(GITHUB, "http://10.0.0.5:8080/gh"));
      expect(mirrored.checksumUrl).toBe(upstream.checksumUrl.replace(GITHUB, "http://10.0.0.5:8080/gh"));
    }
  });

  it("installs where the article puts things", () => {
    expect(artifactFor("runc", "1.4.2", "amd64", GITHUB).packaging).toEqual({
      kind: "binary",
      installAs: "/usr/local/sbin/runc",
    });
    expect(artifactFor("containerd", "2.3.1", "amd64", GITHUB).packaging).toEqual({
      kind: "tarball",
      member: "bin",
      intoDir: "/usr/local/bin",
    });
    expect(artifactFor("cni", "1.9.1", "amd64", GITHUB).packaging).toEqual({
      kind: "tarball",
      member: ".",
      intoDir: "/opt/cni/bin",
    });
    expect(artifactFor("crictl", "1.36.0", "amd64", GITHUB).packaging).toEqual({
      kind: "tarball",
      member: ".",
      intoDir: "/usr/local/bin",
    });
  });
});

describe("configSchemaFor", () => {
  it.each([
    ["1.7.0", 2],
    ["1.7.24", 2],
    ["2.0.0", 3],
    ["2.1.9", 3],
    ["2.2.0", 3],
    ["2.3.0", 4],
    ["2.3.1", 4],
    ["2.9.0", 4],
  ] as const)("containerd %s reads config version %i", (version, schema) => {
    expect(configSchemaFor(version)).toBe(schema);
  });

  it.each(["1.6.30", "0.2.0", "3.0.0"])("containerd %s is refused", (version) => {
    expect(() => configSchemaFor(version)).toThrow(/not supported: use 1\.7\.x or 2\.x/);
  });
});
