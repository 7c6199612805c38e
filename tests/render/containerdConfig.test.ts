import * as TOML from "@iarna/toml";
import { describe, expect, it } from "vitest";
import { renderContainerdConfig } from "../../components/render/containerdConfig";

type Table = Record<string, unknown>;
function at(doc: Table, ...path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Table | undefined)?.[key], doc);
}

const CRI_2X_RUNTIME = ["plugins", "io.containerd.cri.v1.runtime"];
const CRI_1X = ["plugins", "io.containerd.grpc.v1.cri"];

describe("renderContainerdConfig parses back to the keys of the chosen version's schema", () => {
  it.each([
    { version: "2.3.1", schema: 4, binDirs: true },
    { version: "2.2.0", schema: 3, binDirs: true },
    { version: "2.1.9", schema: 3, binDirs: true },
    { version: "2.0.5", schema: 3, binDirs: false },
  ])("containerd $version: config version $schema", ({ version, schema, binDirs }) => {
    for (const systemdCgroup of [true, false]) {
      const rendered = renderContainerdConfig({
        containerdVersion: version,
        sandboxImage: "registry.k8s.io/pause:3.10.2",
        systemdCgroup,
      });
      const doc = TOML.parse(rendered.text) as Table;
      expect(rendered.schema).toBe(schema);
      expect(doc.version).toBe(schema);
      expect(at(doc, "plugins", "io.containerd.cri.v1.images", "pinned_images", "sandbox")).toBe(
        "registry.k8s.io/pause:3.10.2",
      );
      const runc = [...CRI_2X_RUNTIME, "containerd", "runtimes", "runc"];
      expect(at(doc, ...runc, "runtime_type")).toBe("io.containerd.runc.v2");
      expect(at(doc, ...runc, "options")).toEqual({ SystemdCgroup: systemdCgroup, BinaryName: "/usr/local/sbin/runc" });
      expect(at(doc, ...CRI_2X_RUNTIME, "cni")).toEqual(
        binDirs
          ? { bin_dirs: ["/opt/cni/bin"], conf_dir: "/etc/cni/net.d" }
          : { bin_dir: "/opt/cni/bin", conf_dir: "/etc/cni/net.d" },
      );
      // Always set, so that registries come and go without a restart.
      expect(at(doc, "plugins", "io.containerd.cri.v1.images", "registry", "config_path")).toBe(
        "/etc/containerd/certs.d",
      );
      // Nothing of the 1.x layout, which 2.x would silently ignore.
      expect(at(doc, ...CRI_1X)).toBeUndefined();
    }
  });

  it("containerd 1.7: config version 2, everything under io.containerd.grpc.v1.cri", () => {
    const rendered = renderContainerdConfig({
      containerdVersion: "1.7.24",
      sandboxImage: "registry.k8s.io/pause:3.10.2",
      systemdCgroup: true,
    });
    const doc = TOML.parse(rendered.text) as Table;
    expect(doc.version).toBe(2);
    expect(at(doc, ...CRI_1X, "sandbox_image")).toBe("registry.k8s.io/pause:3.10.2");
    expect(at(doc, ...CRI_1X, "containerd", "runtimes", "runc", "runtime_type")).toBe("io.containerd.runc.v2");
    expect(at(doc, ...CRI_1X, "containerd", "runtimes", "runc", "options")).toEqual({
      SystemdCgroup: true,
      BinaryName: "/usr/local/sbin/runc",
    });
    expect(at(doc, ...CRI_1X, "cni")).toEqual({ bin_dir: "/opt/cni/bin", conf_dir: "/etc/cni/net.d" });
    expect(at(doc, ...CRI_1X, "registry", "config_path")).toBe("/etc/containerd/certs.d");
    expect(at(doc, "plugins", "io.containerd.cri.v1.images")).toBeUndefined();
  });

  it("an image reference with a digest survives TOML quoting", () => {
    const image = `registry.k8s.io/pause:3.10.2@sha256:${"a".repeat(64)}`;
    const doc = TOML.parse(
      renderContainerdConfig({ containerdVersion: "2.3.1", sandboxImage: image, systemdCgroup: true }).text,
    ) as Table;
    expect(at(doc, "plugins", "io.containerd.cri.v1.images", "pinned_images", "sandbox")).toBe(image);
  });

  it.each([
    ["1.7.24", ["sandbox_image = 'pause:1'", 'sandbox_image = "pause:1"'], ['[plugins."io.containerd.grpc.v1.cri"]']],
    [
      "2.1.9",
      ["sandbox = 'pause:1'", 'sandbox = "pause:1"'],
      [
        "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
        '[plugins."io.containerd.cri.v1.images".pinned_images]',
      ],
    ],
  ])("containerd %s: config dump must show the sandbox image under its table", (version, lines, headers) => {
    const rendered = renderContainerdConfig({
      containerdVersion: version,
      sandboxImage: "pause:1",
      systemdCgroup: false,
    });
    expect(rendered.dumpExpectations).toContainEqual(
      expect.objectContaining({ headers: expect.arrayContaining(headers) as unknown, lines }),
    );
    expect(rendered.dumpExpectations).toContainEqual(expect.objectContaining({ lines: ["SystemdCgroup = false"] }));
    expect(rendered.dumpExpectations).toContainEqual(
      expect.objectContaining({ key: expect.stringMatching(/registry\.config_path$/) as unknown }),
    );
  });

  it.each(["1.7.24", "2.0.5", "2.1.9", "2.3.1"])(
    "containerd %s: every rendered key but version is checked in the dump",
    (version) => {
      const rendered = renderContainerdConfig({
        containerdVersion: version,
        sandboxImage: "pause:1",
        systemdCgroup: true,
      });
      const doc = TOML.parse(rendered.text) as Table;
      const leaves = (table: Table, at: string[] = []): string[][] =>
        Object.entries(table).flatMap(([key, value]) =>
          typeof value === "object" && !Array.isArray(value) ? leaves(value as Table, [...at, key]) : [[...at, key]],
        );
      const keys = rendered.dumpExpectations.map((e) => e.key);
      expect(keys).toHaveLength(leaves(doc).length - 1);
      for (const path of leaves(doc).filter((p) => p.join(".") !== "version")) {
        expect(keys).toContain(path.map((k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k))).join("."));
      }
    },
  );
});

describe("extraConfig keys JavaScript objects treat specially (found by tests/hostileInput.test.ts)", () => {
  it("__proto__ and constructor are keys of the file, and nothing else changes", () => {
    // As the program's stack config parses it: JSON.parse makes __proto__ an own key.
    const extraConfig = JSON.parse(
      '{"timeouts": {"__proto__": "1s", "constructor": "2s"}, "proxy_plugins": {"__proto__": {"type": "snapshot", "address": "/run/p.sock"}}}',
    ) as Table;
    const rendered = renderContainerdConfig({
      containerdVersion: "2.3.1",
      sandboxImage: "pause:3.9",
      systemdCgroup: true,
      settings: { extraConfig: extraConfig as never },
    });
    expect(rendered.text).toContain('[timeouts]\n__proto__ = "1s"\nconstructor = "2s"\n');
    expect(rendered.text).toContain('[proxy_plugins.__proto__]\ntype = "snapshot"\naddress = "/run/p.sock"\n');
    // Before, a __proto__ table was Object.prototype itself, and its keys were set there.
    expect(({} as Table).type).toBeUndefined();
    expect(({} as Table).address).toBeUndefined();
  });
});
