/**
 * Renders /etc/containerd/config.toml for the chosen containerd version.
 *
 * The file holds only the keys we set; containerd merges it over its own
 * defaults. Keys are placed by the schema of the version that will read them,
 * because containerd silently ignores a key in the wrong place.
 */
import * as TOML from "@iarna/toml";
import { configSchemaFor, ConfigSchema, PATHS, versionNumbers } from "./catalog";
import type { ContainerdSettings } from "./containerdSettings";
import { tomlPath } from "./containerdSchema";

export interface ContainerdConfigOptions {
  /** containerd version that will read the file; picks the schema. */
  containerdVersion: string;
  /** Pinned sandbox (pause) image. */
  sandboxImage: string;
  /** `true` for the systemd cgroup driver, `false` for cgroupfs. */
  systemdCgroup: boolean;
  /** Validated extra settings (see `resolveContainerdSettings`); none by default. */
  settings?: ContainerdSettings;
}

/** A TOML value as it arrives in JavaScript. */
export type TomlValue = TOML.AnyJson;

/** One rendered key: where it goes and which argument set it. */
export interface ConfigEntry {
  path: string[];
  value: TomlValue;
  /** The argument it comes from, e.g. `sandboxImage`; absent for what the component fixes (paths, runc). */
  input?: string;
}

/**
 * A rendered key as `containerd config dump` prints it, whitespace folded:
 * under one of `headers` (none for a top-level key), any one of `lines`
 * proves the key took effect.
 */
export interface ConfigExpectation {
  key: string;
  headers: string[];
  lines: string[];
}

export interface RenderedConfig {
  schema: ConfigSchema;
  text: string;
  /** What `containerd config dump` must show once containerd runs with this file. */
  dumpExpectations: ConfigExpectation[];
}

const RUNC_RUNTIME_TYPE = "io.containerd.runc.v2";

const CRI_1X = ["plugins", "io.containerd.grpc.v1.cri"];
const CRI_IMAGES = ["plugins", "io.containerd.cri.v1.images"];
const CRI_RUNTIME = ["plugins", "io.containerd.cri.v1.runtime"];

/** The tables the CRI keys live in: one plugin in schema 2 (containerd 1.7), images and runtime plugins after. */
function criTables(schema: ConfigSchema): { images: string[]; runtime: string[]; runtimes: string[] } {
  return schema === 2
    ? { images: [...CRI_1X, "containerd"], runtime: CRI_1X, runtimes: [...CRI_1X, "containerd", "runtimes"] }
    : { images: CRI_IMAGES, runtime: CRI_RUNTIME, runtimes: [...CRI_RUNTIME, "containerd", "runtimes"] };
}

/**
 * The keys the component itself renders for a version: sandbox image, runc with its cgroup driver, CNI paths,
 * and the registry hosts directory (see registryHosts.ts).
 */
export function componentEntries(options: ContainerdConfigOptions): ConfigEntry[] {
  const schema = configSchemaFor(options.containerdVersion);
  const [, minor] = versionNumbers(options.containerdVersion);
  const { images, runtime, runtimes } = criTables(schema);
  const runc = [...runtimes, "runc"];
  const cni = [...runtime, "cni"];
  return [
    { path: ["version"], value: schema },
    schema === 2
      ? { path: [...CRI_1X, "sandbox_image"], value: options.sandboxImage, input: "sandboxImage" }
      : { path: [...images, "pinned_images", "sandbox"], value: options.sandboxImage, input: "sandboxImage" },
    { path: [...runc, "runtime_type"], value: RUNC_RUNTIME_TYPE },
    { path: [...runc, "options", "SystemdCgroup"], value: options.systemdCgroup, input: "systemdCgroup" },
    { path: [...runc, "options", "BinaryName"], value: PATHS.runcBinary },
    // `bin_dirs` replaced `bin_dir` in 2.1; 1.7 and 2.0 know only `bin_dir`.
    schema !== 2 && minor >= 1
      ? { path: [...cni, "bin_dirs"], value: [PATHS.cniBinDir] }
      : { path: [...cni, "bin_dir"], value: PATHS.cniBinDir },
    { path: [...cni, "conf_dir"], value: PATHS.cniConfDir },
    // Always set, so adding registries later rewrites hosts files only and never restarts containerd.
    {
      path: [...(schema === 2 ? CRI_1X : CRI_IMAGES), "registry", "config_path"],
      value: PATHS.registryConfigDir,
      input: "registries",
    },
  ];
}

