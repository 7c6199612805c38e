/**
 * Generates components/catalog/containerdConfigKeys.json: which config.toml keys each
 * config version has, taken from what real containerd binaries print for
 * `containerd config default` (1.7.24 for version 2, 2.1.9 for version 3,
 * the builds in the e2e release mirror), plus the edits below that the
 * default output cannot show. Version 4 (containerd 2.3+) has no binary
 * here: it is version 3 with the server sections moved as containerd's
 * docs/man/containerd-config.toml.5.md describes.
 *
 *   npm run schema      # rewrites the JSON; tests/e2e/containerdSchema.test.ts checks it still matches
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as TOML from "@iarna/toml";
import * as prettier from "prettier";
import type { SchemaFile, SchemaNode, SchemaTable } from "../components/catalog/containerdSchema";
import { ensureReleases, findArtifact } from "../tests/e2e/mirror";

/** The releases whose `config default` the data is taken from, by config version. */
export const SOURCES = { 2: "1.7.24", 3: "2.1.9" } as const;

export const SCHEMA_JSON = path.join(__dirname, "..", "components", "catalog", "containerdConfigKeys.json");

function shapeOf(value: unknown): SchemaNode {
  if (Array.isArray(value)) return "array";
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, shapeOf(child)]));
  }
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return typeof value as "string" | "number" | "boolean";
  }
  throw new Error(`unexpected TOML value ${String(value)}`);
}

function tableAt(root: SchemaTable, keys: string[]): SchemaTable {
  let node: SchemaNode = root;
  for (const key of keys) {
    if (typeof node !== "object") throw new Error(`${keys.join(".")}: ${key} is not a table`);
    node = node[key] ??= {};
  }
  if (typeof node !== "object") throw new Error(`${keys.join(".")} is not a table`);
  return node;
}

/** A named runtime's keys are those containerd prints for runc; its options are the shim's own. */
function openRuntimes(runtimes: SchemaTable): void {
  const runc = runtimes.runc;
  if (typeof runc !== "object") throw new Error("config default printed no runc runtime");
  delete runtimes.runc;
  runtimes["*"] = { ...runc, options: "any" };
}

/** Tables keyed by names the user picks; containerd prints the ones it ships, if any. */
function openCommonMaps(root: SchemaTable, proxyPlugin: SchemaTable): void {
  root.timeouts = { "*": "string" };
  const processors = tableAt(root, ["stream_processors"]);
  const first = Object.values(processors)[0];
  if (first === undefined) throw new Error("config default printed no stream processor");
  root.stream_processors = { "*": first };
  // Omitted from 2.x's default output when empty, but read by every version.
  root.proxy_plugins = { "*": proxyPlugin };
}

const CRI_1X = ["plugins", "io.containerd.grpc.v1.cri"];
const CRI_IMAGES = ["plugins", "io.containerd.cri.v1.images"];
const CRI_RUNTIME = ["plugins", "io.containerd.cri.v1.runtime"];

export function schema2(configDefault: string): SchemaTable {
  const root = shapeOf(TOML.parse(configDefault)) as SchemaTable;
  openRuntimes(tableAt(root, [...CRI_1X, "containerd", "runtimes"]));
  for (const runtime of ["default_runtime", "untrusted_workload_runtime"]) {
    tableAt(root, [...CRI_1X, "containerd"])[runtime] = {
      ...tableAt(root, [...CRI_1X, "containerd", runtime]),
      options: "any",
    };
  }
  // Per-registry tables (deprecated for config_path, still read by 1.7), keyed by host.
  const registry = tableAt(root, [...CRI_1X, "registry"]);
  for (const map of ["mirrors", "configs", "auths", "headers"]) registry[map] = "any";
  openCommonMaps(root, { type: "string", address: "string", platform: "string" });
  return root;
}

export function schema3(configDefault: string): SchemaTable {
  const root = shapeOf(TOML.parse(configDefault)) as SchemaTable;
  openRuntimes(tableAt(root, [...CRI_RUNTIME, "containerd", "runtimes"]));
  tableAt(root, [...CRI_IMAGES, "pinned_images"])["*"] = "string";
  // Not printed when empty (omitempty), still read by 2.x: the deprecated per-registry
  // tables and the per-runtime-handler platforms.
  const registry = tableAt(root, [...CRI_IMAGES, "registry"]);
  for (const map of ["mirrors", "configs", "auths", "headers"]) registry[map] = "any";
  tableAt(root, CRI_IMAGES).runtime_platforms = "any";
  // Upstream's release builds include the ZFS snapshotter; Debian's, which the data is taken from, does not.
  tableAt(root, ["plugins"])["io.containerd.snapshotter.v1.zfs"] = { root_path: "string" };
  openCommonMaps(root, {
    type: "string",
    address: "string",
    platform: "string",
    exports: "any",
    capabilities: "array",
  });
  return root;
}

/**
 * Version 4 moves `[grpc]`, `[ttrpc]`, `[metrics]` and the listener half of `[debug]`
 * into server plugins; everything else is as in version 3.
 */
export function schema4(version3: SchemaTable): SchemaTable {
  const root = structuredClone(version3);
  const plugins = tableAt(root, ["plugins"]);
  plugins["io.containerd.server.v1.grpc"] = {
    address: "string",
    uid: "number",
    gid: "number",
    max_recv_message_size: "number",
    max_send_message_size: "number",
  };
  plugins["io.containerd.server.v1.grpc-tcp"] = {
    address: "string",
    tls_ca: "string",
    tls_cert: "string",
    tls_key: "string",
    max_recv_message_size: "number",
    max_send_message_size: "number",
  };
  plugins["io.containerd.server.v1.ttrpc"] = { address: "string", uid: "number", gid: "number" };
  plugins["io.containerd.server.v1.debug"] = { address: "string", uid: "number", gid: "number" };
  plugins["io.containerd.server.v1.metrics"] = { address: "string" };
  plugins["io.containerd.metrics.v1.grpc-prometheus"] = { grpc_histogram: "boolean" };
  delete root.grpc;
  delete root.ttrpc;
  delete root.metrics;
  root.debug = { level: "string", format: "string" };
  return root;
}

export function schemaFile(defaults: { 2: string; 3: string }): SchemaFile {
  const version3 = schema3(defaults[3]);
  return {
    sources: {
      2: `containerd ${SOURCES[2]} config default`,
      3: `containerd ${SOURCES[3]} config default`,
      4: `version 3, server sections moved as containerd's docs describe (no 2.3 binary here)`,
    },
    schemas: { 2: schema2(defaults[2]), 3: version3, 4: schema4(version3) },
  };
}

/** `containerd config default` of each source release, run from the e2e mirror's tarballs. */
export async function configDefaults(): Promise<{ 2: string; 3: string }> {
  const releases = await ensureReleases();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "containerd-schema-"));
  try {
    const run = (version: string): string => {
      const into = path.join(dir, version);
      fs.mkdirSync(into);
      execFileSync("tar", ["-xzf", findArtifact(releases, "containerd", version).file, "-C", into]);
      return execFileSync(path.join(into, "bin", "containerd"), ["config", "default"], { encoding: "utf8" });
    };
    return { 2: run(SOURCES[2]), 3: run(SOURCES[3]) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const text = JSON.stringify(schemaFile(await configDefaults()));
  const options = await prettier.resolveConfig(SCHEMA_JSON);
  fs.writeFileSync(SCHEMA_JSON, await prettier.format(text, { ...options, parser: "json" }));
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_JSON)}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
