import * as TOML from "@iarna/toml";
import { describe, expect, it } from "vitest";
import { renderContainerdConfig } from "../../components/render/containerdConfig";
import { CONTAINERD_SCHEMAS, childSchema, SchemaNode } from "../../components/catalog/containerdSchema";
import { ContainerdSettings } from "../../components/args/containerdSettingsArgs";
import { resolveContainerdSettings } from "../../components/inputs/containerdSettings";
import { expectInvalidInput } from "../invalidInput";

type Table = Record<string, unknown>;
function at(doc: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Table | undefined)?.[key], doc);
}

const BASE = { sandboxImage: "registry.k8s.io/pause:3.10.2", systemdCgroup: true };
const CRI_1X = ["plugins", "io.containerd.grpc.v1.cri"];
const IMAGES = ["plugins", "io.containerd.cri.v1.images"];
const RUNTIME = ["plugins", "io.containerd.cri.v1.runtime"];

const SETTINGS: ContainerdSettings = {
  snapshotter: "native",
  maxContainerLogLineSize: 65536,
  enableUnprivilegedPorts: false,
  enableUnprivilegedIcmp: false,
  deviceOwnershipFromSecurityContext: true,
  discardUnpackedLayers: true,
  runtimes: {
    runsc: {
      runtimeType: "io.containerd.runsc.v1",
      runtimePath: "/usr/local/bin/containerd-shim-runsc-v1",
      podAnnotations: ["dev.gvisor.*"],
      options: { TypeUrl: "io.containerd.runsc.v1.options", ConfigPath: "/etc/containerd/runsc.toml" },
    },
  },
};

/** Where each typed setting must land, by schema. */
function placements(schema: 2 | 3 | 4): [string[], unknown][] {
  const images = schema === 2 ? [...CRI_1X, "containerd"] : IMAGES;
  const runtime = schema === 2 ? CRI_1X : RUNTIME;
  const runsc = [...(schema === 2 ? CRI_1X : RUNTIME), "containerd", "runtimes", "runsc"];
  return [
    [[...images, "snapshotter"], "native"],
    [[...images, "discard_unpacked_layers"], true],
    [[...runtime, "max_container_log_line_size"], 65536],
    [[...runtime, "enable_unprivileged_ports"], false],
    [[...runtime, "enable_unprivileged_icmp"], false],
    [[...runtime, "device_ownership_from_security_context"], true],
    [[...runsc, "runtime_type"], "io.containerd.runsc.v1"],
    [[...runsc, "runtime_path"], "/usr/local/bin/containerd-shim-runsc-v1"],
    [[...runsc, "pod_annotations"], ["dev.gvisor.*"]],
    [[...runsc, "options", "TypeUrl"], "io.containerd.runsc.v1.options"],
    [[...runsc, "options", "ConfigPath"], "/etc/containerd/runsc.toml"],
  ];
}

function schemaAt(schema: 2 | 3 | 4, path: string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = CONTAINERD_SCHEMAS.schemas[schema];
  for (const key of path) {
    if (node === "any") return node;
    node = typeof node === "object" ? childSchema(node, key) : undefined;
  }
  return node;
}

const VERSIONS = [
  { version: "1.7.24", schema: 2 },
  { version: "2.1.9", schema: 3 },
  { version: "2.3.1", schema: 4 },
] as const;

describe("typed settings land where the chosen version reads them", () => {
  it.each(VERSIONS)("containerd $version (config version $schema)", ({ version, schema }) => {
    const options = { containerdVersion: version, ...BASE };
    const settings = resolveContainerdSettings(SETTINGS, options);
    const rendered = renderContainerdConfig({ ...options, settings });
    const doc = TOML.parse(rendered.text);
    for (const [path, value] of placements(schema)) {
      expect(at(doc, path), path.join(".")).toEqual(value);
      // The placement is a key the version's schema has, so containerd does not ignore it.
      expect(schemaAt(schema, path), path.join(".")).toBeDefined();
    }
    // The component's own keys are still there.
    expect(rendered.text).toContain("SystemdCgroup = true");
    expect(rendered.text).toContain("/usr/local/sbin/runc");
  });

  it.each(VERSIONS)("containerd $version: verify checks each setting in the dump, under its table", ({ version }) => {
    const options = { containerdVersion: version, ...BASE };
    const rendered = renderContainerdConfig({ ...options, settings: resolveContainerdSettings(SETTINGS, options) });
    const quoted = (quote: string) => (version.startsWith("1.") ? `"${quote}"` : `'${quote}'`);
    const find = (line: string) => rendered.dumpExpectations.find((e) => e.lines.includes(line));
    expect(find(`snapshotter = ${quoted("native")}`)).toBeDefined();
    expect(find("max_container_log_line_size = 65536")).toBeDefined();
    expect(find("discard_unpacked_layers = true")?.headers.length).toBe(2);
    expect(find(`pod_annotations = [${quoted("dev.gvisor.*")}]`)).toBeDefined();
    expect(find(`TypeUrl = ${quoted("io.containerd.runsc.v1.options")}`)?.headers).toContain(
      version.startsWith("1.")
        ? '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]'
        : "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc.options]",
    );
  });

  it("without settings the file is what it was: only the component's keys", () => {
    const options = { containerdVersion: "2.1.9", ...BASE };
    expect(renderContainerdConfig({ ...options, settings: {} }).text).toBe(renderContainerdConfig(options).text);
  });
});