/** The typed settings placed where this schema keeps them. */
export function settingEntries(settings: ContainerdSettings, schema: ConfigSchema): ConfigEntry[] {
  const { images, runtime, runtimes } = criTables(schema);
  const input = (name: string) => `containerdSettings.${name}`;
  const scalar = (name: keyof ContainerdSettings, path: string[]): ConfigEntry[] => {
    const value = settings[name];
    return value === undefined ? [] : [{ path, value: value as TomlValue, input: input(name) }];
  };
  const entries = [
    ...scalar("snapshotter", [...images, "snapshotter"]),
    ...scalar("discardUnpackedLayers", [...images, "discard_unpacked_layers"]),
    ...scalar("maxContainerLogLineSize", [...runtime, "max_container_log_line_size"]),
    ...scalar("enableUnprivilegedPorts", [...runtime, "enable_unprivileged_ports"]),
    ...scalar("enableUnprivilegedIcmp", [...runtime, "enable_unprivileged_icmp"]),
    ...scalar("deviceOwnershipFromSecurityContext", [...runtime, "device_ownership_from_security_context"]),
  ];
  for (const [name, handler] of Object.entries(settings.runtimes ?? {})) {
    const at = [...runtimes, name];
    const from = input(`runtimes.${name}`);
    entries.push({ path: [...at, "runtime_type"], value: handler.runtimeType, input: `${from}.runtimeType` });
    if (handler.runtimePath !== undefined) {
      entries.push({ path: [...at, "runtime_path"], value: handler.runtimePath, input: `${from}.runtimePath` });
    }
    if (handler.podAnnotations !== undefined) {
      entries.push({
        path: [...at, "pod_annotations"],
        value: handler.podAnnotations,
        input: `${from}.podAnnotations`,
      });
    }
    for (const [key, value] of Object.entries(handler.options ?? {})) {
      entries.push({ path: [...at, "options", key], value, input: `${from}.options.${key}` });
    }
  }
  return entries;
}

function isTable(value: unknown): value is TOML.JsonMap {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Every value of a TOML document with its path; arrays are values. */
export function leavesOf(table: TOML.JsonMap, at: string[] = []): ConfigEntry[] {
  return Object.entries(table).flatMap(([key, value]) =>
    isTable(value) ? leavesOf(value, [...at, key]) : [{ path: [...at, key], value }],
  );
}

/**
 * Sets `table[key]` as an own property. A key is the user's (extraConfig's, at any depth), and may be
 * `__proto__`: plain assignment would set the table's prototype, or through a prototype that lookup
 * returned, Object.prototype itself, instead of a key of the file.
 */
function define<T>(table: TOML.JsonMap, key: string, value: T): T {
  Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
  return value;
}

function place(document: TOML.JsonMap, { path, value }: ConfigEntry): void {
  let table = document;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(table, key) ? table[key] : undefined;
    if (next !== undefined && !isTable(next)) throw new Error(`${tomlPath(path)}: ${key} is not a table`);
    table = next ?? define<TOML.JsonMap>(table, key, {});
  }
  const last = path[path.length - 1];
  if (last === undefined || Object.hasOwn(table, last)) throw new Error(`${tomlPath(path)} is rendered twice`);
  define(table, last, value);
}

/**
 * A value as the dump prints it: containerd 1.x writes strings in double quotes, 2.x in single
 * quotes unless the string needs escapes.
 */
function dumpForms(value: TomlValue, quote: "'" | '"'): string | undefined {
  if (typeof value === "string") {
    return quote === "'" && !/['\u0000-\u001f\u007f]/.test(value) ? `'${value}'` : JSON.stringify(value);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    const items = (value as TomlValue[]).map((item) => dumpForms(item, quote));
    return items.every((item) => item !== undefined) ? `[${items.join(", ")}]` : undefined;
  }
  return undefined;
}

function dumpKey(key: string, quote: "'" | '"'): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : `${quote}${key}${quote}`;
}

/** The dump lines for a rendered value; none for an array of tables, which the dump prints as its own sections. */
function expectationFor({ path, value }: ConfigEntry): ConfigExpectation | undefined {
  const table = path.slice(0, -1);
  const key = path[path.length - 1] ?? "";
  const forms = (["'", '"'] as const).map((quote) => ({
    header: table.length === 0 ? "" : `[${table.map((k) => dumpKey(k, quote)).join(".")}]`,
    line: ((v) => (v === undefined ? undefined : `${dumpKey(key, quote)} = ${v}`))(dumpForms(value, quote)),
  }));
  if (forms.some((form) => form.line === undefined)) return undefined;
  // Folded as verify folds the dump (awk's fields: runs of spaces and tabs), or a key or value holding
  // two spaces in a row would never match the dump's line for it.
  const fold = (text: string) => text.replace(/[ \t]+/g, " ").replace(/^ | $/g, "");
  const unique = (values: string[]) => [...new Set(values.map(fold))];
  return {
    key: tomlPath(path),
    headers: table.length === 0 ? [] : unique(forms.map((form) => form.header)),
    lines: unique(forms.map((form) => form.line as string)),
  };
}

export function renderContainerdConfig(options: ContainerdConfigOptions): RenderedConfig {
  const schema = configSchemaFor(options.containerdVersion);
  const settings = options.settings ?? {};
  const entries = [
    ...componentEntries(options),
    ...settingEntries(settings, schema),
    // Validation rejects an extra key that another entry already sets, so `place` never overwrites.
    ...leavesOf(settings.extraConfig ?? {}),
  ];
  const document: TOML.JsonMap = {};
  for (const entry of entries) place(document, entry);
  return {
    schema,
    text: TOML.stringify(document),
    // `version` is how the file is read, not a setting: the dump shows the version containerd migrated to.
    dumpExpectations: entries
      .filter((entry) => entry.path.join(".") !== "version")
      .map(expectationFor)
      .filter((expectation): expectation is ConfigExpectation => expectation !== undefined),
  };
}
