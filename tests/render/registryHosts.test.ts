import * as TOML from "@iarna/toml";
import { describe, expect, it } from "vitest";
import { resolveRegistries } from "../../components/inputs/options";
import { RegistryHostsInput } from "../../components/args/registryArgs";
import { legacyHeaders } from "../legacyInputs";
import { registryStream, renderHostsToml, renderRegistryFiles } from "../../components/render/registryHosts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2E=\n-----END CERTIFICATE-----\n";

type Table = Record<string, unknown>;

/** Renders the way the component does: validated input first. */
function files(registries: Record<string, RegistryHostsInput>) {
  return renderRegistryFiles(resolveRegistries(registries));
}

describe("renderHostsToml parses back to containerd's hosts.toml keys", () => {
  it.each<[string, RegistryHostsInput, Table]>([
    [
      "a pull-through mirror with the default capabilities",
      { mirrors: [{ host: "https://mirror.internal:5000" }] },
      { host: { "https://mirror.internal:5000": { capabilities: ["pull", "resolve"] } } },
    ],
    [
      "the registry's own server and no mirror",
      { server: "https://registry-1.docker.io" },
      { server: "https://registry-1.docker.io" },
    ],
    [
      "every mirror setting",
      {
        server: "https://registry.example",
        mirrors: [
          {
            host: "https://mirror.internal/v2/cache",
            capabilities: ["pull"],
            caPem: PEM,
            skipVerify: false,
            overridePath: true,
            headers: legacyHeaders({ "X-Mirror-Token": "abc", Accept: ["a", "b"] }),
          },
        ],
      },
      {
        server: "https://registry.example",
        host: {
          "https://mirror.internal/v2/cache": {
            capabilities: ["pull"],
            ca: "/etc/containerd/certs.d/docker.io/ca-0.crt",
            skip_verify: false,
            override_path: true,
            header: { "X-Mirror-Token": "abc", Accept: ["a", "b"] },
          },
        },
      },
    ],
    [
      "an insecure plain-HTTP mirror that may also push",
      { mirrors: [{ host: "http://10.0.0.5:5000", capabilities: ["pull", "resolve", "push"], skipVerify: true }] },
      { host: { "http://10.0.0.5:5000": { capabilities: ["pull", "resolve", "push"], skip_verify: true } } },
    ],
  ])("%s", (_what, input, expected) => {
    const resolved = resolveRegistries({ "docker.io": input });
    const text = renderHostsToml("docker.io", resolved["docker.io"]!);
    expect(TOML.parse(text)).toEqual(expected);
  });

  it("keeps the mirrors in the order given: containerd tries them in file order", () => {
    const hosts = ["https://b.internal", "https://a.internal", "http://c.internal:5000"];
    const resolved = resolveRegistries({ "docker.io": { mirrors: hosts.map((host) => ({ host })) } });
    const text = renderHostsToml("docker.io", resolved["docker.io"]!);
    expect(Object.keys((TOML.parse(text) as { host: Table }).host)).toEqual(hosts);
    // In the text too, not only in the parsed object.
    const positions = hosts.map((host) => text.indexOf(`"${host}"`));
    expect(positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] ?? 0)))).toBe(true);
  });
});

describe("renderRegistryFiles", () => {
  it("gives each registry a hosts.toml and each mirror with a CA its certificate, sorted by registry", () => {
    const rendered = files({
      "registry.k8s.io": { mirrors: [{ host: "https://k8s-mirror.internal", caPem: PEM }] },
      _default: { mirrors: [{ host: "https://all.internal" }] },
      "my.registry:5000": {
        mirrors: [{ host: "https://m1.internal" }, { host: "https://m2.internal", caPem: `\n${PEM.trim()}\r\n` }],
      },
    });
    expect(rendered.map((file) => file.path)).toEqual([
      "_default/hosts.toml",
      "my.registry:5000/hosts.toml",
      "my.registry:5000/ca-1.crt",
      "registry.k8s.io/hosts.toml",
      "registry.k8s.io/ca-0.crt",
    ]);
    const byPath = Object.fromEntries(rendered.map((file) => [file.path, file.content]));
    // The CA file holds the PEM, normalised to end in one newline; hosts.toml points at it by absolute path.
    expect(byPath["my.registry:5000/ca-1.crt"]).toBe(PEM);
    expect(byPath["registry.k8s.io/ca-0.crt"]).toBe(PEM);
    const m2 = (TOML.parse(byPath["my.registry:5000/hosts.toml"] ?? "") as { host: Record<string, Table> }).host;
    expect(m2["https://m1.internal"]?.ca).toBeUndefined();
    expect(m2["https://m2.internal"]?.ca).toBe("/etc/containerd/certs.d/my.registry:5000/ca-1.crt");
    for (const file of rendered) expect(file.content.endsWith("\n")).toBe(true);
  });

  it("the same registries in another key order render the same files", () => {
    const a = files({ "a.io": { server: "https://a.io" }, "b.io": { server: "https://b.io" } });
    const b = files({ "b.io": { server: "https://b.io" }, "a.io": { server: "https://a.io" } });
    expect(a).toEqual(b);
  });

  it("no registries, no files", () => {
    expect(files({})).toEqual([]);
  });
});

describe("registryStream frames the files as plain text lines", () => {
  it("prefixes every content line, so blank lines and lines that look like markers stay content", () => {
    const rendered = [
      { path: "docker.io/hosts.toml", content: 'server = "https://x"\n\n[host."https://y"]\n' },
      { path: "docker.io/ca-0.crt", content: "=== not a marker\n|not content\n" },
    ];
    const stream = registryStream(rendered);
    expect(stream).toBe(
      [
        "=== docker.io/hosts.toml",
        '|server = "https://x"',
        "|",
        '|[host."https://y"]',
        "=== docker.io/ca-0.crt",
        "|=== not a marker",
        "||not content",
        "",
      ].join("\n"),
    );
  });

  it("is empty when there is nothing to write", () => {
    expect(registryStream([])).toBe("");
  });
});

describe("a header named __proto__ (found by tests/hostileInput.test.ts)", () => {
  it("is a header of hosts.toml like any other", () => {
    const headers = JSON.parse('{"__proto__": "v", "X-A": "w"}') as Record<string, string>;
    const registries = resolveRegistries({ "docker.io": { mirrors: [{ host: "https://m.invalid", headers }] } });
    const text = renderHostsToml("docker.io", registries["docker.io"] as never);
    expect(text).toContain('__proto__ = "v"\n');
    expect(text).toContain('X-A = "w"\n');
  });
});