describe("registries belong to the registries argument", () => {
  it.each([
    [
      "1.7.24",
      { "io.containerd.grpc.v1.cri": { registry: { mirrors: { "docker.io": { endpoint: ["https://m"] } } } } },
    ],
    ["2.1.9", { "io.containerd.cri.v1.images": { registry: { config_path: "/etc/registries" } } }],
  ])("containerd %s: a key of the CRI registry table in extraConfig names the argument to use", (version, plugins) => {
    expect(() =>
      resolveContainerdSettings({ extraConfig: { plugins } }, { containerdVersion: version, ...BASE }),
    ).toThrow(/\.registry\..*: the component sets this key from the registries argument; set that instead/);
  });
});

describe("extraConfig is deep-merged into the rendered file", () => {
  it.each([
    {
      version: "2.1.9",
      extra: {
        plugins: {
          "io.containerd.cri.v1.images": {
            max_concurrent_downloads: 6,
          },
          "io.containerd.cri.v1.runtime": { containerd: { runtimes: { runc: { options: { NoNewKeyring: true } } } } },
          "io.containerd.gc.v1.scheduler": { pause_threshold: 0.03 },
        },
        timeouts: { "io.containerd.timeout.shim.load": "7s" },
        oom_score: -999,
      },
    },
    {
      version: "1.7.24",
      extra: {
        plugins: {
          "io.containerd.grpc.v1.cri": {
            max_concurrent_downloads: 6,
            containerd: { runtimes: { runc: { options: { NoNewKeyring: true } } } },
          },
        },
        oom_score: -999,
      },
    },
    {
      version: "2.3.1",
      extra: {
        plugins: { "io.containerd.server.v1.grpc": { max_recv_message_size: 33554432 } },
        debug: { level: "info" },
      },
    },
  ])("containerd $version", ({ version, extra }) => {
    const options = { containerdVersion: version, ...BASE };
    const rendered = renderContainerdConfig({
      ...options,
      settings: resolveContainerdSettings({ extraConfig: extra }, options),
    });
    const doc = TOML.parse(rendered.text);
    const base = TOML.parse(renderContainerdConfig(options).text);
    const leaves = (table: Table, path: string[] = []): [string[], unknown][] =>
      Object.entries(table).flatMap(([key, value]) =>
        typeof value === "object" && !Array.isArray(value)
          ? leaves(value as Table, [...path, key])
          : [[[...path, key], value] as [string[], unknown]],
      );
    // Every extra key and every key the component renders, side by side.
    for (const [path, value] of [...leaves(extra), ...leaves(base)])
      expect(at(doc, path), path.join(".")).toEqual(value);
    expect(rendered.dumpExpectations.length).toBe(leaves(extra).length + leaves(base).length - 1);
  });

  it("an extra runtime option sits next to the component's runc options", () => {
    const options = { containerdVersion: "2.1.9", ...BASE };
    const extraConfig = {
      plugins: {
        "io.containerd.cri.v1.runtime": { containerd: { runtimes: { runc: { options: { NoNewKeyring: true } } } } },
      },
    };
    const doc = TOML.parse(
      renderContainerdConfig({ ...options, settings: resolveContainerdSettings({ extraConfig }, options) }).text,
    );
    expect(at(doc, [...RUNTIME, "containerd", "runtimes", "runc", "options"])).toEqual({
      SystemdCgroup: true,
      BinaryName: "/usr/local/sbin/runc",
      NoNewKeyring: true,
    });
  });
});

describe("resolveContainerdSettings rejects, naming the input and what is allowed", () => {
  const cases: [string, string, unknown, RegExp][] = [
    ["2.1.9", "containerdSettings", "snapshotter=native", /is not an object of settings/],
    [
      "2.1.9",
      "containerdSettings.snapshoter",
      { snapshoter: "native" },
      /unknown setting; the settings are snapshotter, /,
    ],
    [
      "2.1.9",
      "containerdSettings.snapshotter",
      { snapshotter: "overlay" },
      /not a snapshotter of containerd 2\.1 \(config version 3\): use one of blockfile, btrfs, devmapper, erofs, native, overlayfs, zfs/,
    ],
    [
      "1.7.24",
      "containerdSettings.snapshotter",
      { snapshotter: "erofs" },
      /not a snapshotter of containerd 1\.7 .*aufs/,
    ],
    ["2.1.9", "containerdSettings.snapshotter", { snapshotter: "Stargz!" }, /not a snapshotter name/],
    [
      "2.1.9",
      "containerdSettings.maxContainerLogLineSize",
      { maxContainerLogLineSize: 0 },
      /from 1 to 2147483647, or -1/,
    ],
    ["2.1.9", "containerdSettings.maxContainerLogLineSize", { maxContainerLogLineSize: 1.5 }, /size in bytes/],
    ["2.1.9", "containerdSettings.enableUnprivilegedPorts", { enableUnprivilegedPorts: "yes" }, /is not a boolean/],
    ["2.1.9", "containerdSettings.enableUnprivilegedIcmp", { enableUnprivilegedIcmp: 1 }, /is not a boolean/],
    [
      "2.1.9",
      "containerdSettings.deviceOwnershipFromSecurityContext",
      { deviceOwnershipFromSecurityContext: "true" },
      /is not a boolean/,
    ],
    ["2.1.9", "containerdSettings.discardUnpackedLayers", { discardUnpackedLayers: null }, /is not a boolean/],
    ["2.1.9", "containerdSettings.runtimes", { runtimes: [] }, /not a table of runtimes by name/],
    [
      "2.1.9",
      "containerdSettings.runtimes",
      { runtimes: { "Run SC": { runtimeType: "io.containerd.runsc.v1" } } },
      /not a runtime name \(a DNS label/,
    ],
    [
      "2.1.9",
      "containerdSettings.runtimes.runc",
      { runtimes: { runc: { runtimeType: "io.containerd.runc.v2" } } },
      /runc is the component's own runtime/,
    ],
    ["2.1.9", "containerdSettings.runtimes.kata", { runtimes: { kata: "io.containerd.kata.v2" } }, /is not a table/],
    [
      "2.1.9",
      "containerdSettings.runtimes.kata.type",
      { runtimes: { kata: { runtimeType: "io.containerd.kata.v2", type: 1 } } },
      /unknown setting; the settings are runtimeType, runtimePath, podAnnotations, options/,
    ],
    [
      "2.1.9",
      "containerdSettings.runtimes.kata.runtimeType",
      { runtimes: { kata: {} } },
      /not a shim name such as "io\.containerd\.runsc\.v1"/,
    ],
    [
      "2.1.9",
      "containerdSettings.runtimes.kata.runtimeType",
      { runtimes: { kata: { runtimeType: "kata" } } },
      /not a shim name/,
    ],
    [
      "2.1.9",
      "containerdSettings.runtimes.kata.runtimePath",
      { runtimes: { kata: { runtimeType: "io.containerd.kata.v2", runtimePath: "bin/shim" } } },
      /not an absolute path/,
    ],
    [
      "2.1.9",
      "containerdSettings.runtimes.kata.podAnnotations",
      { runtimes: { kata: { runtimeType: "io.containerd.kata.v2", podAnnotations: "io.katacontainers.*" } } },
      /not a list of strings/,
    ],
    [
      "2.1.9",
      "containerdSettings.runtimes.kata.options",
      { runtimes: { kata: { runtimeType: "io.containerd.kata.v2", options: ["x"] } } },
      /is not a table/,
    ],
    [
      "2.1.9",
      "containerdSettings.runtimes.kata.options.ConfigPath",
      { runtimes: { kata: { runtimeType: "io.containerd.kata.v2", options: { ConfigPath: { a: 1 } } } } },
      /an option is a name such as BinaryName/,
    ],
    ["2.1.9", "containerdSettings.extraConfig", { extraConfig: "[plugins]" }, /is not a table/],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.grpc.v1.cri".containerd.snapshotter',
      { extraConfig: { plugins: { "io.containerd.grpc.v1.cri": { containerd: { snapshotter: "native" } } } } },
      /: containerd 2\.1 \(config version 3\) has no such key; it lives at plugins\."io\.containerd\.cri\.v1\.images"\.snapshotter \(also /,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.grpc.v1.cri".sandbox_image',
      { extraConfig: { plugins: { "io.containerd.grpc.v1.cri": { sandbox_image: "pause:1" } } } },
      /has no such key; it lives at plugins\."io\.containerd\.cri\.v1\.images"\.pinned_images\.sandbox$/,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options.SystemdCgroup',
      {
        extraConfig: {
          plugins: {
            "io.containerd.grpc.v1.cri": { containerd: { runtimes: { runc: { options: { SystemdCgroup: true } } } } },
          },
        },
      },
      /has no such key; it lives at plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.runc\.options\.SystemdCgroup$/,
    ],
    [
      "1.7.24",
      'containerdSettings.extraConfig.plugins."io.containerd.cri.v1.images".snapshotter',
      { extraConfig: { plugins: { "io.containerd.cri.v1.images": { snapshotter: "native" } } } },
      /containerd 1\.7 \(config version 2\) has no such key; it lives at plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.snapshotter/,
    ],
    [
      "2.3.1",
      "containerdSettings.extraConfig.grpc.address",
      { extraConfig: { grpc: { address: "/run/c.sock" } } },
      /containerd 2\.3 \(config version 4\) has no such key; it lives at plugins\."io\.containerd\.server\.v1\.grpc"\.address/,
    ],
    [
      "2.1.9",
      "containerdSettings.extraConfig.grpc.adress",
      { extraConfig: { grpc: { adress: "/x" } } },
      /has no such key$/,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.cri.v1.runtime".max_container_log_line_size',
      { extraConfig: { plugins: { "io.containerd.cri.v1.runtime": { max_container_log_line_size: "16k" } } } },
      /reads a number here, not "16k"/,
    ],
    ["2.1.9", "containerdSettings.extraConfig.grpc", { extraConfig: { grpc: "/x" } }, /reads a table here/],
    [
      "2.1.9",
      "containerdSettings.extraConfig.oom_score",
      { extraConfig: { oom_score: { a: 1 } } },
      /reads a number here/,
    ],
    ["2.1.9", "containerdSettings.extraConfig.oom_score", { extraConfig: { oom_score: null } }, /is not a TOML value/],
    [
      "2.1.9",
      "containerdSettings.extraConfig.oom_score",
      { extraConfig: { oom_score: Number.NaN } },
      /is not a TOML value/,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options.SystemdCgroup',
      {
        extraConfig: {
          plugins: {
            "io.containerd.cri.v1.runtime": {
              containerd: { runtimes: { runc: { options: { SystemdCgroup: false } } } },
            },
          },
        },
      },
      /the component sets this key from the systemdCgroup argument; set that instead/,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.cri.v1.images".pinned_images.sandbox',
      { extraConfig: { plugins: { "io.containerd.cri.v1.images": { pinned_images: { sandbox: "pause:1" } } } } },
      /from the sandboxImage argument/,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.cri.v1.runtime".cni.bin_dirs',
      { extraConfig: { plugins: { "io.containerd.cri.v1.runtime": { cni: { bin_dirs: ["/usr/lib/cni"] } } } } },
      /the component renders this key itself .* cannot be overridden/,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options',
      {
        extraConfig: {
          plugins: { "io.containerd.cri.v1.runtime": { containerd: { runtimes: { runc: { options: [] } } } } },
        },
      },
      /cannot be overridden|from the systemdCgroup argument/,
    ],
    [
      "2.1.9",
      "containerdSettings.extraConfig.version",
      { extraConfig: { version: 2 } },
      /the config version, .*cannot be overridden/,
    ],
    [
      "2.1.9",
      'containerdSettings.extraConfig.plugins."io.containerd.cri.v1.images".snapshotter',
      { snapshotter: "native", extraConfig: { plugins: { "io.containerd.cri.v1.images": { snapshotter: "native" } } } },
      /already set by containerdSettings\.snapshotter; set it in one place/,
    ],
  ];
  it.each(cases)("containerd %s: %s", (version, input, settings, message) => {
    expectInvalidInput(
      () => resolveContainerdSettings(settings, { containerdVersion: version, ...BASE }),
      input,
      message,
    );
  });

  it("accepts a proxy snapshotter declared in extraConfig", () => {
    const settings = {
      snapshotter: "stargz",
      extraConfig: {
        proxy_plugins: {
          stargz: { type: "snapshot", address: "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock" },
        },
      },
    };
    expect(resolveContainerdSettings(settings, { containerdVersion: "2.1.9", ...BASE })).toEqual(settings);
  });

  it("nothing given is no settings", () => {
    expect(resolveContainerdSettings(undefined, { containerdVersion: "2.1.9", ...BASE })).toEqual({});
  });
});
